# End-to-end tests of espfabd with real processes (daemon + espfab + espfab-sim on ptys).
foreach(scenario batch drop kill9 control sigterm)
  add_test(NAME integration_daemon_${scenario}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_e2e.sh $<TARGET_FILE_DIR:espfabd> ${scenario})
  set_tests_properties(integration_daemon_${scenario} PROPERTIES LABELS integration TIMEOUT 480)
endforeach()

# espfabd under systemd's interfaces: unit files (systemd-analyze), socket
# activation, sd_notify READY/STATUS/WATCHDOG/STOPPING, journal fields.
add_test(NAME integration_daemon_systemd
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/daemon_systemd.sh $<TARGET_FILE_DIR:espfabd>
          ${CMAKE_BINARY_DIR}/systemd ${CMAKE_SOURCE_DIR}/systemd)
set_tests_properties(integration_daemon_systemd PROPERTIES LABELS integration TIMEOUT 300 SKIP_RETURN_CODE 77)
