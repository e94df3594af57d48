# The esp_secure_cert part of the per-device pipeline on the in-process simulator.
espfab_unit_test(pipeline_ident LIBS espfab_daemon espfab_simdev)
