# Stream transports (unix:, tcp://): wire format, round trips, bad peers,
# slow subscribers, two network namespaces.
if(CMOCKA_FOUND)
  fbus_add_c_test(test-frame-wire SOURCES ${FBUS_TEST_DIR}/unit/test-frame-wire.c
    LIBS PkgConfig::CMOCKA TIMEOUT 30)
  fbus_add_c_test(test-stream SOURCES ${FBUS_TEST_DIR}/unit/test-stream.c
    LIBS PkgConfig::CMOCKA m TIMEOUT 90 LABELS tsan)
  fbus_add_c_test(test-stream-badpeer SOURCES ${FBUS_TEST_DIR}/unit/test-stream-badpeer.c
    LIBS PkgConfig::CMOCKA TIMEOUT 60 LABELS tsan)
endif()

# a small pub/sub program for the netns test and for measurements
add_executable(stream_peer ${FBUS_TEST_DIR}/integration/stream_peer.c)
target_link_libraries(stream_peer PRIVATE fbus_testutil m)
fbus_target_warnings(stream_peer)
fbus_add_test(NAME stream-netns TIMEOUT 60
  COMMAND bash ${FBUS_TEST_DIR}/integration/stream_netns.sh $<TARGET_FILE:stream_peer>)
