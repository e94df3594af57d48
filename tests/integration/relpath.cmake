# Relative paths on every program's command line (espfab, espfabd, espfab-sim).
add_test(NAME integration_relpath
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/relpath.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_relpath PROPERTIES LABELS integration TIMEOUT 180)
