# Unit tests of the nvs area: espfab_unit_test(<module> LIBS ...)
