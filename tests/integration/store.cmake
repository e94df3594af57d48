# Integration tests of the store: real processes killed with -9, and the CLI.
add_executable(store_crash_helper ${CMAKE_CURRENT_SOURCE_DIR}/integration/store_crash_helper.c)
target_link_libraries(store_crash_helper PRIVATE espfab_store espfab_warnings)
set_target_properties(store_crash_helper PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME integration_store_crash
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/store_crash.sh $<TARGET_FILE:store_crash_helper> 12)
set_tests_properties(integration_store_crash PROPERTIES LABELS integration TIMEOUT 180)
add_test(NAME integration_store_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/store_cli.sh $<TARGET_FILE:espfab> $<TARGET_FILE:store_crash_helper>)
set_tests_properties(integration_store_cli PROPERTIES LABELS integration TIMEOUT 120)
