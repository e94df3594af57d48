# bench_nvs: in-memory NVS image generation rate (plain and encrypted).
add_executable(bench_nvs ${CMAKE_CURRENT_SOURCE_DIR}/bench_nvs.c)
target_link_libraries(bench_nvs PRIVATE espfab_nvsgen espfab_warnings)
