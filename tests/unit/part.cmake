# Unit tests of the part area (nvsgen/part*.c): one executable per module file.
foreach(m part_util part_names part_csv part_bin part_verify part_find part_table)
  espfab_unit_test(${m} LIBS espfab_part)
endforeach()
