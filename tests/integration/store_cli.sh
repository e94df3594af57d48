#!/bin/sh
# The store's commands end to end: espfab --db ... product|records|audit.
#   store_cli.sh ESPFAB HELPER
set -u
E=$1
HELPER=$2
. "$(dirname "$0")/wait.sh"
DIR=$(mktemp -d /tmp/espfab-cli-XXXXXX)
trap 'rm -rf "$DIR"' EXIT INT TERM
cd "$DIR" || exit 1
n=0
fail() { echo "store_cli: $*" >&2; exit 1; }
ok() { n=$((n + 1)); }

cat > config.csv <<'X'
mass_prod,namespace,
ProductID,data,string
DeviceSecret,data,string
DeviceName,data,string
X
cat > parts.csv <<'X'
# Name,   Type, SubType, Offset,  Size, Flags
nvs,      data, nvs,     0x9000,  0x6000,
mfg,      data, nvs,     0xf000,  0x4000,
factory,  app,  factory, 0x20000, 1M,
X
printf 'id,ProductID,DeviceSecret,DeviceName\n1,P1,s3cr3t-one,d1\n2,P2,s3cr3t-two,d2\n3,P3,s3cr3t-three,d3\n' > v1.csv
printf 'id,ProductID,DeviceSecret,DeviceName\n4,P4,s3cr3t-four,d4\n5,P5,s3cr3t-two,d5\n' > dup.csv
printf 'id,ProductID,DeviceSecret\n4,P4,x\n' > short.csv

"$E" --db t.db product add lamp config.csv --table parts.csv --partition mfg --unique DeviceSecret > out 2>&1 || fail "product add: $(cat out)"
grep -q "partition mfg at 0xf000, 0x4000 bytes" out || fail "product add output: $(cat out)"; ok
[ "$(stat -c %a t.db)" = 600 ] || fail "database mode $(stat -c %a t.db)"; ok
"$E" --db t.db product add lamp2 config.csv --table parts.csv --partition factory > out 2>&1
[ $? -eq 1 ] && grep -q "not a data/nvs partition" out || fail "non-nvs partition accepted: $(cat out)"; ok
"$E" part parts.csv parts.bin > /dev/null 2>&1 || fail "espfab part"
"$E" --db b.db product add lampb config.csv --table parts.bin --version 1 > out 2>&1 || fail "binary table: $(cat out)"
grep -q "partition nvs at 0x9000, 0x6000 bytes, NVS version 1" out || fail "binary table: $(cat out)"; ok
printf 'nvs, data, nvs, 0x9000, zzz\n' > bad.csv
"$E" --db b.db product add bad config.csv --table bad.csv > out 2>&1
[ $? -eq 1 ] && grep -q "^espfab product add: bad.csv" out || fail "bad table: $(cat out)"; ok
"$E" --db t.db product add x config.csv > out 2>&1
[ $? -eq 2 ] || fail "missing --table not a usage error"; ok

"$E" --db t.db records import --product lamp v1.csv > out 2>&1 || fail "import: $(cat out)"
grep -q "imported 3 records" out || fail "import output"; ok
"$E" --db t.db records import --product lamp dup.csv > out 2>&1
[ $? -eq 1 ] || fail "duplicate secret accepted"
grep -q "dup.csv:3: field 'DeviceSecret' repeats the value of record '2'" out || fail "dup message: $(cat out)"
grep -q "s3cr3t" out && fail "secret in error: $(cat out)"; ok
"$E" --db t.db records import --product lamp short.csv > out 2>&1
[ $? -eq 1 ] && grep -q "short.csv:1: no column for field 'DeviceName'" out || fail "short: $(cat out)"; ok
"$E" --db t.db records stats > out || fail "stats"
grep -Eq "^lamp +3 +3 +0 +0 +0 +0$" out || fail "stats after failed imports: $(cat out)"; ok

# secrets only with --reveal
"$E" --db t.db records list > out; "$E" --db t.db records list --json >> out
grep -q "s3cr3t" out && fail "secret without --reveal"; ok
"$E" --db t.db records list --reveal > out
grep -q "DeviceSecret=s3cr3t-one" out || fail "reveal: $(cat out)"; ok
"$E" --db t.db records list --json --reveal | grep -q '"DeviceSecret": "s3cr3t-two"' || fail "reveal json"; ok

# a device takes record 1 (through the library, as the daemon does), then retire it
"$HELPER" t.db loop st1 1 >/dev/null 2>&1 &
pid=$!
# killed once it has verified a record, mid-loop
verified_one() { "$E" --db t.db records list --state verified --json 2>/dev/null | grep -q '"mac"'; }
wait_for 10 verified_one
kill -9 $pid; wait $pid 2>/dev/null
"$HELPER" t.db recover st1 >/dev/null || fail "recover"
"$E" --db t.db records check > out || fail "check: $(cat out)"; ok
"$E" --db t.db records list --state verified --json > out
mac=$(sed -n 's/.*"mac": "\([0-9a-f:]*\)".*/\1/p' out | head -1)
id=$(sed -n 's/.*"id": "\([0-9]*\)".*/\1/p' out | head -1)
[ -n "$mac" ] && [ -n "$id" ] || fail "no verified record: $(cat out)"
"$E" --db t.db records retire "$id" --reason "RMA 42" > out || fail "retire: $(cat out)"
grep -q "retired record $id: RMA 42" out || fail "retire output"; ok
"$E" --db t.db records retire "$id" --reason again > out 2>&1
[ $? -eq 1 ] || fail "retired twice"; ok
"$E" --db t.db records retire "$id" > out 2>&1
[ $? -eq 2 ] || fail "retire without --reason"; ok
"$E" --db t.db audit --mac "$(echo "$mac" | tr a-f A-F)" > out || fail "audit"
grep -q "retire" out && grep -q "RMA 42" out || fail "audit of retire: $(cat out)"; ok
"$E" --db t.db audit --since 1d --json | grep -q '"event": "import"' || fail "audit --since"; ok
"$E" --db t.db audit --since tomorrow > out 2>&1
[ $? -eq 2 ] || fail "bad --since accepted"; ok
"$E" --db t.db audit --json | grep -q "s3cr3t" && fail "secret in audit"; ok
# --after: what is new since the last row a MES saw, oldest first
"$E" --db t.db audit --json > all.json || fail "audit --json"
n=$(python3 -c "import json; print(len(json.load(open('all.json'))['audit']))")
first=$(python3 -c "import json; print(json.load(open('all.json'))['audit'][0]['id'])")
"$E" --db t.db audit --after "$first" --limit 2 --json | python3 -c "
import json, sys
ids = [r['id'] for r in json.load(sys.stdin)['audit']]
assert ids == [$first + 1, $first + 2][:min(2, $n - 1)], ids" || fail "audit --after"; ok
"$E" --db t.db audit --after -3 > out 2>&1 && fail "audit --after -3 accepted"
grep -q "after" out || fail "audit --after -3: $(cat out)"; ok

# the default database comes from the daemon's config file
printf '# espfabd\ndb = %s/t.db\n' "$DIR" > espfabd.conf
"$E" --config espfabd.conf records stats | grep -q "^lamp " || fail "db from config"; ok
"$E" --config nonexistent.conf records stats > out 2>&1
[ $? -eq 1 ] || fail "missing --config accepted"; ok
"$E" --db nonexistent.db records stats > out 2>&1
[ $? -eq 1 ] && [ ! -e nonexistent.db ] || fail "query created a database"; ok

# sealed database: key from a file
head -c 32 /dev/urandom > seal.key
"$E" --db s.db product add lamp config.csv --table parts.csv --seal-key seal.key > /dev/null || fail "sealed product"
"$E" --db s.db records import --product lamp v1.csv --seal-key seal.key > /dev/null || fail "sealed import"
grep -q "s3cr3t" s.db && fail "plaintext secret in sealed database"; ok
"$E" --db s.db records list --reveal > out 2>&1
[ $? -eq 1 ] && grep -q "seal key" out || fail "reveal without key: $(cat out)"; ok
printf 'seal_key = %s/seal.key\n' "$DIR" > sealed.conf
"$E" --config sealed.conf --db s.db records list --reveal | grep -q "DeviceSecret=s3cr3t-three" || fail "reveal with config key"; ok
echo "store_cli: $n checks passed"
