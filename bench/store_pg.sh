#!/bin/sh
# Durable claims per second with 1, 4 and 8 station processes against one
# local PostgreSQL server (started here, tests/pg/pg_fixture.sh: fsync on,
# synchronous_commit on), next to SQLite on the same machine and disk.
#   bench/store_pg.sh [BUILD_DIR] [CLAIMS_PER_STATION]
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build}/bin/store_pg_bench
N=${2:-300}
[ -x "$B" ] || { echo "bench/store_pg.sh: build first ($B missing)" >&2; exit 1; }
. "$ROOT/tests/pg/pg_fixture.sh"
TMP=$(mktemp -d /tmp/espfab-pgbench-XXXXXX)
trap 'pgfx_stop; rm -rf "$TMP"' EXIT INT TERM
pgfx_start
echo "store_pg_bench: $N claims per station; claim/s = claim+release transactions (2 durable commits"
echo "per claim), device/s = claim, mark_sent, mark_verified (3 commits); ms/device of one station"
printf '%-10s %8s %12s %13s %16s\n' backend stations "commits/s" "devices/s" "ms/device/stn"
for k in 1 4 8; do
	"$B" "$TMP/b$k.db" "$k" "$N"
done
for k in 1 4 8; do
	"$B" "$(pgfx_createdb "b$k")" "$k" "$N"
done
