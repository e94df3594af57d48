# Unit tests of protocol/ (SLIP, ROM client, transports) and the simulator engine.
espfab_unit_test(slip LIBS espfab_protocol)
