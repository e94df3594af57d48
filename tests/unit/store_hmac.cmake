# The store's HMAC NVS encryption (schema 005); again on PostgreSQL
# (unit_store_hmac_pg, tests/unit/store_pg.cmake).
espfab_unit_test(store_hmac LIBS espfab_store SQLite::SQLite3)
