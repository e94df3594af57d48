# Unit tests of mfg (mass-manufacturing batches).
espfab_unit_test(mfg LIBS espfab_nvsgen)
