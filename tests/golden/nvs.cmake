# Golden vectors of the NVS generator (../shared/golden/nvs) against `espfab nvs`.
espfab_golden(nvs nvs)
