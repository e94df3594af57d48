# Unit tests of the common library (common/): one executable per module,
# each linking only espfab_common.
foreach(m le fsu pystr pyint err)
  if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/unit/test_${m}.c)
    espfab_unit_test(${m} LIBS espfab_common)
  endif()
endforeach()
