# Replies, events, uplink bodies and espfab --json outputs against schemas/
# (schemas_check.py, python3-jsonschema).
add_test(NAME integration_schemas
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/schemas_check.py $<TARGET_FILE_DIR:espfabd>
          ${CMAKE_SOURCE_DIR}/schemas ${CMAKE_SOURCE_DIR}/examples/lamp)
set_tests_properties(integration_schemas PROPERTIES LABELS integration TIMEOUT 300)
