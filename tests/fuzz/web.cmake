# Fuzzers of espfab-web: the daemon's event lines into the screen's model,
# and the browser-facing parsers (routes, bearer token, token file, --listen).
set(WEB_DIR ${PROJECT_SOURCE_DIR}/daemon/web)
espfab_fuzz_target(web_events
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_web_events.c ${WEB_DIR}/wmodel.c ${WEB_DIR}/wmodel_cause.c ${WEB_DIR}/wmodel_time.c
          ${WEB_DIR}/whub.c ${PROJECT_SOURCE_DIR}/daemon/ctl/ctl_msg.c
  LIBS PkgConfig::JANSSON Threads::Threads espfab_common
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/web_events)
espfab_fuzz_target(web_request
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/fuzz_web_request.c ${WEB_DIR}/wreq.c
  CORPUS ${CMAKE_CURRENT_SOURCE_DIR}/fuzz/corpus/web_request)
if(ESPFAB_FUZZ)
  target_include_directories(fuzz_web_events PRIVATE ${WEB_DIR} ${PROJECT_SOURCE_DIR}/daemon/ctl)
  target_include_directories(fuzz_web_request PRIVATE ${WEB_DIR})
endif()
