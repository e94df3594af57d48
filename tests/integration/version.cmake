# Every program reports the one version (generated espfab/version.h, set by
# ESPFAB_VERSION_STRING): espfab, espfabd, espfab-web and espfab-sim.
add_test(NAME integration_version_all_programs
  COMMAND sh -c "for p in espfab espfabd espfab-web espfab-sim; do \
    got=$($<TARGET_FILE_DIR:espfab>/$p --version) || exit 1; \
    [ \"$got\" = \"$p ${ESPFAB_VERSION_STRING}\" ] || { echo \"$p --version: '$got', want '$p ${ESPFAB_VERSION_STRING}'\"; exit 1; }; \
  done")
set_tests_properties(integration_version_all_programs PROPERTIES LABELS integration TIMEOUT 30)
