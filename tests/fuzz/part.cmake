# libFuzzer harnesses for the partition-table parsers (CSV text and binary /
# device read-back bytes). Seeds in fuzz/corpus/part_csv and part_bin.
#
# The module's sources are compiled into each harness (not linked from the
# espfab_part archive) so that -fsanitize=fuzzer instruments them: linked from
# the archive, the parser would carry no coverage counters and libFuzzer would
# be mutating blind (cov 7 instead of several hundred).
file(GLOB PART_FUZZ_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/nvsgen/part*.c)
foreach(h part_csv part_bin)
  espfab_fuzz_target(${h} SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_${h}.c ${PART_FUZZ_SOURCES}
    LIBS espfab_common OpenSSL::Crypto CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/${h})
  if(TARGET fuzz_${h})
    target_include_directories(fuzz_${h} PRIVATE ${CMAKE_SOURCE_DIR}/nvsgen/include)
  endif()
endforeach()
