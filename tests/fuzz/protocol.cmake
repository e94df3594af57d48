# libFuzzer harnesses for protocol/: the ROM response parser and the whole
# client fed with random device bytes. The protocol sources are compiled into
# the harness itself so libFuzzer's coverage instrumentation reaches them
# (the espfab_protocol library is built without it).
file(GLOB FUZZ_PROTOCOL_SOURCES CONFIGURE_DEPENDS
  ${CMAKE_SOURCE_DIR}/protocol/*.c ${CMAKE_SOURCE_DIR}/protocol/transport/*.c)
espfab_fuzz_target(rom_response
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_rom_response.c ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rom_fakeport.c
          ${FUZZ_PROTOCOL_SOURCES}
  LIBS espfab_common PkgConfig::SERIALPORT OpenSSL::Crypto ZLIB::ZLIB Threads::Threads
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/rom_response)
if(TARGET fuzz_rom_response)
  target_include_directories(fuzz_rom_response PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit
    ${CMAKE_SOURCE_DIR}/protocol/include ${CMAKE_SOURCE_DIR}/protocol ${CMAKE_SOURCE_DIR}/protocol/transport)
endif()
