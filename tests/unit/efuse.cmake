# eFuse: the pure helpers (RS coding, layouts), espfab-sim's controller
# model, and the client's read and key burn against that model.
espfab_unit_test(efuse LIBS espfab_protocol)
espfab_unit_test(simdev_efuse LIBS espfab_simdev)
espfab_unit_test(efuse_sim LIBS espfab_simdev espfab_protocol)
