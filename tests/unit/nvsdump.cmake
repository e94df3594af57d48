# Unit tests of the NVS decoder (espfab nvs dump) and, later, mfg.
espfab_unit_test(nvs_decode LIBS espfab_nvsgen ZLIB::ZLIB PkgConfig::JANSSON)
