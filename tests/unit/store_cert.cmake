# Unit tests of the store's identity tables (schema 004).
espfab_unit_test(store_cert LIBS espfab_store SQLite::SQLite3 Threads::Threads)
target_include_directories(test_store_cert PRIVATE ${PROJECT_SOURCE_DIR}/daemon/store)
