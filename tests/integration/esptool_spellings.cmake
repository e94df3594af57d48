# espfab flash with esptool's spellings against espfab-sim (esptool_spellings.sh).
add_test(NAME integration_esptool_spellings
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/esptool_spellings.sh $<TARGET_FILE:espfab> $<TARGET_FILE:espfab-sim>)
set_tests_properties(integration_esptool_spellings PROPERTIES LABELS integration TIMEOUT 300)
