# Per-device identity cost: bench_seccert CA_CERT CA_KEY [N]
# (e.g. with tests/data/secure_cert/ca_cert.pem ca_key.pem).
add_executable(bench_seccert ${CMAKE_CURRENT_SOURCE_DIR}/bench_seccert.c)
target_link_libraries(bench_seccert PRIVATE espfab_seccert espfab_warnings)
