# End-to-end tests of espfabd with real processes (daemon + espfab + espfab-sim on ptys).
foreach(scenario batch drop kill9 control sigterm)
  add_test(NAME integration_daemon_${scenario}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_e2e.sh $<TARGET_FILE_DIR:espfabd> ${scenario})
  set_tests_properties(integration_daemon_${scenario} PROPERTIES LABELS integration TIMEOUT 480)
endforeach()
