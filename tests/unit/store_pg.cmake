# The store's unit tests again, against the PostgreSQL backend: a server
# started by tests/pg/run_unit.sh for each run (tests/pg/pg_fixture.sh).
# RUN_SERIAL: each starts a server of its own; two at once only compete
# for the two cores.
foreach(m store_claim store_import store_query store_concurrency store_uplink store_mfg store_seal)
  add_test(NAME unit_${m}_pg COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/pg/run_unit.sh $<TARGET_FILE:test_${m}>)
  set_tests_properties(unit_${m}_pg PROPERTIES LABELS "unit;pg" TIMEOUT 300)
endforeach()
