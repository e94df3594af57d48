# bench_part: partition tables per second in-process (CSV parse + verify +
# encode, and the device read-back lookup the station does per device).
add_executable(bench_part ${CMAKE_CURRENT_SOURCE_DIR}/bench_part.c)
target_link_libraries(bench_part PRIVATE espfab_part espfab_warnings)
