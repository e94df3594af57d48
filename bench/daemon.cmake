# espfabd throughput (devices/hour for 1, 8 and 32 simulated boards, per-step
# timings, against bare `espfab flash`). Run: cmake --build build --target bench_daemon
add_custom_target(bench_daemon
  COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/daemon_bench.sh $<TARGET_FILE_DIR:espfabd> 1 8 32
  DEPENDS espfabd espfab espfab-sim
  USES_TERMINAL)
