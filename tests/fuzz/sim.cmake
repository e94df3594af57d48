# Fuzz the virtual ESP32's request parser: random host bytes never crash it.
# The engine and SLIP sources are compiled into the harness itself so that
# libFuzzer's coverage instrumentation reaches them (the libraries are built
# without it).
espfab_fuzz_target(simdev
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_simdev.c
          ${PROJECT_SOURCE_DIR}/protocol/sim/simdev.c
          ${PROJECT_SOURCE_DIR}/protocol/sim/simdev_regs.c
          ${PROJECT_SOURCE_DIR}/protocol/sim/simdev_out.c
          ${PROJECT_SOURCE_DIR}/protocol/slip.c
  LIBS espfab_simdev
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/simdev)
