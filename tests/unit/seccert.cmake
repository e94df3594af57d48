# Unit tests of the esp_secure_cert image generator/walker (golden images from
# the reference tool in tests/data/secure_cert).
espfab_unit_test(seccert LIBS espfab_seccert)
espfab_unit_test(seccert_issue LIBS espfab_seccert)
