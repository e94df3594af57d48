# Fuzzers of the daemon area: the control-socket request parser and the
# espfabd.conf parser. Their sources are compiled into the harness so
# libFuzzer's coverage instrumentation reaches them.
espfab_fuzz_target(control_proto
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_control_proto.c ${PROJECT_SOURCE_DIR}/daemon/ctl/ctl_msg.c
  LIBS PkgConfig::JANSSON espfab_common
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/control_proto)
if(ESPFAB_FUZZ)
  target_include_directories(fuzz_control_proto PRIVATE ${PROJECT_SOURCE_DIR}/daemon/ctl)
endif()
espfab_fuzz_target(config
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_config.c ${PROJECT_SOURCE_DIR}/daemon/ctl/config.c
  LIBS espfab_protocol
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/config)
if(ESPFAB_FUZZ)
  target_include_directories(fuzz_config PRIVATE ${PROJECT_SOURCE_DIR}/daemon/ctl ${CMAKE_BINARY_DIR}/generated)
endif()
espfab_fuzz_target(outbox_journal
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_outbox_journal.c ${PROJECT_SOURCE_DIR}/daemon/espfabd/outbox_journal.c
  LIBS ZLIB::ZLIB
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/outbox_journal)
if(ESPFAB_FUZZ)
  target_include_directories(fuzz_outbox_journal PRIVATE ${PROJECT_SOURCE_DIR}/daemon/espfabd ${PROJECT_SOURCE_DIR}/daemon/ctl
    ${PROJECT_SOURCE_DIR}/daemon/store/include ${PROJECT_SOURCE_DIR}/nvsgen/include ${PROJECT_SOURCE_DIR}/protocol/include
    ${PROJECT_SOURCE_DIR}/common/include ${CMAKE_BINARY_DIR}/generated)
endif()
