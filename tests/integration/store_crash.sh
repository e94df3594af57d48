#!/bin/sh
# kill -9 in the middle of imports and of claim/send/verify loops, repeated;
# after each round: recovery, then every record in exactly one valid state,
# no record on two devices, imports whole or absent.
#   store_crash.sh HELPER [ROUNDS]
set -u
HELPER=$1
ROUNDS=${2:-12}
CHUNK=500
DIR=$(mktemp -d /tmp/espfab-crash-XXXXXX)
DB=$DIR/crash.db
PIDS=""
cleanup() {
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$DIR"
}
trap cleanup EXIT INT TERM
fail() { echo "store_crash: $*" >&2; exit 1; }

"$HELPER" "$DB" init || fail "init"
"$HELPER" "$DB" import 1 $CHUNK || fail "first import"
next=$((CHUNK + 1))
round=1
while [ $round -le "$ROUNDS" ]; do
	PIDS=""
	"$HELPER" "$DB" import $next $CHUNK 2>/dev/null & PIDS="$PIDS $!"
	"$HELPER" "$DB" loop st1 $((round * 2)) 2>"$DIR/loop1.err" & PIDS="$PIDS $!"
	"$HELPER" "$DB" loop st2 $((round * 2 + 1)) 2>"$DIR/loop2.err" & PIDS="$PIDS $!"
	# a different moment each round: 20 to 400 ms
	ms=$(( (round * 7919) % 380 + 20 ))
	sleep "$(printf '0.%03d' $ms)"
	for p in $PIDS; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	PIDS=""
	# a loop that died by itself (not by our kill) is a failure
	for e in "$DIR/loop1.err" "$DIR/loop2.err"; do
		[ -s "$e" ] && fail "round $round: $(cat "$e")"
	done
	next=$((next + CHUNK))
	"$HELPER" "$DB" recover st1 >/dev/null || fail "round $round: recover st1"
	"$HELPER" "$DB" recover st2 >/dev/null || fail "round $round: recover st2"
	out=$("$HELPER" "$DB" check $CHUNK) || fail "round $round: check: $out"
	echo "round $round (killed after ${ms} ms): $out"
	round=$((round + 1))
done
echo "store_crash: $ROUNDS rounds, invariant held"
