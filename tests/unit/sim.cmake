# Unit tests of the virtual ESP32 (protocol/sim): the engine against exact
# request/response bytes, and the in-process fake port on virtual time.
espfab_unit_test(simdev LIBS espfab_simdev)
espfab_unit_test(simdev_fakeport LIBS espfab_simdev)
