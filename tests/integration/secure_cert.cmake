# espfab secure-cert on the command line (golden images, errors, dump).
add_test(NAME integration_secure_cert_cli
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/secure_cert_cli.sh $<TARGET_FILE:espfab>
          ${CMAKE_CURRENT_SOURCE_DIR}/data/secure_cert)
set_tests_properties(integration_secure_cert_cli PROPERTIES LABELS integration TIMEOUT 60)
