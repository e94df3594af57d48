#!/bin/sh
# espfab-web.service as systemd reads it: systemd-analyze verify (pointed at
# the binary under test) and its sandboxing exposure.
#   web_unit.sh BIN_DIR CONFIGURED_UNIT
set -eu
BIN=$(cd "$1" && pwd)
unit=$2
command -v systemd-analyze >/dev/null 2>&1 || { echo "FAIL: systemd-analyze not installed (tools/deps: systemd)" >&2; exit 1; }
dir=$(mktemp -d /tmp/espfab-web-unit.XXXXXX)
trap 'rm -rf "$dir"' EXIT INT TERM
sed "s#^ExecStart=[^ ]*/espfab-web #ExecStart=$BIN/espfab-web #" "$unit" >"$dir/espfab-web.service"
grep -q "^ExecStart=$BIN/espfab-web " "$dir/espfab-web.service" || { echo "FAIL: no ExecStart line to point at the build" >&2; exit 1; }
systemd-analyze verify --man=no "$dir/espfab-web.service" || { echo "FAIL: systemd-analyze verify refused espfab-web.service" >&2; exit 1; }
out=$(systemd-analyze security --offline=true --threshold=30 "$dir/espfab-web.service" 2>&1) ||
	{ echo "FAIL: sandboxing weaker than an exposure of 3.0: $(echo "$out" | tail -1)" >&2; exit 1; }
echo "espfab-web.service verified; $(echo "$out" | tail -1)"
echo "1 passed, 0 failed"
