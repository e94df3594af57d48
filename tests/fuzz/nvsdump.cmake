# libFuzzer harness for the NVS image decoder behind `espfab nvs dump`.
# The decoder's source is compiled into the harness so it gets libFuzzer's
# coverage instrumentation (the static library is built without it).
espfab_fuzz_target(nvs_decode
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_nvs_decode.c ${PROJECT_SOURCE_DIR}/nvsgen/nvs_decode.c
          ${PROJECT_SOURCE_DIR}/nvsgen/nvs_decode_page.c ${PROJECT_SOURCE_DIR}/nvsgen/nvs_decode_values.c
  LIBS espfab_nvsgen
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/nvs_decode)

# libFuzzer harness for the mfg batch parser (config + values CSVs). The
# mfg sources are compiled in for coverage, like the decoder above.
espfab_fuzz_target(mfg_batch
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_mfg_batch.c ${PROJECT_SOURCE_DIR}/nvsgen/mfg.c
          ${PROJECT_SOURCE_DIR}/nvsgen/mfg_read.c ${PROJECT_SOURCE_DIR}/nvsgen/mfg_check.c
          ${PROJECT_SOURCE_DIR}/nvsgen/mfg_out.c
  LIBS espfab_nvsgen
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/mfg_batch)
