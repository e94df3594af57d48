# espfab secure-cert on the command line (golden images, errors, dump).
add_test(NAME integration_secure_cert_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/secure_cert_cli.sh $<TARGET_FILE:espfab>
          ${CMAKE_CURRENT_SOURCE_DIR}/data/secure_cert)
set_tests_properties(integration_secure_cert_cli PROPERTIES LABELS integration TIMEOUT 60)

# espfab certs: profile checks and the empty store (issuing: identity_e2e.sh).
add_test(NAME integration_certs_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/certs_cli.sh $<TARGET_FILE:espfab>
          ${PROJECT_SOURCE_DIR}/examples/lamp)
set_tests_properties(integration_certs_cli PROPERTIES LABELS integration TIMEOUT 60)
