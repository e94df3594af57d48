# Unit tests of espfab-web (the operator screen): its model, what it reads
# from the outside, and its HTTP layer against a real libmicrohttpd server.
espfab_unit_test(wmodel LIBS espfab_web)
espfab_unit_test(wreq LIBS espfab_web)
espfab_unit_test(whttp LIBS espfab_web)
espfab_unit_test(wfeed LIBS espfab_web)
