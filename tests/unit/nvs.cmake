# Unit tests of the nvs area: espfab_unit_test(<module> LIBS ...)
espfab_unit_test(csv LIBS espfab_nvsgen)
