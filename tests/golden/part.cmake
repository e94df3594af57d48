# The partition-table golden cases of ../shared/golden/partition.
espfab_golden(part partition)
