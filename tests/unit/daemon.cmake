# Unit tests of the daemon area: espfab_unit_test(<module> LIBS ...)
