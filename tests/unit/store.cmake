# Unit tests of the store area: espfab_unit_test(<module> LIBS ...)
foreach(m store_state store_open store_import store_claim store_seal store_query store_concurrency store_mfg store_durable store_uplink store_delivery)
  espfab_unit_test(${m} LIBS espfab_store SQLite::SQLite3 Threads::Threads)
endforeach()
# Leases (store_lease_*): the PostgreSQL-only role test needs libpq.
espfab_unit_test(store_lease LIBS espfab_store SQLite::SQLite3 PkgConfig::LIBPQ Threads::Threads)
