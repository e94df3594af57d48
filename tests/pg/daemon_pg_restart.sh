#!/bin/sh
# Held results survive espfabd's own death during an outage:
#   daemon_pg_restart.sh BIN_DIR [hmac]
# Three simulated devices are claimed, the server stops while they are
# written, their results are held (in the outbox journal on the station's
# disk). espfabd is killed with SIGKILL, started again while the server is
# still down (it must wait for it, not give up), then the server starts.
# The verified marks must arrive, in the order the devices finished, each
# once, before startup recovery runs (no job is marked interrupted), and
# the journal must be empty again.
# hmac: the product's NVS is encrypted with a key burnt into each board's
# eFuses; the server stops once the three keys are burnt, so each held
# result carries the HMAC bits, and after the restart every device's key
# row must reach "done" (what the result means beyond "verified").
set -eu
BIN=$(cd "$1" && pwd)
MODE=${2:-plain}
. "$(dirname "$0")/daemon_pg_lib.sh"
if [ "$MODE" = hmac ]; then
	pgd_setup restart --nvs-encryption hmac --hmac-key-block BLOCK_KEY1
else
	pgd_setup restart
fi
held() {
	ef_cli status --json | ef_py 'j["store"]["held_results"]'
}
J=$ef_dir/outbox.journal
printf 'outbox = %s\n' "$J" >"$ef_dir/espfabd.conf"
set -- --config "$ef_dir/espfabd.conf" --db "$DB" --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3"

# different erase times: the devices finish one after another
ef_sim d1 24:0a:c4:00:0c:01 --erase-ms 200
ef_sim d2 24:0a:c4:00:0c:02 --erase-ms 300
ef_sim d3 24:0a:c4:00:0c:03 --erase-ms 400
ef_daemon "$@"
ef_cli batch add --product lamp --count 3 >/dev/null
if [ "$MODE" = hmac ]; then
	# the writes (erases of ~1 s) follow the burns: stop the server in them
	burnt_3() { [ "$(grep -c 'BLOCK_KEY1: key-burnt' "$ef_dir/daemon.log")" -ge 3 ]; }
	wait_for 30 burnt_3 || ef_die "three keys were not burnt"
else
	claimed_3() { [ "$(grep -c 'claimed record' "$ef_dir/daemon.log")" -ge 3 ]; }
	wait_for 30 claimed_3 || ef_die "three claims did not happen"
	# The first device's write takes ~0.2 s: stop the server inside it (a
	# status poll could miss a step that short), so all three results are held.
	sleep 0.2
fi
pgfx_stop_server
held_3() { [ "$(held)" -ge 3 ]; }
wait_for 30 held_3 || ef_die "results not held: $(ef_cli status --json)"
[ "$(stat -c %s "$J")" -gt 8 ] || ef_die "the held results are not in the journal $J"
# the order the devices finished in, as the first run logged their results
first=$(sed -n 's/.*record \([^ ]*\): verified in .*/\1/p' "$ef_dir/daemon.log" | tr '\n' ' ')
[ "$(echo "$first" | wc -w)" = 3 ] || ef_die "want 3 verified results in the first run's log, got '$first'"
kill -9 "$ef_daemon_pid"
wait "$ef_daemon_pid" 2>/dev/null || true
ef_forget "$ef_daemon_pid"
mark=$(wc -l <"$ef_dir/daemon.log")

# started again while the server is still down: it waits for it
"$BIN/espfabd" --foreground --socket "$ef_dir/sock" --station e2e --before no_reset "$@" >>"$ef_dir/daemon.log" 2>&1 &
ef_daemon_pid=$!
ef_pids="$ef_pids $ef_daemon_pid"
ef_wait_log "waiting for the database" 20
# not a wait for an event: a window in which espfabd must keep waiting
sleep 1.5
kill -0 "$ef_daemon_pid" 2>/dev/null || ef_die "espfabd gave up while the server was down"
pgfx_start_server
up() {
	kill -0 "$ef_daemon_pid" 2>/dev/null || ef_die "espfabd exited after the server came back"
	"$BIN/espfab" --socket "$ef_dir/sock" status >/dev/null 2>&1
}
wait_for 60 up || ef_die "espfabd did not come up after the server was back"
second=$(tail -n +"$((mark + 1))" "$ef_dir/daemon.log")
echo "$second" | grep -q "3 held results from $J to deliver" || ef_die "the restart did not load 3 held results"
echo "$second" | grep -q "recovered .* interrupted" &&
	ef_die "recovery marked jobs interrupted: held results were not delivered first"
again=$(echo "$second" | sed -n 's/.*held result of record \([^ ]*\) delivered.*/\1/p' | tr '\n' ' ')
[ "$again" = "$first" ] || ef_die "held results delivered as '$again', want the finishing order '$first'"
[ "$(held)" = 0 ] || ef_die "results still held after the restart"
[ "$(stat -c %s "$J")" = 8 ] || ef_die "the journal is not empty after delivery ($(stat -c %s "$J") bytes)"
for n in 1 2 3; do
	case "$(ef_record_of 24:0a:c4:00:0c:0$n)" in
	*" verified") ;;
	*) ef_die "device d$n: record '$(ef_record_of 24:0a:c4:00:0c:0$n)', want one verified" ;;
	esac
	if [ "$MODE" = hmac ]; then
		st=$(pgfx_psql -d "$DB" -c "SELECT state FROM device_hmac_keys WHERE mac = '24:0a:c4:00:0c:0$n'")
		[ "$st" = done ] || ef_die "device d$n: HMAC key row '$st' after delivery, want done"
	else
		ef_check_device d$n 24:0a:c4:00:0c:0$n
	fi
done
# each verified mark once, in the finishing order, on the server
audit=$("$BIN/espfab" --db "$DB" audit --json |
	ef_py '" ".join(a["record_id"] for a in sorted(j["audit"], key=lambda a: a["id"]) if a.get("event") == "provision" and a.get("result") == "ok") + " "')
[ "$audit" = "$first" ] || ef_die "provision rows on the server: '$audit', want '$first' (each once, in order)"
"$BIN/espfab" --db "$DB" records check >/dev/null || ef_die "records check failed"
echo "daemon_pg_restart $MODE: ok"
