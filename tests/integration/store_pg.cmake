# Stations sharing one PostgreSQL inventory: concurrency, kill -9, server
# restart (tests/pg/stations.sh starts its own server).
add_executable(pg_station ${CMAKE_CURRENT_SOURCE_DIR}/pg/pg_station.c)
target_link_libraries(pg_station PRIVATE espfab_store espfab_warnings)
set_target_properties(pg_station PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
add_test(NAME integration_store_pg_stations
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/stations.sh $<TARGET_FILE:espfab> $<TARGET_FILE:pg_station>)
set_tests_properties(integration_store_pg_stations PROPERTIES LABELS "integration;pg" TIMEOUT 300)

# espfabd on PostgreSQL with the server stopped mid-batch (tests/pg/daemon_pg.sh).
add_test(NAME integration_daemon_pg_outage
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/daemon_pg.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_daemon_pg_outage PROPERTIES LABELS "integration;pg" TIMEOUT 300)

# espfabd killed during an outage: its held results survive in the outbox
# journal and reach the server after the restart (tests/pg/daemon_pg_restart.sh).
add_test(NAME integration_daemon_pg_restart
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/daemon_pg_restart.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_daemon_pg_restart PROPERTIES LABELS "integration;pg" TIMEOUT 300)
# The same with HMAC NVS encryption: the held results keep their HMAC bits
# through the journal, so every device's key row ends "done".
add_test(NAME integration_daemon_pg_restart_hmac
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/daemon_pg_restart.sh $<TARGET_FILE_DIR:espfabd> hmac)
set_tests_properties(integration_daemon_pg_restart_hmac PROPERTIES LABELS "integration;pg" TIMEOUT 300)

# HMAC NVS encryption and per-device identities end to end with the store on
# PostgreSQL: hmac_e2e.sh's and identity_e2e.sh's scenarios there.
add_test(NAME integration_hmac_pg COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/hmac_pg.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_hmac_pg PROPERTIES LABELS "integration;pg" TIMEOUT 600)
add_test(NAME integration_identity_pg COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/identity_pg.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_identity_pg PROPERTIES LABELS "integration;pg" TIMEOUT 600)

# A station's lease: espfab records release-lease (roles, audit) and
# espfabd's lease = N (filled, kept by a dead station, given back) (tests/pg/lease_pg.sh).
add_test(NAME integration_lease_pg COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/lease_pg.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_lease_pg PROPERTIES LABELS "integration;pg" TIMEOUT 300)

# A held result sent again after a crash lost its "delivered" mark is stored
# once (issue 11, tests/pg/daemon_pg_once.sh).
add_test(NAME integration_daemon_pg_once
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/pg/daemon_pg_once.sh $<TARGET_FILE_DIR:espfabd>)
set_tests_properties(integration_daemon_pg_once PROPERTIES LABELS "integration;pg" TIMEOUT 300)
