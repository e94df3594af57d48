#!/bin/sh
# Per-device identities end to end on a PostgreSQL inventory: the scenarios
# of tests/integration/identity_e2e.sh (certificates issued by espfabd,
# written to simulated boards, recorded and audited once, kept keys sealed,
# a returning device given the same certificate), with the store on a
# server each scenario starts for itself (pg_fixture.sh; no server, no pass).
#   identity_pg.sh BIN_DIR [SCENARIO...]     (default: batch ca_fail keep_keys)
set -eu
BIN=$1
shift
HERE=$(cd "$(dirname "$0")" && pwd)
for s in ${*:-batch ca_fail keep_keys}; do
	sh "$HERE/../integration/identity_e2e.sh" "$BIN" "$s" pg || { echo "identity_pg: scenario $s failed" >&2; exit 1; }
done
echo "identity_pg: ok"
