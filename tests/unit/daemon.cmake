# Unit tests of the daemon area: espfab_unit_test(<module> LIBS ...)
espfab_unit_test(config LIBS espfab_daemon)
espfab_unit_test(proto LIBS espfab_daemon)
espfab_unit_test(control LIBS espfab_daemon)
