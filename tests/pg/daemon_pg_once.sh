#!/bin/sh
# Exactly once (issue 11): a held result whose "delivered" mark never
# reached the outbox journal is sent again after a restart, and the server
# stores it once.
#   daemon_pg_once.sh BIN_DIR
# Two simulated devices get work while the server is up: d1 is claimed and
# being written; d3 is still in its firmware write, before any claim. The
# server stops; d3 stops answering (SIGSTOP), so it fails without a claim
# (its result is an audit row only); d1 finishes. Both results are held. A
# copy of the journal is kept: the state a crash between the server's
# COMMIT and the journal's "delivered" mark leaves behind. The server comes
# back, both are delivered; espfabd is killed (SIGKILL), the copy put back
# and espfabd started again: both results are sent again, and the server
# must answer each as stored already: one provision row for d1, one
# attempt row for d3, no state error, nothing held afterwards.
set -eu
BIN=$(cd "$1" && pwd)
. "$(dirname "$0")/daemon_pg_lib.sh"
ef_setup
trap 'ef_cleanup; pgfx_stop' EXIT INT TERM
pgfx_start
DB=$(pgfx_createdb once)
# firmware images: a device spends a while in the firmware write, before
# its claim (the window in which d3 fails)
"$BIN/espfab" --db "$DB" product add lamp "$EX/config.csv" --table "$EX/partitions.csv" --unique DeviceSecret \
	--firmware "$EX/firmware/flasher_args.json" >/dev/null || ef_die "product add"
"$BIN/espfab" --db "$DB" records import --product lamp "$EX/values.csv" >/dev/null || ef_die "records import"
held() {
	ef_cli status --json | ef_py 'j["store"]["held_results"]'
}
rows() { # python condition over a (an audit row): how many rows match
	"$BIN/espfab" --db "$DB" audit --json | ef_py "sum(1 for a in j['audit'] if $1)"
}
J=$ef_dir/outbox.journal
printf 'outbox = %s\n' "$J" >"$ef_dir/espfabd.conf"
set -- --config "$ef_dir/espfabd.conf" --db "$DB" --port s1="$ef_dir/d1" --port s3="$ef_dir/d3"
M1=24:0a:c4:00:0d:01 M3=24:0a:c4:00:0d:03

ef_sim d1 $M1 --erase-ms 400
d1=$ef_last_pid
# 2.5 s a sector: its four firmware sectors take 10 s, each erase within
# the ROM's 3 s timeout
ef_sim d3 $M3 --erase-ms 2500
d3=$ef_last_pid
ef_daemon "$@"
ef_cli batch add --product lamp --count 2 >/dev/null
ef_wait_step s3 firmware 30
ef_wait_step s1 write 60
pgfx_stop_server
kill -STOP "$d3"
held_2() { [ "$(held)" -ge 2 ]; }
wait_for 90 held_2 || ef_die "results not held: $(ef_cli status --json)"
grep 'record -: failed' "$ef_dir/daemon.log" | grep -q "firmware" || ef_die "d3 did not fail in its firmware write"
cp "$J" "$ef_dir/journal.before-marks"
pgfx_start_server
delivered() { [ "$(held)" = 0 ]; }
wait_for 60 delivered || ef_die "held results not delivered: $(ef_cli status --json)"
one_each() {
	[ "$(rows "a.get('mac') == '$M1' and a['event'] == 'provision' and a['result'] == 'ok'")" = 1 ] &&
		[ "$(rows "a.get('mac') == '$M3' and a['event'] == 'attempt'")" = 1 ]
}
one_each || ef_die "after the first delivery: want one provision row for d1 and one attempt row for d3"
total=$(rows True)
kill -9 "$ef_daemon_pid" "$d1" "$d3"
for p in "$ef_daemon_pid" "$d1" "$d3"; do
	wait "$p" 2>/dev/null || true
	ef_forget "$p"
done
# the crash's leftovers: both results held, neither marked delivered
cp "$ef_dir/journal.before-marks" "$J"
mark=$(wc -l <"$ef_dir/daemon.log")
ef_daemon "$@"
ef_wait_log "2 held results from $J to deliver" 20
wait_for 60 delivered || ef_die "held results not delivered after the restart: $(ef_cli status --json)"
one_each || ef_die "after the repeat: want still one provision row for d1 and one attempt row for d3 (d3: $(rows "a.get('mac') == '$M3'"))"
[ "$(rows True)" = "$total" ] || ef_die "the repeat added audit rows: $(rows True), want $total"
second=$(tail -n +"$((mark + 1))" "$ef_dir/daemon.log")
echo "$second" | grep 'store: held result of record [^ ]*: ' &&
	ef_die "a held result sent again was refused instead of recognised as stored"
[ "$(echo "$second" | grep -c 'held result of record .* delivered')" = 2 ] ||
	ef_die "the restart did not deliver both held results again: $second"
n=$(pgfx_psql -d "$DB" -c "SELECT count(DISTINCT delivery) FROM audit WHERE mac IN ('$M1', '$M3')")
[ "$n" = 2 ] || ef_die "$n delivery ids on the two results' rows, want 2"
[ "$(stat -c %s "$J")" = 8 ] || ef_die "the journal is not empty after delivery ($(stat -c %s "$J") bytes)"
case "$(ef_record_of $M1)" in
*" verified") ;;
*) ef_die "d1: record '$(ef_record_of $M1)', want one verified" ;;
esac
[ -z "$(ef_record_of $M3)" ] || ef_die "d3 holds a record: '$(ef_record_of $M3)'"
"$BIN/espfab" --db "$DB" records check >/dev/null || ef_die "records check failed"
echo "daemon_pg_once: ok"
