# mfg: `espfab mfg generate` over a generated 100,000-row values file, whole
# process, images per second. Run it with
#   cmake --build build --target bench_mfg          (work folder under $TMPDIR)
#   bench/mfg_bench.sh build/bin/espfab 100000 /dev/shm/mfgbench   (tmpfs)
add_custom_target(bench_mfg
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mfg_bench.sh $<TARGET_FILE:espfab> 100000
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/mfg_bench.sh $<TARGET_FILE:espfab> 100000 "" --inputkey ${ESPFAB_SHARED_DIR}/golden/mfg/004-encrypted-inputkey/nvs_keys.bin
  DEPENDS espfab USES_TERMINAL)
