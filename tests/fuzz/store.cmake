# The store's importers: mfg_gen config + values CSV into an in-memory database.
espfab_fuzz_target(store_import SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_store_import.c
  LIBS espfab_store CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/store_import)
