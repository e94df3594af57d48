# libFuzzer harnesses for the partition-table parsers (CSV text and binary /
# device read-back bytes). Seeds in fuzz/corpus/part_csv and part_bin.
espfab_fuzz_target(part_csv SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_part_csv.c LIBS espfab_part
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/part_csv)
espfab_fuzz_target(part_bin SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_part_bin.c LIBS espfab_part
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/part_bin)
