#!/bin/sh
# espfab secure-cert generate|dump on the command line: byte-exact output for the
# reference's golden inputs, error lines, no partial output, key hidden by default.
# Usage: secure_cert_cli.sh ESPFAB DATA_DIR
set -u
espfab=$1
data=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
cd "$dir" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

gen() { "$espfab" secure-cert generate "$@"; }

# the reference's five golden runs, through the command line
gen --ca-cert "$data/ca_cert.pem" --device-cert "$data/ec_cert.pem" --private-key "$data/ec_key.pem" p256.bin >/dev/null || fail "p256 exit $?"
cmp -s p256.bin "$data/ecdsa_p256.bin" || fail "p256.bin differs from the reference"
gen --ca-cert "$data/ca_cert.pem" --device-cert "$data/rsa_cert.pem" --private-key "$data/rsa_key.pem" rsa.bin >/dev/null || fail "rsa exit $?"
cmp -s rsa.bin "$data/rsa2048.bin" || fail "rsa.bin differs from the reference"
gen --ca-cert "$data/ca_cert.der" --device-cert "$data/ec_cert.der" --private-key "$data/ec_key.der" der.bin >/dev/null || fail "der exit $?"
cmp -s der.bin "$data/ecdsa_der.bin" || fail "der.bin differs from the reference"
gen --device-cert "$data/ec_cert.pem" --private-key "$data/ec_key.pem" noca.bin >/dev/null || fail "noca exit $?"
cmp -s noca.bin "$data/ecdsa_noca.bin" || fail "noca.bin differs from the reference"
gen --ca-cert "$data/ca_cert.pem" --device-cert "$data/ec_cert_crlf.pem" --private-key "$data/ec_key_sec1.pem" canon.bin >/dev/null || fail "canon exit $?"
cmp -s canon.bin "$data/ecdsa_canon.bin" || fail "canon.bin differs from the reference"

# an image with a key is not world-readable
[ "$(stat -c %a p256.bin)" = 600 ] || fail "mode $(stat -c %a p256.bin)"

# --pad: the same chain followed by erased flash
gen --ca-cert "$data/ca_cert.pem" --device-cert "$data/ec_cert.pem" --private-key "$data/ec_key.pem" --pad 0x2000 pad.bin >/dev/null || fail "pad exit $?"
[ "$(wc -c < pad.bin)" -eq 8192 ] || fail "padded size $(wc -c < pad.bin)"
head -c 1504 pad.bin | cmp -s - p256.bin || fail "padded image does not start with the chain"
[ "$(tail -c 6688 pad.bin | od -An -v -tx1 | tr -d ' \n' | tr -d f | wc -c)" -eq 0 ] || fail "padding is not 0xFF"

# --no-integrity drops exactly the last 48 bytes
gen --ca-cert "$data/ca_cert.pem" --device-cert "$data/ec_cert.pem" --private-key "$data/ec_key.pem" --no-integrity ni.bin >/dev/null || fail "no-integrity exit $?"
[ "$(wc -c < ni.bin)" -eq 1456 ] || fail "no-integrity size $(wc -c < ni.bin)"
head -c 1456 p256.bin | cmp -s - ni.bin || fail "no-integrity bytes"

# --json describes what was written
gen --device-cert "$data/ec_cert.pem" --private-key "$data/ec_key.pem" --json j.bin > j.json || fail "json exit $?"
python3 -c "
import json,sys
d=json.load(open('j.json'))
assert d['size']==832 and d['integrity'] is True, d
assert [t['type'] for t in d['tlvs']]==['dev_cert','priv_key','integrity'], d
assert d['tlvs'][1]['offset']==528, d
" || fail "generate --json: $(cat j.json)"

# errors: one line, non-zero, no file left behind
gen --device-cert nothere.pem out1.bin 2>err; rc=$?
[ $rc -eq 1 ] || fail "missing input exit $rc"
[ -e out1.bin ] && fail "missing input left a file"
[ "$(cat err)" = "espfab secure-cert: device certificate nothere.pem: No such file or directory" ] || fail "missing input line: $(cat err)"
echo "not a certificate" > junk.pem
gen --device-cert junk.pem out2.bin 2>err; rc=$?
[ $rc -eq 1 ] || fail "junk cert exit $rc"
[ -e out2.bin ] && fail "junk cert left a file"
[ "$(cat err)" = "espfab secure-cert: junk.pem: neither a PEM nor a DER X.509 certificate" ] || fail "junk cert line: $(cat err)"
[ "$(wc -l < err)" -eq 1 ] || fail "junk cert: more than one line"
gen --private-key "$data/rsa_key.pem" --device-cert "$data/rsa_cert.pem" --ca-cert "$data/ca_cert.pem" --pad 0x800 small.bin 2>err; rc=$?
[ $rc -eq 1 ] || fail "too small pad exit $rc"
[ -e small.bin ] && fail "too small pad left a file"
grep -q 'does not fit' err || fail "too small pad line: $(cat err)"
gen out3.bin 2>err; rc=$?
[ $rc -eq 2 ] || fail "nothing to write exit $rc"
gen --device-cert "$data/ec_cert.pem" 2>err; rc=$?
[ $rc -eq 2 ] || fail "no output exit $rc"
# a key that does not belong to the certificate is written (as the reference does) but warned about
gen --device-cert "$data/ec_cert.pem" --private-key "$data/rsa_key.pem" mis.bin 2>err >/dev/null || fail "mismatch exit $?"
grep -q 'does not belong' err || fail "mismatch warning: $(cat err)"

# dump: clean image, exit 0, the key is not shown
"$espfab" secure-cert dump "$data/ecdsa_p256.bin" > d.txt; rc=$?
[ $rc -eq 0 ] || fail "dump exit $rc"
grep -q 'CN=24:0a:c4:00:00:01,O=espfab test' d.txt || fail "dump: no device subject"
grep -q 'matches    the device certificate' d.txt || fail "dump: no key match"
grep -q 'problems: none' d.txt || fail "dump: problems"
grep -q 'PRIVATE KEY' d.txt && fail "dump shows the key without --show-key"
"$espfab" secure-cert dump "$data/ecdsa_p256.bin" --show-key | grep -q 'BEGIN EC PRIVATE KEY' || fail "--show-key shows no key"
"$espfab" secure-cert dump --json pad.bin > d.json || fail "dump --json exit $?"
python3 -c "
import json
d=json.load(open('d.json'))
assert d['size']==8192 and d['used']==1504 and d['problems']==[], d
t=d['tlvs']
assert [x['name'] for x in t]==['ca_cert','dev_cert','priv_key','integrity']
assert t[1]['certificate']['serial']=='01' and t[1]['signed_by_ca_tlv'] is True
assert t[2]['key']=='EC P-256' and t[2]['matches_dev_cert'] is True and 'pem' not in t[2]
" || fail "dump --json content"
grep -q 'PRIVATE KEY' d.json && fail "dump --json shows the key"

# dump: a flipped byte is a CRC and integrity problem, exit 3
cp "$data/ecdsa_p256.bin" bad.bin
printf 'X' | dd of=bad.bin bs=1 seek=700 conv=notrunc 2>/dev/null
"$espfab" secure-cert dump bad.bin > bad.txt; rc=$?
[ $rc -eq 3 ] || fail "dump of a damaged image exit $rc"
grep -q 'dev_cert/0): CRC' bad.txt || fail "no CRC problem: $(cat bad.txt)"
grep -q 'integrity TLV at 0x5b0' bad.txt || fail "no integrity problem"
# a mismatched key is a problem too
"$espfab" secure-cert dump mis.bin > mis.txt; rc=$?
[ $rc -eq 3 ] || fail "dump of a mismatched key exit $rc"
grep -q 'does not belong' mis.txt || fail "mismatch not reported"

# dump: not an image, one line, exit 1
head -c 4096 /dev/zero | tr '\0' '\377' > erased.bin
"$espfab" secure-cert dump erased.bin 2>err >/dev/null; rc=$?
[ $rc -eq 1 ] || fail "erased dump exit $rc"
[ "$(cat err)" = "espfab secure-cert: erased.bin: not an esp_secure_cert image: offset 0 is erased flash (no TLV)" ] || fail "erased line: $(cat err)"
head -c 1000 "$data/ecdsa_p256.bin" > cut.bin
"$espfab" secure-cert dump cut.bin 2>err >/dev/null; rc=$?
[ $rc -eq 1 ] || fail "cut dump exit $rc"
grep -q 'runs past the end' err || fail "cut line: $(cat err)"

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "secure_cert_cli: all checks passed"
