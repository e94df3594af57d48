# mfg_gen.py golden cases: espfab mfg generate against ../shared/golden/mfg.
espfab_golden(mfg mfg)
