# bench_nvs_decode: images decoded per second (the daemon's read-back check).
add_executable(bench_nvs_decode ${CMAKE_CURRENT_SOURCE_DIR}/bench_nvs_decode.c)
target_link_libraries(bench_nvs_decode PRIVATE espfab_nvsgen espfab_warnings)
