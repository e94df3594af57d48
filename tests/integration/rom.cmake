# espfabd over several chip families, as their ROMs really answer (issue 10).
add_test(NAME integration_daemon_chips
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_e2e.sh $<TARGET_FILE_DIR:espfabd> chips)
set_tests_properties(integration_daemon_chips PROPERTIES LABELS integration TIMEOUT 480)

# espfab flash against every chip family espfab-sim models.
add_test(NAME integration_rom_chips
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/rom_chips.sh $<TARGET_FILE:espfab> $<TARGET_FILE:espfab-sim>)
set_tests_properties(integration_rom_chips PROPERTIES LABELS integration TIMEOUT 300)
