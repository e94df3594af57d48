# Installed paths, man pages, completion and version agree (install_paths.sh).
add_test(NAME integration_install_paths
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/install_paths.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR})
set_tests_properties(integration_install_paths PROPERTIES LABELS integration TIMEOUT 180)
