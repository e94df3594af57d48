# libFuzzer harness for the esp_secure_cert walker behind `espfab secure-cert
# dump`. The module's sources are compiled in so they get coverage.
espfab_fuzz_target(seccert_parse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_seccert_parse.c ${PROJECT_SOURCE_DIR}/nvsgen/seccert.c
          ${PROJECT_SOURCE_DIR}/nvsgen/seccert_pem.c
  LIBS espfab_seccert
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/seccert_parse)

# The identity profile parser (espfab certs profile; the daemon per device).
espfab_fuzz_target(seccert_profile
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_seccert_profile.c ${PROJECT_SOURCE_DIR}/nvsgen/seccert_issue.c
  LIBS espfab_seccert
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/seccert_profile)
