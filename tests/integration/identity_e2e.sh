#!/bin/sh
# End-to-end tests of per-device identities (issue 13) with real processes:
# espfabd, the espfab command and espfab-sim devices on ptys.
#   identity_e2e.sh BIN_DIR SCENARIO [sqlite|pg]
# pg: the store is a database on a PostgreSQL server the test starts
# (tests/pg/pg_fixture.sh), the same checks read it there.
# batch:   three devices, one batch: each device's esp_secure_cert partition
#          decodes to a certificate that verifies against the CA, carries that
#          device's MAC and matches the key beside it; the store and the audit
#          hold each certificate once; a returning device keeps its
#          certificate; a device that lost it is refused before any write.
# ca_fail: the CA key is missing: nothing is written, no record is consumed,
#          no certificate recorded; once the key is back the same device passes.
# rsa:     the same batch check with RSA-2048 keys (made by the station's key pool).
# keep_keys: the profile keeps keys (sealed in the store): a device whose
#          partition was erased gets the same certificate and key back.
set -eu
BIN=$(cd "$1" && pwd)
SCENARIO=$2
BACKEND=${3:-sqlite}
EX=$(cd "$(dirname "$0")/../../examples/lamp" && pwd)
. "$(dirname "$0")/wait.sh"
. "$(dirname "$0")/daemon_lib.sh"

ef_setup
ef_backend "$BACKEND" identity
d=$ef_dir
# The lamp table plus an esp_secure_cert partition (type 0x3F) at 0x10000.
cat > "$d/parts.csv" <<'CSV'
nvs,             data, nvs,     0x9000,  0x6000,
phy_init,        data, phy,     0xf000,  0x1000,
esp_secure_cert, 0x3F, ,        0x10000, 0x2000,
factory,         app,  factory, 0x20000, 1M,
CSV
"$BIN/espfab" part "$d/parts.csv" "$d/pt.bin" >/dev/null 2>&1 || ef_die "partition table"
"$BIN/espfab" --db "$ef_db" product add lamp "$EX/config.csv" --table "$d/parts.csv" --unique DeviceSecret \
	>/dev/null || ef_die "product add"
"$BIN/espfab" --db "$ef_db" records import --product lamp "$EX/values.csv" >/dev/null || ef_die "records import"

# A local CA (ECDSA P-256), made for this run.
openssl ecparam -name prime256v1 -genkey -noout -out "$d/ca.key" 2>/dev/null
openssl req -new -x509 -key "$d/ca.key" -subj "/O=espfab e2e/CN=espfab e2e CA" -days 365 -out "$d/ca.pem" 2>/dev/null ||
	ef_die "openssl CA"
keep=false
[ "$SCENARIO" = keep_keys ] && keep=true
keytype=ec-p256 keydesc="EC P-256"
[ "$SCENARIO" = rsa ] && keytype=rsa-2048 keydesc="RSA 2048"
export keydesc
cat > "$d/profile.json" <<JSON
{"key": "$keytype", "subject": [["O", "espfab e2e"], ["CN", "{mac}"], ["serialNumber", "{field:DeviceName}"]],
 "validity_days": 3650, "keep_keys": $keep, "ca_cert": "$d/ca.pem", "ca_key": "$d/ca.key"}
JSON
"$BIN/espfab" --db "$ef_db" certs profile lamp "$d/profile.json" > "$d/profile.out" || ef_die "certs profile"
grep -q 'esp_secure_cert at 0x10000+0x2000' "$d/profile.out" || ef_die "profile: $(cat "$d/profile.out")"

# The esp_secure_cert partition of a simulated device, dumped to JSON.
dump_ident() { # name
	dd if="$d/$1.flash" of="$d/$1.sc" bs=4096 skip=16 count=2 2>/dev/null
	"$BIN/espfab" secure-cert dump --json "$d/$1.sc" > "$d/$1.sc.json"
}

# The device's partition holds a clean chain whose certificate verifies
# against the CA, names MAC and belongs to the key beside it. Prints its sha256.
check_ident() { # name mac
	dump_ident "$1" || ef_die "$1: secure-cert dump failed (exit $?)"
	python3 - "$d/$1.sc.json" "$2" "$d/$1.cert.pem" <<'PY' || ef_die "$1: esp_secure_cert partition content"
import json, os, sys
j = json.load(open(sys.argv[1])); mac = sys.argv[2]
assert j["problems"] == [], j["problems"]
t = {x["name"]: x for x in j["tlvs"]}
assert list(t) == ["ca_cert", "dev_cert", "priv_key", "integrity"], list(t)
c = t["dev_cert"]["certificate"]
assert ("CN=" + mac) in c["subject"], c["subject"]
assert c["key"] == os.environ["keydesc"], c
assert t["dev_cert"]["signed_by_ca_tlv"] is True
assert t["priv_key"]["matches_dev_cert"] is True
assert "pem" not in t["priv_key"]
open(sys.argv[3], "w").write(t["dev_cert"]["pem"])
print(c["sha256"])
PY
	openssl verify -CAfile "$d/ca.pem" -purpose sslclient "$d/$1.cert.pem" >/dev/null 2>&1 ||
		ef_die "$1: the certificate does not verify against the CA"
	openssl x509 -in "$d/$1.cert.pem" -noout -ext subjectAltName 2>/dev/null |
		grep -q "URI:urn:dev:mac:$(echo "$2" | tr -d :)" || ef_die "$1: no MAC in the SAN"
}

flash_md5() { md5sum "$d/$1.flash" | cut -d' ' -f1; }

# A device on NAME, remembered by PID so it can be unplugged and plugged
# back (a re-created port is a board coming back to the worker).
sim() { # name mac
	ef_sim "$1" "$2"
	eval "pid_$1=$ef_last_pid"
}
unplug() { # name
	eval "p=\$pid_$1"
	kill "$p" 2>/dev/null || true
	ef_forget "$p"
	wait "$p" 2>/dev/null || true
}

case "$SCENARIO" in
batch)
	sim d1 24:0a:c4:00:03:01
	sim d2 24:0a:c4:00:03:02
	sim d3 24:0a:c4:00:03:03
	ef_daemon --port s1="$d/d1" --port s2="$d/d2" --port s3="$d/d3"
	id=$(ef_cli batch add --product lamp --count 3 | awk '{ print $2 }')
	ef_wait_batch "$id" 90
	v=$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')
	[ "$v" = 3 ] || ef_die "batch verified $v, want 3"
	for n in 1 2 3; do
		check_ident d$n 24:0a:c4:00:03:0$n > "$d/d$n.sha"
		ef_check_device d$n 24:0a:c4:00:03:0$n
	done
	# Three different certificates, each in the store once, delivered, with
	# the fingerprint that is on the device; the key is not kept.
	"$BIN/espfab" --db "$ef_db" certs list --json --state all > "$d/certs.json" || ef_die "certs list"
	python3 - "$d/certs.json" "$d/d1.sha" "$d/d2.sha" "$d/d3.sha" <<'PY' || ef_die "certs list content"
import json, sys
c = json.load(open(sys.argv[1]))["certificates"]
assert len(c) == 3, c
by = {x["mac"]: x for x in c}
for i, f in enumerate(sys.argv[2:], 1):
    x = by["24:0a:c4:00:03:0%d" % i]
    assert x["state"] == "delivered" and x["key_kept"] is False, x
    assert x["sha256"] == open(f).read().strip(), (x, f)
assert len({x["serial"] for x in c}) == 3
PY
	# The audit has each serial issued and delivered once.
	"$BIN/espfab" --db "$ef_db" audit --json > "$d/audit.json"
	python3 - "$d/audit.json" "$d/certs.json" <<'PY' || ef_die "audit of certificates"
import json, sys
a = [x for x in json.load(open(sys.argv[1]))["audit"] if x["event"] == "certificate"]
c = json.load(open(sys.argv[2]))["certificates"]
for x in c:
    rows = [(r["result"], r["image_sha256"]) for r in a if r["cert_serial"] == x["serial"]]
    assert rows == [("issued", x["sha256"]), ("delivered", x["sha256"])], rows
PY
	# The registration export: a PEM bundle of the three.
	"$BIN/espfab" --db "$ef_db" certs export -o "$d/bundle.pem" 2>/dev/null || ef_die "certs export"
	[ "$(grep -c 'BEGIN CERTIFICATE' "$d/bundle.pem")" = 3 ] || ef_die "export bundle: $(grep -c BEGIN "$d/bundle.pem") certs"
	"$BIN/espfab" --db "$ef_db" certs export --format json | ef_py 'len(j["certificates"])' | grep -qx 3 ||
		ef_die "export --format json"
	grep -q 'PRIVATE KEY' "$d/bundle.pem" && ef_die "the export holds a key"
	grep -rq 'BEGIN EC PRIVATE KEY' "$d/daemon.log" && ef_die "a key in the daemon log"

	# d1 comes back: same record, same certificate, partition untouched.
	before=$(md5sum "$d/d1.sc" | cut -d' ' -f1)
	unplug d1
	sim d1 24:0a:c4:00:03:01
	id2=$(ef_cli batch add --product lamp --count 1 --ports s1 | awk '{ print $2 }')
	ef_wait_batch "$id2" 60
	[ "$(ef_cli batch show "$id2" --json | ef_py 'j["batches"][0]["verified"]')" = 1 ] || ef_die "returning d1 not verified"
	[ "$(check_ident d1 24:0a:c4:00:03:01)" = "$(cat "$d/d1.sha")" ] || ef_die "returning d1 got another certificate"
	[ "$(md5sum "$d/d1.sc" | cut -d' ' -f1)" = "$before" ] || ef_die "returning d1: partition rewritten"
	[ "$("$BIN/espfab" --db "$ef_db" certs list --json --state all | ef_py 'len(j["certificates"])')" = 3 ] ||
		ef_die "a returning device got a new certificate"

	# d2 lost its identity (its partition erased): refused before any write.
	rec2=$(ef_record_of 24:0a:c4:00:03:02)
	case "$rec2" in *" verified") ;; *) ef_die "d2's record before: $rec2" ;; esac
	unplug d2
	python3 - "$d/d2.flash" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); f.seek(0x10000); f.write(b"\xff" * 0x2000); f.close()
PY
	before=$(flash_md5 d2)
	sim d2 24:0a:c4:00:03:02
	ef_cli batch add --product lamp --count 1 --ports s2 >/dev/null
	ef_wait_log "the station keeps no copy of its key" 60
	[ "$(flash_md5 d2)" = "$before" ] || ef_die "d2: flash written although its identity was lost"
	[ "$(ef_record_of 24:0a:c4:00:03:02)" = "$rec2" ] || ef_die "d2's record: $(ef_record_of 24:0a:c4:00:03:02)"
	[ "$("$BIN/espfab" --db "$ef_db" certs list --json --state all | ef_py 'len(j["certificates"])')" = 3 ] ||
		ef_die "a certificate was issued to a device that lost its own"
	;;
ca_fail)
	ef_flash "$d/d1.flash"
	pristine=$(flash_md5 d1)
	mv "$d/ca.key" "$d/ca.key.away"
	sim d1 24:0a:c4:00:04:01
	ef_daemon --port s1="$d/d1"
	id=$(ef_cli batch add --product lamp --count 1 | awk '{ print $2 }')
	ef_wait_log "identity: CA key $d/ca.key: No such file or directory" 60
	# The attempt is over once its record went back (released in the audit).
	released() {
		"$BIN/espfab" --db "$ef_db" audit --json |
			ef_py '[a["result"] for a in j["audit"] if a["event"] != "product" and a["event"] != "import"]' |
			grep -q released
	}
	wait_for 10 released || ef_die "no released attempt in the audit"
	[ "$(flash_md5 d1)" = "$pristine" ] || ef_die "bytes were written although the CA failed"
	"$BIN/espfab" --db "$ef_db" records stats --json | ef_py 'j["stats"][0]["available"] == j["stats"][0]["total"]' |
		grep -qx True || ef_die "a record was consumed: $("$BIN/espfab" --db "$ef_db" records stats)"
	[ "$("$BIN/espfab" --db "$ef_db" certs list --json --state all | ef_py 'len(j["certificates"])')" = 0 ] ||
		ef_die "a certificate was recorded"
	"$BIN/espfab" --db "$ef_db" audit --json | ef_py '[a["result"] for a in j["audit"] if a["event"] != "product" and a["event"] != "import"]' |
		grep -q released || ef_die "no released attempt in the audit"
	# The CA key is back: the same device passes (the failure was not kept).
	mv "$d/ca.key.away" "$d/ca.key"
	unplug d1
	sim d1 24:0a:c4:00:04:01
	ef_wait_batch "$id" 60
	[ "$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')" = 1 ] || ef_die "not verified after the CA came back"
	check_ident d1 24:0a:c4:00:04:01 >/dev/null
	;;
rsa)
	sim d1 24:0a:c4:00:06:01
	sim d2 24:0a:c4:00:06:02
	ef_daemon --port s1="$d/d1" --port s2="$d/d2"
	id=$(ef_cli batch add --product lamp --count 2 | awk '{ print $2 }')
	ef_wait_batch "$id" 120
	[ "$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')" = 2 ] || ef_die "rsa batch not verified"
	for n in 1 2; do
		check_ident d$n 24:0a:c4:00:06:0$n >/dev/null
		ef_check_device d$n 24:0a:c4:00:06:0$n
	done
	;;
keep_keys)
	# The daemon's seal key, as systemd would hand it over.
	mkdir -p "$d/creds"
	python3 -c "import os; print(os.urandom(32).hex())" > "$d/creds/seal-key"
	export CREDENTIALS_DIRECTORY="$d/creds"
	sim d1 24:0a:c4:00:05:01
	ef_daemon --port s1="$d/d1"
	id=$(ef_cli batch add --product lamp --count 1 | awk '{ print $2 }')
	ef_wait_batch "$id" 60
	check_ident d1 24:0a:c4:00:05:01 > "$d/d1.sha"
	"$BIN/espfab" --db "$ef_db" certs list --json | ef_py 'j["certificates"][0]["key_kept"]' | grep -qx True ||
		ef_die "the key is not kept"
	# Sealed at rest: no key text in the database files, nor in a dump of
	# its rows (bytea and blobs dump as hex).
	ef_dump "$d/db.dump"
	for f in "$d/db" "$d/db-wal" "$d/db.dump"; do
		[ -f "$f" ] && grep -qi -e 'PRIVATE KEY' -e 50524956415445204b4559 "$f" && ef_die "a plain key in $f"
	done
	unplug d1
	python3 - "$d/d1.flash" <<'PY'
import sys
f = open(sys.argv[1], "r+b"); f.seek(0x10000); f.write(b"\xff" * 0x2000); f.close()
PY
	sim d1 24:0a:c4:00:05:01
	id2=$(ef_cli batch add --product lamp --count 1 --ports s1 | awk '{ print $2 }')
	ef_wait_batch "$id2" 60
	[ "$(ef_cli batch show "$id2" --json | ef_py 'j["batches"][0]["verified"]')" = 1 ] || ef_die "d1 not verified again"
	[ "$(check_ident d1 24:0a:c4:00:05:01)" = "$(cat "$d/d1.sha")" ] || ef_die "d1 got another certificate"
	[ "$("$BIN/espfab" --db "$ef_db" certs list --json --state all | ef_py 'len(j["certificates"])')" = 1 ] ||
		ef_die "more than one certificate for d1"
	;;
*)
	ef_die "unknown scenario $SCENARIO"
	;;
esac
echo "identity_e2e $SCENARIO: ok"
