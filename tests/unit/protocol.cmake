# Unit tests of protocol/ (SLIP, ROM client, transports) and the simulator engine.
espfab_unit_test(slip LIBS espfab_protocol)
espfab_unit_test(rom LIBS espfab_protocol SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rom_fakeport.c)
espfab_unit_test(reset LIBS espfab_protocol SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rom_fakeport.c)
espfab_unit_test(transport LIBS espfab_protocol)
espfab_unit_test(flashop LIBS espfab_protocol SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rom_fakeport.c)
espfab_unit_test(flashop_sim LIBS espfab_simdev espfab_protocol)
espfab_unit_test(rom_transcripts LIBS espfab_protocol SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_rom_fakeport.c)
