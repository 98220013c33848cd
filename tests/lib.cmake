# Tests of libframebus core (issue "libframebus core"): unit tests (cmocka)
# for the pure parts, multi-process tests (fork) for the shm transport.
if(CMOCKA_FOUND)
  fbus_add_c_test(test-core-units SOURCES ${FBUS_TEST_DIR}/unit/test-core-units.c
    LIBS PkgConfig::CMOCKA LABELS lib unit)
else()
  message(WARNING "cmocka missing: unit tests not built (run scripts/deps.sh)")
endif()
fbus_add_c_test(test-shm-stress SOURCES ${FBUS_TEST_DIR}/integration/test-shm-stress.c
  LABELS lib shm TIMEOUT 300)
fbus_add_c_test(test-shm-liveness SOURCES ${FBUS_TEST_DIR}/integration/test-shm-liveness.c
  LABELS lib shm TIMEOUT 180)
fbus_add_c_test(test-shm-threads SOURCES ${FBUS_TEST_DIR}/integration/test-shm-threads.c
  LIBS Threads::Threads LABELS lib shm tsan TIMEOUT 180)

# The header compiles alone, as C and as C++.
add_library(test-header-c OBJECT ${FBUS_TEST_DIR}/unit/header-c.c)
target_include_directories(test-header-c PRIVATE ${PROJECT_SOURCE_DIR}/include)
fbus_target_warnings(test-header-c)
add_library(test-header-cxx OBJECT ${FBUS_TEST_DIR}/unit/header-cxx.cpp)
target_include_directories(test-header-cxx PRIVATE ${PROJECT_SOURCE_DIR}/include)
fbus_target_warnings(test-header-cxx)

# Exported symbols of libframebus.so are exactly the public API.
fbus_add_test(NAME test-abi-symbols
  COMMAND bash ${FBUS_TEST_DIR}/integration/abi_symbols.sh $<TARGET_FILE:framebus>
          ${PROJECT_SOURCE_DIR}/include/framebus.h
  LABELS lib noasan)
# cmake --install gives a usable library: pkg-config and find_package work.
fbus_add_test(NAME test-install
  COMMAND bash ${FBUS_TEST_DIR}/integration/install_test.sh ${PROJECT_BINARY_DIR} ${PROJECT_SOURCE_DIR}
  LABELS lib noasan TIMEOUT 300)
# framebus ls / bench smoke tests through the CLI
add_executable(bus_helper ${FBUS_TEST_DIR}/integration/bus_helper.c)
target_link_libraries(bus_helper PRIVATE framebus_static)
fbus_target_warnings(bus_helper)
fbus_add_test(NAME test-cli-ls-bench
  COMMAND bash ${FBUS_TEST_DIR}/integration/cli_ls_bench.sh ${FBUS_CLI_PATH} $<TARGET_FILE:bus_helper>
  LABELS lib cli)

# Not a test: the platform's floor for a cross-process futex wake-up, quoted
# in docs/PERFORMANCE.md beside `framebus bench` (build/tests/futex_floor).
add_executable(futex_floor ${FBUS_TEST_DIR}/integration/futex_floor.c)
fbus_target_warnings(futex_floor)

# The contract of framebus.h, one suite run once per transport.  A new
# transport adds its name here and one line to transports[] in the suite.
if(CMOCKA_FOUND)
  add_executable(conformance ${FBUS_TEST_DIR}/conformance/conformance.c)
  target_link_libraries(conformance PRIVATE fbus_testutil PkgConfig::CMOCKA Threads::Threads)
  fbus_target_warnings(conformance)
  add_dependencies(tsan-tests conformance)
  foreach(transport shm unix tcp)
    fbus_add_test(NAME conformance-${transport} COMMAND conformance ${transport}
      LABELS lib conformance tsan TIMEOUT 240)
  endforeach()
endif()

# The ctypes binding in models/ (it feeds the training) mirrors the header.
# Debian's python3 (python3-pytest, python3-numpy), not one earlier on PATH.
add_executable(abi_layout ${FBUS_TEST_DIR}/integration/abi_layout.c)
target_link_libraries(abi_layout PRIVATE framebus_static)
fbus_target_warnings(abi_layout)
fbus_add_test(NAME test-ctypes-abi
  COMMAND /usr/bin/python3 -m pytest -q -p no:cacheprovider ${FBUS_TEST_DIR}/python
  ENV "FBUS_ABI_LAYOUT=$<TARGET_FILE:abi_layout>" LABELS lib noasan TIMEOUT 60)
