# store_bench [DIR] [DEVICES] [THREADS]: durable claim + audit throughput.
add_executable(store_bench ${CMAKE_CURRENT_SOURCE_DIR}/store_bench.c)
target_link_libraries(store_bench PRIVATE espfab_store Threads::Threads espfab_warnings)
