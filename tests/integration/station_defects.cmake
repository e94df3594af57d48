# Issue 17's station defects end to end (tests/integration/station_defects.sh).
foreach(scenario config budget cancel restart sighup socket)
  add_test(NAME integration_station_${scenario}
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/station_defects.sh $<TARGET_FILE_DIR:espfabd> ${scenario})
  set_tests_properties(integration_station_${scenario} PROPERTIES LABELS integration TIMEOUT 300)
endforeach()
