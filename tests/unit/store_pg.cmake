# The store's unit tests again, against the PostgreSQL backend: a server
# started by tests/pg/run_unit.sh for each run (tests/pg/pg_fixture.sh).
# RUN_SERIAL: each starts a server of its own; two at once only compete
# for the two cores.
foreach(m store_claim store_import store_query store_concurrency store_uplink store_mfg store_seal store_lease
  store_delivery store_cert store_hmac)
  add_test(NAME unit_${m}_pg COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_${m}>)
  set_tests_properties(unit_${m}_pg PROPERTIES LABELS "unit;pg" TIMEOUT 300)
endforeach()

# The PostgreSQL backend's own tests (raw libpq behind the store's back).
add_executable(test_store_pg ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store_pg.c)
target_link_libraries(test_store_pg PRIVATE espfab_store PkgConfig::LIBPQ PkgConfig::CMOCKA espfab_warnings)
target_include_directories(test_store_pg PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_compile_definitions(test_store_pg PRIVATE ESPFAB_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}/data")
set_target_properties(test_store_pg PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit_store_pg COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_store_pg>)
set_tests_properties(unit_store_pg PROPERTIES LABELS "unit;pg" TIMEOUT 300)

# Identities and HMAC keys on PostgreSQL: the schema's rules, the grants,
# stations issuing for one MAC at once.
add_executable(test_store_pg_ident ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store_pg_ident.c)
target_link_libraries(test_store_pg_ident PRIVATE espfab_store PkgConfig::LIBPQ PkgConfig::CMOCKA espfab_warnings)
target_include_directories(test_store_pg_ident PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_compile_definitions(test_store_pg_ident PRIVATE ESPFAB_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}/data")
set_target_properties(test_store_pg_ident PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit_store_pg_ident COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_store_pg_ident>)
set_tests_properties(unit_store_pg_ident PROPERTIES LABELS "unit;pg" TIMEOUT 300)

# One batch shared by several stations (store_pg_batch.c): no waiting on
# each other, room, done at count, the migration of the old counters.
add_executable(test_store_pg_batch ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_store_pg_batch.c)
target_link_libraries(test_store_pg_batch PRIVATE espfab_store PkgConfig::LIBPQ PkgConfig::CMOCKA espfab_warnings)
target_include_directories(test_store_pg_batch PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
target_compile_definitions(test_store_pg_batch PRIVATE ESPFAB_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}/data")
set_target_properties(test_store_pg_batch PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME unit_store_pg_batch COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_store_pg_batch>)
set_tests_properties(unit_store_pg_batch PROPERTIES LABELS "unit;pg" TIMEOUT 300)
