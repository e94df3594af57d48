# Unit test of command-line path resolution (daemon/ctl/abspath.c).
espfab_unit_test(abspath LIBS espfab_ctl)
