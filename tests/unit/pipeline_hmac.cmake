# HMAC NVS encryption through the pipeline, the station's key/state code, a
# real store and the in-process simulator's eFuses: refusals and crashes.
espfab_unit_test(pipeline_hmac LIBS espfab_daemon espfab_simdev)
