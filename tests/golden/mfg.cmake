# mfg_gen.py golden cases: espfab mfg generate against ../shared/golden/mfg.
espfab_golden(mfg mfg)

# `mfg generate-key` is nvs_partition_gen's generate-key: the deterministic
# (HMAC) generate-key cases of the nvs set must pass through `espfab mfg` too.
if(EXISTS ${ESPFAB_SHARED_DIR}/golden/run-cases.sh)
  set(_nvs ${ESPFAB_SHARED_DIR}/golden/nvs)
  add_test(NAME golden_mfg_generate_key
    COMMAND ${ESPFAB_SHARED_DIR}/golden/run-cases.sh "$<TARGET_FILE:espfab> mfg" ${_nvs}
      ${_nvs}/096-enc-generate-key-hmac ${_nvs}/097-enc-generate-key-hmac-noext ${_nvs}/098-enc-generate-key-hmac-missing)
  set_tests_properties(golden_mfg_generate_key PROPERTIES LABELS golden TIMEOUT 120)
endif()
