# The store's HMAC NVS encryption (schema 005); again on PostgreSQL, where
# the setting is refused.
espfab_unit_test(store_hmac LIBS espfab_store SQLite::SQLite3)
add_test(NAME unit_store_hmac_pg COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_store_hmac>)
set_tests_properties(unit_store_hmac_pg PROPERTIES LABELS "unit;pg" TIMEOUT 300)
