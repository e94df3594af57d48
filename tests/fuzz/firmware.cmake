# ESP-IDF flasher_args.json: the product's firmware image sets.
espfab_fuzz_target(fwimg SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_fwimg.c
  LIBS espfab_fwimg CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/fwimg)
