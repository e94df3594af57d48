# End-to-end tests of per-device identities (espfabd + espfab + espfab-sim).
foreach(scenario batch ca_fail keep_keys rsa)
  add_test(NAME integration_identity_${scenario}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/identity_e2e.sh $<TARGET_FILE_DIR:espfabd> ${scenario})
  set_tests_properties(integration_identity_${scenario} PROPERTIES LABELS integration TIMEOUT 300)
endforeach()
