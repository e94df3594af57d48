# Unit tests of the part area: espfab_unit_test(<module> LIBS ...)
