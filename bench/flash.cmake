# Flash benchmarks: bench/flash_bench.sh prints whole-process times against
# espfab-sim and runs bench_flash_parallel (N devices, one process, threads).
add_executable(bench_flash_parallel ${CMAKE_CURRENT_SOURCE_DIR}/flash_parallel.c)
target_link_libraries(bench_flash_parallel PRIVATE espfab_protocol espfab_warnings Threads::Threads)
set_target_properties(bench_flash_parallel PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)

# Identification cost per chip family on the simulator's timing model.
add_executable(bench_ident ${CMAKE_CURRENT_SOURCE_DIR}/ident_bench.c)
target_link_libraries(bench_ident PRIVATE espfab_simdev espfab_protocol espfab_warnings)
set_target_properties(bench_ident PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/bench)
