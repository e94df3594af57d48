# espfab flash efuse-summary against espfab-sim's eFuse controller (real
# processes over a pty, eFuses prepared in the simulator's file).
add_test(NAME integration_efuse_summary
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/efuse_cli.sh $<TARGET_FILE:espfab> $<TARGET_FILE:espfab-sim>)
set_tests_properties(integration_efuse_summary PROPERTIES LABELS integration TIMEOUT 120)

# espefuse (esptool v4.8.1, never committed) burns the same key into the
# simulator and into its own virtual eFuses; the results must equal what
# espfab burns, byte for byte. Skipped (77) unless ESPTOOL_DIR is set.
add_executable(efuse_burn_helper ${CMAKE_CURRENT_SOURCE_DIR}/integration/efuse_burn_helper.c)
target_link_libraries(efuse_burn_helper PRIVATE espfab_protocol espfab_warnings)
set_target_properties(efuse_burn_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME integration_efuse_espefuse
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/efuse_espefuse.sh
          $<TARGET_FILE:efuse_burn_helper> $<TARGET_FILE:espfab-sim> ${CMAKE_BINARY_DIR}/integration/espefuse)
set_tests_properties(integration_efuse_espefuse PROPERTIES LABELS integration TIMEOUT 900 SKIP_RETURN_CODE 77)

# NVS encryption with the HMAC eFuse scheme, end to end: espfabd and
# espfab-sim boards (hmac_e2e.sh lists the scenarios).
foreach(scenario batch refusals rework drops)
  add_test(NAME integration_hmac_${scenario}
    COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/hmac_e2e.sh $<TARGET_FILE_DIR:espfabd> ${scenario})
  set_tests_properties(integration_hmac_${scenario} PROPERTIES LABELS integration TIMEOUT 300)
endforeach()
