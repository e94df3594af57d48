# The store's unit tests again, against the PostgreSQL backend: a server
# started by tests/pg/run_unit.sh for each run (tests/pg/pg_fixture.sh).
# RUN_SERIAL: each starts a server of its own; two at once only compete
# for the two cores.
foreach(m store_claim store_import store_query store_concurrency store_uplink store_mfg store_seal store_lease
  store_delivery store_cert store_hmac)
  add_test(NAME unit_${m}_pg COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_${m}>)
  set_tests_properties(unit_${m}_pg PROPERTIES LABELS "unit;pg" TIMEOUT 300)
endforeach()

# The PostgreSQL backend's own tests (raw libpq behind the store's back,
# tests/unit/pg_raw.h), each on a server of its own:
#   test_store_pg        the triggers, grants, migration, reconnects;
#   test_store_pg_ident  identities and HMAC keys: the schema's rules, the
#                        grants, stations issuing for one MAC at once;
#   test_store_pg_batch  one batch shared by several stations
#                        (store_pg_batch.c): no waiting on each other, room,
#                        done at count, the migration of the old counters.
foreach(t test_store_pg test_store_pg_ident test_store_pg_batch)
  string(REPLACE "test_" "unit_" name ${t})
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/unit/${t}.c)
  target_link_libraries(${t} PRIVATE espfab_store PkgConfig::LIBPQ PkgConfig::CMOCKA espfab_warnings)
  target_include_directories(${t} PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/unit)
  target_compile_definitions(${t} PRIVATE ESPFAB_TEST_DATA="${CMAKE_CURRENT_SOURCE_DIR}/data")
  set_target_properties(${t} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:${t}>)
  set_tests_properties(${name} PROPERTIES LABELS "unit;pg" TIMEOUT 300)
endforeach()
