#!/bin/sh
# espfab-web must not hold the database or the serial ports: check that the
# binary links neither SQLite nor libserialport, and that it names no store
# or transport symbol (it is built from the socket client only).
#   web_isolation.sh PATH/espfab-web
set -eu
bin=$1
[ -x "$bin" ] || { echo "FAIL: $bin is not an executable" >&2; exit 1; }
needed=$(readelf -d "$bin" | awk '/NEEDED/ { print $NF }')
echo "$needed" | grep -q microhttpd || { echo "FAIL: $bin does not link libmicrohttpd: $needed" >&2; exit 1; }
for lib in sqlite serialport; do
	if echo "$needed" | grep -qi "$lib"; then
		echo "FAIL: espfab-web links $lib: $needed" >&2
		exit 1
	fi
done
syms=$(nm -C "$bin" 2>/dev/null | awk '{ print $NF }' | grep -E '^(store_|transport_|sp_open|sqlite3_)' || true)
if [ -n "$syms" ]; then
	echo "FAIL: espfab-web contains store or port code: $(echo "$syms" | head -5 | tr '\n' ' ')" >&2
	exit 1
fi
echo "espfab-web links: $(echo "$needed" | tr '\n' ' ')"
echo "1 passed, 0 failed"
