# espfab flash efuse-summary against espfab-sim's eFuse controller (real
# processes over a pty, eFuses prepared in the simulator's file).
add_test(NAME integration_efuse_summary
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/efuse_cli.sh $<TARGET_FILE:espfab> $<TARGET_FILE:espfab-sim>)
set_tests_properties(integration_efuse_summary PROPERTIES LABELS integration TIMEOUT 120)
