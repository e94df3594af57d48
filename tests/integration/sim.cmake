# Integration tests of the virtual ESP32 (build/bin/espfab-sim): real
# processes on ptys and TCP ports; every script kills what it starts.
find_program(ESPFAB_PYTHON3 python3)
if(ESPFAB_PYTHON3)
  add_test(NAME integration_sim
    COMMAND ${ESPFAB_PYTHON3} ${CMAKE_CURRENT_SOURCE_DIR}/integration/sim_check.py
            $<TARGET_FILE:espfab-sim> ${CMAKE_BINARY_DIR}/integration/sim)
  set_tests_properties(integration_sim PROPERTIES LABELS integration TIMEOUT 180)
else()
  message(WARNING "python3 not found: integration_sim not registered")
endif()

# Espressif's esptool against the simulator; skipped (77) unless ESPTOOL_DIR
# names an esptool v4.8.1 checkout in the environment of ctest.
add_test(NAME integration_sim_esptool
  COMMAND sh ${CMAKE_CURRENT_SOURCE_DIR}/integration/esptool_compat.sh
          $<TARGET_FILE:espfab-sim> ${CMAKE_BINARY_DIR}/integration/esptool)
set_tests_properties(integration_sim_esptool PROPERTIES LABELS integration TIMEOUT 600 SKIP_RETURN_CODE 77)
