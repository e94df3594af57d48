# Unit test of command-line path resolution (daemon/espfabd/abspath.c).
espfab_unit_test(abspath LIBS espfab_daemon)
