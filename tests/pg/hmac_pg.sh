#!/bin/sh
# HMAC NVS encryption end to end on a PostgreSQL inventory: the scenarios
# of tests/integration/hmac_e2e.sh (espfabd burning simulated boards' eFuse
# keys, their NVS encrypted with keys derived from them, the burn states
# and audit in the store, no key anywhere in clear), with the store on a
# server each scenario starts for itself (pg_fixture.sh; no server, no pass).
#   hmac_pg.sh BIN_DIR [SCENARIO...]     (default: batch refusals rework drops)
set -eu
BIN=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
for s in ${*:-batch refusals rework drops}; do
	sh "$HERE/../integration/hmac_e2e.sh" "$BIN" "$s" pg || { echo "hmac_pg: scenario $s failed" >&2; exit 1; }
done
echo "hmac_pg: ok"
