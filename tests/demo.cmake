# Tests of accuracy reporting (src/detect/eval.c, `framebus infer` on frames
# with ground truth) and of `framebus demo`.

if(CMOCKA_FOUND)
  fbus_add_c_test(test-eval SOURCES ${FBUS_TEST_DIR}/unit/test-eval.c
    LIBS fbus_detect PkgConfig::CMOCKA m TIMEOUT 30)
endif()

# Fixture: a still picture with ground truth of the test's choosing.
add_executable(demo-gtpub ${FBUS_TEST_DIR}/integration/demo_gtpub.c)
target_include_directories(demo-gtpub PRIVATE ${PROJECT_SOURCE_DIR}/src/media)
target_link_libraries(demo-gtpub PRIVATE fbus_testutil)
fbus_target_warnings(demo-gtpub)

set(FBUS_DEMO_ENV
  "DEMO_GTPUB=$<TARGET_FILE:demo-gtpub>"
  "INFER_MKWEIGHTS=$<TARGET_FILE:infer-mkweights>"
  "INFER_TESTPUB=$<TARGET_FILE:infer-testpub>"
  "INFER_TINY_CFG=${FBUS_TEST_DIR}/integration/infer_tiny.cfg"
  "FBUS_SOURCE_DIR=${PROJECT_SOURCE_DIR}")

# fbus_add_demo_test(name script [TIMEOUT s] [LABELS ...]): a script test with FBUS_DEMO_ENV.
macro(fbus_add_demo_test name script)
  fbus_add_script_test(${name} ${script} ${ARGN} ENV ${FBUS_DEMO_ENV})
endmacro()

# Accuracy plumbing with the tiny generated net: infer's mAP is recomputed
# independently from its JSON lines.
fbus_add_demo_test(infer-accuracy infer_accuracy.sh TIMEOUT 60)
# ONNX: the input size read from the file, the bundled-model lookup.
fbus_add_demo_test(infer-onnx infer_onnx.sh TIMEOUT 60)
fbus_add_demo_test(demo-cli demo_cli.sh TIMEOUT 120 HEAVY)
# The bundled model end to end: mAP@0.5 >= 0.85 (skips until it exists).
fbus_add_demo_test(demo-map demo_map.sh TIMEOUT 90 HEAVY)
