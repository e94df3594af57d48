# The Debian package (tools/package): build, install into a throwaway root,
# run the installed station, upgrade, purge. The package is built with
# Debian's own flags whatever this build's are, so it runs once, in the
# plain build, not again under the sanitizers.
if(NOT ESPFAB_SANITIZE AND NOT ESPFAB_FUZZ)
  add_test(NAME integration_package_deb
    COMMAND ${CMAKE_CURRENT_SOURCE_DIR}/integration/package_deb.sh ${CMAKE_SOURCE_DIR} ${CMAKE_BINARY_DIR}/package)
  set_tests_properties(integration_package_deb PROPERTIES LABELS integration TIMEOUT 420)
endif()
