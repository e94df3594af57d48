# End-to-end: a product with ESP-IDF firmware images, provisioned by espfabd onto espfab-sim devices.
add_test(NAME integration_firmware_e2e
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/firmware_e2e.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_firmware_e2e PROPERTIES LABELS integration TIMEOUT 300)
