# store_pg_bench DB STATIONS CLAIMS: claims/s with station processes; run
# it through bench/store_pg.sh (starts a PostgreSQL server, compares SQLite).
add_executable(store_pg_bench ${CMAKE_CURRENT_SOURCE_DIR}/store_pg_bench.c)
target_link_libraries(store_pg_bench PRIVATE espfab_store m espfab_warnings)
