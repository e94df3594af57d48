#!/bin/sh
# socket://NAME:PORT when the name server never answers: the port's connect
# deadline (5 s) bounds the wait, not resolv.conf's timeouts (30 s here).
# Runs in a private mount namespace whose /etc/resolv.conf names a local
# UDP socket that reads queries and answers none; needs root and
# unshare(1), else skipped (77).
#   tcp_resolver.sh ESPFAB
set -eu
ESPFAB=$1
if [ "${2:-}" != --inner ]; then
	if [ "$(id -u)" != 0 ] || ! unshare -m true 2>/dev/null; then
		echo "not root or no mount namespaces: skipped"
		exit 77
	fi
	exec unshare -m "$0" "$ESPFAB" --inner
fi

T=$(mktemp -d /tmp/espfab-resolver.XXXXXX)
D=""
trap 'kill $D 2>/dev/null || true; rm -rf "$T"' EXIT
printf 'nameserver 127.0.0.2\noptions timeout:30 attempts:1\n' >"$T/resolv.conf"
mount --bind "$T/resolv.conf" /etc/resolv.conf
python3 -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('127.0.0.2', 53))
open('$T/ready', 'w').close()
while True:
    s.recvfrom(2048)
" &
D=$!
for _ in $(seq 50); do
	[ -e "$T/ready" ] && break
	sleep 0.1
done
[ -e "$T/ready" ] || { echo "FAIL: the silent name server did not start"; exit 1; }

t0=$(date +%s%N)
rc=0
"$ESPFAB" flash --port socket://slot7.line.example:4000 chip-id >"$T/out" 2>"$T/err" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$rc" != 0 ] || { echo "FAIL: an unresolvable port worked"; exit 1; }
grep -q "cannot resolve 'slot7.line.example': no answer before the deadline" "$T/err" ||
	{ echo "FAIL: message: $(cat "$T/err")"; exit 1; }
[ "$(wc -l <"$T/err")" = 1 ] || { echo "FAIL: not one line: $(cat "$T/err")"; exit 1; }
[ "$ms" -ge 4500 ] && [ "$ms" -lt 15000 ] || { echo "FAIL: gave up after $ms ms (deadline 5000)"; exit 1; }
echo "ok: gave up after $ms ms with: $(cat "$T/err")"
