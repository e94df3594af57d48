#!/bin/sh
# espfab certs on the command line: profile checks (one line, non-zero, nothing
# stored), the profile set once, empty list/show/export. The issuing itself is
# covered by identity_e2e.sh. Usage: certs_cli.sh ESPFAB EXAMPLES_DIR
set -u
espfab=$1
ex=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT INT TERM
cd "$dir" || exit 1
fails=0
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
ef() { "$espfab" --db "$dir/db" "$@"; }

printf 'nvs,data,nvs,0x9000,0x6000,\nesp_secure_cert,0x3F,,0xF000,0x2000,\nfactory,app,factory,0x20000,1M,\n' > t.csv
ef product add lamp "$ex/config.csv" --table t.csv >/dev/null || fail "product add"
openssl ecparam -name prime256v1 -genkey -noout -out ca.key 2>/dev/null
openssl req -new -x509 -key ca.key -subj "/CN=test CA" -days 30 -out ca.pem 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out other.key 2>/dev/null

prof() { # file json
	printf '%s\n' "$2" > "$1"
}
expect_fail() { # want-line profile-file
	ef certs profile lamp "$2" > out 2> err; rc=$?
	[ $rc -eq 1 ] || fail "$2: exit $rc"
	[ "$(cat err)" = "$1" ] || fail "$2: got '$(cat err)', want '$1'"
	[ -s out ] && fail "$2: printed $(cat out)"
}
prof nomac.json '{"subject": [["CN", "fixed"]], "ca_cert": "ca.pem", "ca_key": "ca.key"}'
expect_fail "espfab certs: nomac.json: identity profile: the subject must contain {mac} or {mac_hex}" nomac.json
prof bad.json '{"subject": [["CN", "{mac}"]], "ca_cert": "ca.pem", "ca_key": "ca.key",'
expect_fail "espfab certs: bad.json: identity profile: line 2: string or '}' expected near end of file" bad.json
prof noca.json '{"subject": [["CN", "{mac}"]], "ca_cert": "missing.pem", "ca_key": "ca.key"}'
expect_fail "espfab certs: missing.pem: No such file or directory" noca.json
prof wrongkey.json '{"subject": [["CN", "{mac}"]], "ca_cert": "ca.pem", "ca_key": "other.key"}'
expect_fail "espfab certs: wrongkey.json: CA: the key does not belong to the CA certificate" wrongkey.json
prof label.json '{"subject": [["CN", "{mac}"]], "ca_cert": "ca.pem", "ca_key": "ca.key", "partition": "certs"}'
expect_fail "espfab certs: product lamp: no 'certs' partition in its table" label.json
prof nvs.json '{"subject": [["CN", "{mac}"]], "ca_cert": "ca.pem", "ca_key": "ca.key", "partition": "nvs"}'
expect_fail "espfab certs: product lamp: partition 'nvs' is of type 0x01, an esp_secure_cert partition is 0x3F" nvs.json
ef audit --json | grep -q '"identity"' && fail "a refused profile was audited"

prof ok.json "{\"subject\": [[\"CN\", \"{mac}\"]], \"ca_cert\": \"$dir/ca.pem\", \"ca_key\": \"$dir/ca.key\"}"
ef certs profile lamp ok.json > out 2>err || fail "good profile: $(cat err)"
grep -q '^product lamp: identity profile set: ECDSA P-256 key, esp_secure_cert at 0xf000+0x2000, CA sha256 [0-9a-f]\{64\}$' out ||
	fail "profile line: $(cat out)"
ef certs profile lamp ok.json 2>err >/dev/null && fail "a second profile was accepted"
grep -q 'already has an identity profile' err || fail "second profile: $(cat err)"
ef audit --json | python3 -c "import json,sys; a=json.load(sys.stdin)['audit']; assert sum(1 for x in a if x['result']=='identity')==1" ||
	fail "the profile is not audited once"

ef certs list > out || fail "list exit"
[ "$(wc -l < out)" -eq 1 ] || fail "empty list: $(cat out)"
ef certs list --json | python3 -c "import json,sys; assert json.load(sys.stdin)=={'certificates':[]}" || fail "list --json"
ef certs show 24:0a:c4:00:00:01 2>err; rc=$?
[ $rc -eq 1 ] || fail "show unknown exit $rc"
[ "$(cat err)" = "espfab certs: no certificate for 24:0a:c4:00:00:01" ] || fail "show unknown: $(cat err)"
ef certs show nonsense 2>err; [ $? -eq 1 ] || fail "show bad MAC"
grep -q "bad MAC address 'nonsense'" err || fail "bad MAC line: $(cat err)"
ef certs export > out || fail "export exit"
[ -s out ] && fail "empty export printed $(cat out)"
ef certs list --state bogus 2>err; [ $? -eq 2 ] || fail "bad --state exit"
ef certs frobnicate 2>err; [ $? -eq 2 ] || fail "unknown command exit"

if [ $fails -ne 0 ]; then
	echo "$fails failure(s)"
	exit 1
fi
echo "certs_cli: all checks passed"
