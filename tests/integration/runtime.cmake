# The control socket across restarts of the service (runtime_dir.sh).
add_test(NAME integration_runtime_dir
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/runtime_dir.sh $<TARGET_FILE_DIR:espfabd> ${CMAKE_BINARY_DIR}/systemd)
set_tests_properties(integration_runtime_dir PROPERTIES LABELS integration TIMEOUT 120)
