# espfab-sim's eFuse controller: register write sequences and eFuse files.
espfab_fuzz_target(simdev_efuse
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_simdev_efuse.c ${PROJECT_SOURCE_DIR}/protocol/sim/simdev_efuse.c
          ${PROJECT_SOURCE_DIR}/protocol/efuse.c
  LIBS espfab_common
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/simdev_efuse)
if(ESPFAB_FUZZ)
  target_include_directories(fuzz_simdev_efuse PRIVATE ${PROJECT_SOURCE_DIR}/protocol/sim ${PROJECT_SOURCE_DIR}/protocol/include)
endif()
