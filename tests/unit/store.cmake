# Unit tests of the store area: espfab_unit_test(<module> LIBS ...)
