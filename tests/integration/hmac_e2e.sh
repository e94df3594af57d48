#!/bin/sh
# NVS encryption with the HMAC eFuse scheme, end to end (docs/efuse.md):
# espfabd provisions espfab-sim boards of a product added with
# --nvs-encryption hmac. The simulator keeps its eFuses in NAME.flash.efuse,
# where the burnt key stays readable to the test (as fuses on silicon do).
#   hmac_e2e.sh BIN_DIR SCENARIO [sqlite|pg]
# pg: the store is a database on a PostgreSQL server the test starts
# (tests/pg/pg_fixture.sh), the same checks read it there.
# Scenarios:
#   batch     C3, C6 and S3 boards: each burnt once, its NVS decodes with the
#             keys derived from its own eFuse key only; no key bytes in the
#             daemon log, the audit or the CLI's outputs.
#   refusals  ESP32 (no HMAC), wrong purpose, block holding data, purpose
#             without a key: nothing burnt, no record bound, each refused.
#   rework    a board whose block already carries a read-protected key and
#             a product without sealed keys: rework, record released.
#   drops     the link to a board dies at several points of the pass (before,
#             during and after the burn, during the write); the board comes
#             back: with sealed keys it is finished without a second burn,
#             without them it is finished or marked rework; no record on two
#             devices.
set -eu
BIN=$(cd "$1" && pwd)
SCENARIO=$2
BACKEND=${3:-sqlite}
HERE=$(cd "$(dirname "$0")" && pwd)
EX=$(cd "$HERE/../../examples/lamp" && pwd)
. "$(dirname "$0")/wait.sh"
. "$HERE/daemon_lib.sh"
FUSES="$HERE/efuse_file.py"

ef_setup
ef_backend "$BACKEND" hmac

# all_dropped N: each of the N boards 24:0a:c4:00:0f:0J has an audit row of
# a pass that did not finish (an error, outside the efuse rows).
all_dropped() {
	"$BIN/espfab" --db "$ef_db" audit --json 2>/dev/null | python3 -c "
import json, sys
a = json.load(sys.stdin)['audit']
bad = set(x['mac'] for x in a if x['event'] != 'efuse' and x['error'] and x['result'] != 'verified')
sys.exit(0 if all('24:0a:c4:00:0f:0%d' % j in bad for j in range(1, $1 + 1)) else 1)
"
}

db_init() { # extra product options...
	"$BIN/espfab" --db "$ef_db" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" \
		--unique DeviceSecret --nvs-encryption hmac --hmac-key-block BLOCK_KEY1 "$@" >"$ef_dir/add.out" ||
		ef_die "product add"
	grep -q "NVS encryption hmac, BLOCK_KEY1" "$ef_dir/add.out" || ef_die "product add does not say hmac"
	"$BIN/espfab" --db "$ef_db" records import --product lamp "$EX/values.csv" $SEAL >/dev/null ||
		ef_die "records import"
}


hmac_state() { # mac -> state of its BLOCK_KEY1 row ("" when none)
	ef_sql "SELECT state FROM device_hmac_keys WHERE mac = '$1' AND key_block = 1"
}

# The device's NVS decodes with the keys derived from its own eFuse key to
# exactly its record, and does not decode to it with another's (or none).
check_encrypted() { # name mac [other-name]
	python3 "$FUSES" keyfile "$ef_dir/$1.flash.efuse" 1 "$ef_dir/$1.keys"
	dd if="$ef_dir/$1.flash" of="$ef_dir/$1.nvs" bs=4096 skip=9 count=6 2>/dev/null
	rec=$(ef_record_of "$2")
	id=${rec%% *}
	[ -n "$id" ] || ef_die "no record bound to $2"
	"$BIN/espfab" nvs dump --json --keyfile "$ef_dir/$1.keys" "$ef_dir/$1.nvs" | python3 -c "
import csv, json, sys
d = json.load(sys.stdin)
want = {r['id']: r for r in csv.DictReader(open('$EX/values.csv'))}['$id']
got = {v['key']: v['value'] for v in d['values']}
assert not d['problems'], d['problems']
for k, v in want.items():
    if k != 'id':
        assert str(got.get(k)) == v, (k, got.get(k), v)
" || ef_die "device $1 ($2) does not decode to record $id with its own keys"
	secret=$(python3 -c "import csv; print({r['id']: r for r in csv.DictReader(open('$EX/values.csv'))}['$id']['DeviceSecret'])")
	# Plain, the image shows no value: it is encrypted.
	if "$BIN/espfab" nvs dump --json "$ef_dir/$1.nvs" 2>/dev/null | grep -q "$secret"; then
		ef_die "device $1: the DeviceSecret reads without a key"
	fi
	if [ $# -ge 3 ]; then
		python3 "$FUSES" keyfile "$ef_dir/$3.flash.efuse" 1 "$ef_dir/$3.keys"
		if "$BIN/espfab" nvs dump --json --keyfile "$ef_dir/$3.keys" "$ef_dir/$1.nvs" 2>/dev/null | grep -q "$secret"; then
			ef_die "device $1 decodes with device $3's keys"
		fi
	fi
}

# No key burnt by this run appears anywhere the station writes or prints.
check_no_keys() { # names...
	"$BIN/espfab" --db "$ef_db" audit --json >"$ef_dir/audit.json"
	"$BIN/espfab" --db "$ef_db" records list --json >"$ef_dir/records.json"
	ef_dump "$ef_dir/db.dump"
	for n in "$@"; do
		k=$(python3 "$FUSES" key "$ef_dir/$n.flash.efuse" 1)
		[ "$k" != 0000000000000000000000000000000000000000000000000000000000000000 ] ||
			ef_die "device $n: no key burnt in BLOCK_KEY1"
		K=$(echo "$k" | tr a-f A-F)
		for f in "$ef_dir/daemon.log" "$ef_dir/audit.json" "$ef_dir/records.json" "$ef_dir/db.dump" \
			"$ef_dir/add.out"; do
			if grep -q -e "$k" -e "$K" -e "$(echo "$k" | cut -c1-16)" "$f"; then
				ef_die "device $n's HMAC key appears in $(basename "$f")"
			fi
		done
	done
}

SEAL=""
case "$SCENARIO" in
batch)
	db_init
	"$BIN/espfab" --db "$ef_db" product show lamp | grep -q "encryption: hmac, BLOCK_KEY1 (HMAC_UP), read- and write-protected" ||
		ef_die "product show does not show the encryption"
	ef_sim d1 24:0a:c4:00:0c:01 --chip esp32c3
	ef_sim d2 24:0a:c4:00:0c:02 --chip esp32c6
	ef_sim d3 24:0a:c4:00:0c:03 --chip esp32s3
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3"
	id=$(ef_cli batch add --product lamp --count 3 | awk '{ print $2 }')
	ef_wait_batch "$id" 90
	v=$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')
	[ "$v" = 3 ] || ef_die "batch verified $v, want 3"
	check_encrypted d1 24:0a:c4:00:0c:01 d2
	check_encrypted d2 24:0a:c4:00:0c:02 d3
	check_encrypted d3 24:0a:c4:00:0c:03 d1
	for n in 1 2 3; do
		[ "$(hmac_state 24:0a:c4:00:0c:0$n)" = done ] || ef_die "device $n: state $(hmac_state 24:0a:c4:00:0c:0$n)"
	done
	# three different keys
	[ "$(for n in 1 2 3; do python3 "$FUSES" key "$ef_dir/d$n.flash.efuse" 1; done | sort -u | wc -l)" = 3 ] ||
		ef_die "two devices got the same key"
	# the audit: key-burning, key-burnt, done per device, naming block, purpose, protection
	"$BIN/espfab" --db "$ef_db" audit --json | python3 -c "
import json, sys
a = [x for x in json.load(sys.stdin)['audit'] if x['event'] == 'efuse']
for m in ('24:0a:c4:00:0c:01', '24:0a:c4:00:0c:02', '24:0a:c4:00:0c:03'):
    r = [x['result'] for x in a if x['mac'] == m]
    assert r == ['key-burning', 'key-burnt', 'done'], (m, r)
assert all(x['efuse'] == 'BLOCK_KEY1 HMAC_UP read,write' for x in a), a
" || ef_die "audit of the burns"
	check_no_keys d1 d2 d3
	ef_check_store
	;;
refusals)
	db_init
	ef_flash "$ef_dir/d2.flash"
	python3 "$FUSES" write "$ef_dir/d2.flash.efuse" wrong-purpose
	ef_flash "$ef_dir/d3.flash"
	python3 "$FUSES" write "$ef_dir/d3.flash.efuse" user-data
	ef_flash "$ef_dir/d4.flash"
	python3 "$FUSES" write "$ef_dir/d4.flash.efuse" purpose-only
	for n in 2 3 4; do python3 "$FUSES" blk "$ef_dir/d$n.flash.efuse" >"$ef_dir/d$n.before"; done
	ef_sim d1 24:0a:c4:00:0d:01 --chip esp32
	ef_sim d2 24:0a:c4:00:0d:02 --chip esp32c3
	ef_sim d3 24:0a:c4:00:0d:03 --chip esp32c6
	ef_sim d4 24:0a:c4:00:0d:04 --chip esp32h2
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3" --port s4="$ef_dir/d4"
	ef_cli batch add --product lamp --count 4 >/dev/null
	ef_wait_log "EFUSE_ENOHMAC" 30
	ef_wait_log "EFUSE_EPURPOSE" 30
	ef_wait_log "already holds data.*EFUSE_ENOTFREE" 30
	ef_wait_log "empty but its purpose is already HMAC_UP.*EFUSE_ESTATE" 30
	for n in 1 2 3 4; do
		rec=$(ef_record_of 24:0a:c4:00:0d:0$n)
		[ -z "$rec" ] || ef_die "refused device $n holds a record: '$rec'"
		if dd if="$ef_dir/d$n.flash" bs=4096 skip=9 count=6 2>/dev/null | tr -d '\377' | grep -q .; then
			ef_die "refused device $n was written"
		fi
	done
	for n in 2 3 4; do
		python3 "$FUSES" blk "$ef_dir/d$n.flash.efuse" | cmp -s - "$ef_dir/d$n.before" ||
			ef_die "refused device $n: eFuses changed"
		[ "$(hmac_state 24:0a:c4:00:0d:0$n)" = refused ] || ef_die "device $n: state '$(hmac_state 24:0a:c4:00:0d:0$n)'"
	done
	[ -z "$(hmac_state 24:0a:c4:00:0d:01)" ] || ef_die "the ESP32 has an HMAC row"
	avail=$("$BIN/espfab" --db "$ef_db" records stats --json | ef_py 'j["stats"][0]["available"]')
	total=$("$BIN/espfab" --db "$ef_db" records stats --json | ef_py 'j["stats"][0]["total"]')
	[ "$avail" = "$total" ] || ef_die "records lost: $avail of $total available"
	ef_check_store
	;;
rework)
	db_init
	ef_flash "$ef_dir/d1.flash"
	python3 "$FUSES" write "$ef_dir/d1.flash.efuse" hmac-key
	python3 "$FUSES" blk "$ef_dir/d1.flash.efuse" >"$ef_dir/d1.before"
	ef_sim d1 24:0a:c4:00:0e:01 --chip esp32c3
	ef_daemon --port s1="$ef_dir/d1"
	ef_cli batch add --product lamp --count 1 >/dev/null
	ef_wait_log "device marked for rework" 30
	[ "$(hmac_state 24:0a:c4:00:0e:01)" = rework ] || ef_die "state '$(hmac_state 24:0a:c4:00:0e:01)', want rework"
	python3 "$FUSES" blk "$ef_dir/d1.flash.efuse" | cmp -s - "$ef_dir/d1.before" || ef_die "burnt a second time"
	[ -z "$(ef_record_of 24:0a:c4:00:0e:01)" ] || ef_die "the rework device holds a record"
	"$BIN/espfab" --db "$ef_db" audit --json | python3 -c "
import json, sys
a = [x for x in json.load(sys.stdin)['audit'] if x['event'] == 'efuse' and x['result'] == 'rework']
assert a and 'BLOCK_KEY1: purpose HMAC_UP, read-protected' in a[-1]['error'], a
" || ef_die "no rework audit row with the block summary"
	ef_check_store
	;;
drops)
	head -c 32 /dev/urandom >"$ef_dir/seal.key"
	SEAL="--seal-key $ef_dir/seal.key"
	db_init --hmac-seal-key $SEAL
	# d1..d6 (all C3) lose their link after N frames. Measured with these
	# values: 40 in the summary read before the burn, 150 and 260 inside
	# the burn, 330 and 345 in its final re-read (the key already burnt),
	# 365 in the verify read-back after the NVS write (record bound).
	i=0
	for n in ${EF_DROPS:-40 150 260 330 345 365}; do
		i=$((i + 1))
		ef_sim d$i 24:0a:c4:00:0f:0$i --chip esp32c3 --drop-after "$n"
		eval "pid$i=\$ef_last_pid"
	done
	ports=""
	for j in $(seq "$i"); do ports="$ports --port s$j=$ef_dir/d$j"; done
	printf 'seal_key = %s/seal.key\n' "$ef_dir" >"$ef_dir/d.conf"
	ef_daemon --config "$ef_dir/d.conf" $ports
	id=$(ef_cli batch add --product lamp --count "$i" | awk '{ print $2 }')
	# every board's pass has ended at its drop point: the store audited a
	# failed or released attempt for each MAC
	wait_for 60 all_dropped "$i" || ef_die "not every board's pass failed at its drop point"
	# the boards come back, whole
	for j in $(seq "$i"); do
		eval "kill \$pid$j"
		eval "wait_gone 10 \$pid$j" || ef_die "espfab-sim d$j did not exit"
		eval "ef_forget \$pid$j"
		ef_sim d$j 24:0a:c4:00:0f:0$j --chip esp32c3
	done
	ef_wait_batch "$id" 120
	for j in $(seq "$i"); do
		[ "$(hmac_state 24:0a:c4:00:0f:0$j)" = done ] || ef_die "device $j: state '$(hmac_state 24:0a:c4:00:0f:0$j)'"
		check_encrypted d$j 24:0a:c4:00:0f:0$j
	done
	# never two program commands of one key block: one key-burnt per device
	"$BIN/espfab" --db "$ef_db" audit --json | python3 -c "
import json, sys
a = [x for x in json.load(sys.stdin)['audit'] if x['event'] == 'efuse']
print('\n'.join('%s %s %s' % (x['mac'], x['result'], x['error'] or '') for x in a))
for j in range(1, $i + 1):
    m = '24:0a:c4:00:0f:0%d' % j
    assert [x['result'] for x in a if x['mac'] == m].count('key-burnt') == 1, m
" >"$ef_dir/drops.audit" || { cat "$ef_dir/drops.audit" >&2; ef_die "a device was burnt twice"; }
	ef_check_store
	;;
*)
	ef_die "unknown scenario $SCENARIO"
	;;
esac
echo "hmac_e2e $SCENARIO: ok"
