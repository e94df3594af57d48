#!/bin/sh
# `espfab product add --nvs-encryption hmac` on a PostgreSQL inventory: not
# supported there yet (docs/efuse.md). It must be refused with a message
# naming the setting, and leave nothing behind (the product is not added).
#   hmac_pg.sh ESPFAB
set -eu
E=$1
EX=$(cd "$(dirname "$0")/../../examples/lamp" && pwd)
. "$(dirname "$0")/pg_fixture.sh"
T=$(mktemp -d /tmp/espfab-hmac-pg.XXXXXX)
trap 'pgfx_stop; rm -rf "$T"' EXIT INT TERM
pgfx_start
DB=$(pgfx_createdb hmac)
fail() { echo "hmac_pg: $*" >&2; exit 1; }

if "$E" --db "$DB" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" \
	--nvs-encryption hmac --hmac-key-block BLOCK_KEY1 >"$T/out" 2>"$T/err"; then
	fail "accepted on PostgreSQL"
fi
grep -q -- "--nvs-encryption hmac needs the SQLite store: not on PostgreSQL yet" "$T/err" || fail "message: $(cat "$T/err")"
[ "$(wc -l <"$T/err")" = 1 ] || fail "more than one line: $(cat "$T/err")"
[ ! -s "$T/out" ] || fail "output on refusal: $(cat "$T/out")"
"$E" --db "$DB" product list --json | python3 -c "
import json, sys
assert json.load(sys.stdin)['products'] == []" || fail "the product was added anyway"
# plain products are unchanged there
"$E" --db "$DB" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" >/dev/null || fail "plain product"
echo "hmac_pg: ok"
