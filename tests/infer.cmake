# Tests of `framebus infer` and the detector (src/detect, display, record).
# Unit tests need cmocka; everything running a network needs OpenCV; the
# darknet cross-check needs Debian's darknet package (skips without it).
if(CMOCKA_FOUND)
  fbus_add_c_test(test-yolo-post SOURCES ${FBUS_TEST_DIR}/unit/test-yolo-post.c
    LIBS fbus_detect PkgConfig::CMOCKA m TIMEOUT 30)
  fbus_add_c_test(test-letterbox SOURCES ${FBUS_TEST_DIR}/unit/test-letterbox.c
    LIBS fbus_detect PkgConfig::CMOCKA m TIMEOUT 30)
endif()

# Fixtures: random Darknet weights for any cfg, and a publisher of a
# synthetic scene in any pixel format over any transport.
add_executable(infer-mkweights ${FBUS_TEST_DIR}/integration/infer_mkweights.c)
target_link_libraries(infer-mkweights PRIVATE fbus_detect m)
fbus_target_warnings(infer-mkweights)

add_executable(infer-testpub ${FBUS_TEST_DIR}/integration/infer_testpub.c)
target_link_libraries(infer-testpub PRIVATE fbus_testutil m)
fbus_target_warnings(infer-testpub)

set(FBUS_INFER_ENV
  "INFER_MKWEIGHTS=$<TARGET_FILE:infer-mkweights>"
  "INFER_TESTPUB=$<TARGET_FILE:infer-testpub>"
  "INFER_TINY_CFG=${FBUS_TEST_DIR}/integration/infer_tiny.cfg")

# fbus_add_infer_test(name script [TIMEOUT s] [LABELS ...]): a script test with FBUS_INFER_ENV.
macro(fbus_add_infer_test name script)
  fbus_add_script_test(${name} ${script} ${ARGN} ENV ${FBUS_INFER_ENV})
endmacro()

fbus_add_infer_test(infer-cli infer_cli.sh TIMEOUT 60)
fbus_add_infer_test(infer-e2e infer_e2e.sh TIMEOUT 90 HEAVY)
fbus_add_infer_test(infer-reconnect infer_reconnect.sh TIMEOUT 60 HEAVY)
fbus_add_infer_test(infer-record infer_record.sh TIMEOUT 60)
# SDL/X11 under ASan reports the X libraries' own leaks; the window path
# is plain C already covered by the other tests.
fbus_add_infer_test(infer-window infer_window.sh TIMEOUT 60 LABELS noasan)

# Cross-check against an implementation no one here wrote: libdarknet.
find_library(DARKNET_LIB darknet PATHS /usr/lib/darknet NO_DEFAULT_PATH)
find_path(DARKNET_INCLUDE darknet.h PATHS /usr/lib/darknet/include NO_DEFAULT_PATH)
if(DARKNET_LIB AND DARKNET_INCLUDE AND OpenCV_FOUND)
  add_executable(infer-darknet-check ${FBUS_TEST_DIR}/integration/infer_darknet_check.c)
  # darknet.h is not warning-clean; it is someone else's header.
  target_include_directories(infer-darknet-check SYSTEM PRIVATE ${DARKNET_INCLUDE})
  target_link_libraries(infer-darknet-check PRIVATE fbus_detect ${DARKNET_LIB} m)
  set_target_properties(infer-darknet-check PROPERTIES
    BUILD_RPATH /usr/lib/darknet)
  fbus_target_warnings(infer-darknet-check)
  fbus_add_test(NAME infer-darknet-crosscheck
    COMMAND infer-darknet-check /usr/share/darknet/cfg/yolov3-tiny.cfg
            ${CMAKE_CURRENT_BINARY_DIR}/tmp/infer-darknet
            $<TARGET_FILE:infer-mkweights>
    TIMEOUT 120 LABELS noasan)
else()
  message(STATUS "framebus: darknet (Debian package) not found — the infer cross-check test is not built")
endif()

# Benchmark of the pre-process alone (docs/PERFORMANCE.md section 3); not a test.
add_executable(infer-bench-pre ${FBUS_TEST_DIR}/integration/infer_bench_pre.c)
target_link_libraries(infer-bench-pre PRIVATE fbus_detect)
fbus_target_warnings(infer-bench-pre)
