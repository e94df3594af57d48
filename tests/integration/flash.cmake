# espfab flash against espfab-sim, over a pty and over TCP (real processes,
# bounded, every process killed at the end).
foreach(mode pty tcp)
  add_test(NAME integration_flash_${mode}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/flash_cli.sh $<TARGET_FILE:espfab> $<TARGET_FILE:espfab-sim> ${mode})
  set_tests_properties(integration_flash_${mode} PROPERTIES LABELS integration TIMEOUT 300)
endforeach()

# A socket:// port whose name server never answers: bounded by the deadline.
add_test(NAME integration_tcp_resolver
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/tcp_resolver.sh $<TARGET_FILE:espfab>)
set_tests_properties(integration_tcp_resolver PROPERTIES LABELS integration TIMEOUT 120 SKIP_RETURN_CODE 77)
