# Unit tests of the firmware images area (flasher_args.json sets, their store
# tables): espfab_unit_test(<module> LIBS ...)
espfab_unit_test(fwimg LIBS espfab_fwimg OpenSSL::Crypto)
espfab_unit_test(store_firmware LIBS espfab_store SQLite::SQLite3)
