# Fuzzers of the nvs area: the CSV reader and CSV -> image generation.
espfab_fuzz_target(csv SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_csv.c LIBS espfab_nvsgen
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/csv)
espfab_fuzz_target(nvs_gen SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_nvs_gen.c LIBS espfab_nvsgen
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/nvs_gen)
# Python's int() (common/pyint.c), which every reader of the reference's text shares.
espfab_fuzz_target(pyint SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_pyint.c LIBS espfab_common
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/pyint)
