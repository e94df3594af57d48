# espfab part on the command line: output handling, error lines, `part show`.
add_test(NAME integration_part_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/part_cli.sh $<TARGET_FILE:espfab>)
set_tests_properties(integration_part_cli PROPERTIES LABELS integration TIMEOUT 60)
