# The layer rules (tools/layers.txt): the include graph of every product
# source and the targets' link lists (written by cmake/layers.cmake), with
# the known violations of tools/layers-allow.txt; and the checker's own self
# test on small fake trees, each with one injected violation.
find_program(ESPFAB_PYTHON3 python3)
if(ESPFAB_PYTHON3)
  add_test(NAME layers_include_graph
    COMMAND ${ESPFAB_PYTHON3} ${PROJECT_SOURCE_DIR}/tools/check-layers
            --root ${PROJECT_SOURCE_DIR} --links ${CMAKE_BINARY_DIR}/layers_links.txt)
  add_test(NAME layers_check_self_test
    COMMAND ${ESPFAB_PYTHON3} ${PROJECT_SOURCE_DIR}/tests/layers/test_check_layers.py ${PROJECT_SOURCE_DIR})
  set_tests_properties(layers_include_graph layers_check_self_test PROPERTIES LABELS unit TIMEOUT 120)
else()
  message(WARNING "python3 not found: the layer checks are not registered")
endif()
