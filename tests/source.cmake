# Tests of `framebus source` (issue #3): the synthetic scene and its ground
# truth (unit), and the subcommand end to end (integration scripts, with
# fixtures generated at test time by the ffmpeg CLI).
if(CMOCKA_FOUND)
  fbus_add_c_test(test-synthetic SOURCES ${FBUS_TEST_DIR}/unit/test-synthetic.c
    LIBS fbus_media PkgConfig::CMOCKA TIMEOUT 60)
endif()

# Subscriber/raw-hash helper shared by the scripts below.
add_executable(source_sub ${FBUS_TEST_DIR}/integration/source_sub.c)
target_include_directories(source_sub PRIVATE ${PROJECT_SOURCE_DIR}/src/media)
target_link_libraries(source_sub PRIVATE framebus_static)
fbus_target_warnings(source_sub)

foreach(t file synthetic errors pacing images)
  fbus_add_test(NAME source-${t}
    COMMAND bash ${FBUS_TEST_DIR}/integration/source_${t}.sh
            ${FBUS_CLI_PATH} $<TARGET_FILE:source_sub>
    TIMEOUT 60 LABELS source)
endforeach()
