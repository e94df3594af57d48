#!/bin/sh
# End-to-end tests of espfabd with real processes: the daemon, the espfab
# command and several espfab-sim devices on ptys.
#   daemon_e2e.sh BIN_DIR SCENARIO
# Scenarios: batch, chips, drop, kill9, control, sigterm, uplink. Each is bounded in time
# and stops every process it started (by PID).
set -eu
BIN=$(cd "$1" && pwd)
SCENARIO=$2
EX=$(cd "$(dirname "$0")/../../examples/lamp" && pwd)
. "$(dirname "$0")/daemon_lib.sh"

ef_setup
ef_db_init "$ef_dir/db"

check_store() { ef_check_store; }

case "$SCENARIO" in
batch)
	# Three devices, one batch of three: every flash holds exactly its record.
	ef_sim d1 24:0a:c4:00:01:01
	ef_sim d2 24:0a:c4:00:01:02
	ef_sim d3 24:0a:c4:00:01:03
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3"
	id=$(ef_cli batch add --product lamp --count 3 | awk '{ print $2 }')
	ef_wait_batch "$id" 60
	v=$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')
	[ "$v" = 3 ] || ef_die "batch verified $v, want 3"
	for n in 1 2 3; do
		ef_check_device d$n 24:0a:c4:00:01:0$n
	done
	check_store
	# The audit names every device once as provisioned.
	n=$("$BIN/espfab" --db "$ef_dir/db" audit --json |
		ef_py 'sum(1 for a in j["audit"] if a.get("event") == "provision" and a.get("result") == "ok")')
	[ "$n" = 3 ] || ef_die "audit has $n provisioned rows, want 3"
	# status --json is well-formed and shows the three ports done.
	ef_cli status --json | ef_py 'sorted(p["ok"] for p in j["ports"])' | grep -q '\[1, 1, 1\]' ||
		ef_die "status does not show one device per port"
	;;
chips)
	# One batch across chip families: an original ESP32 (whose ROM answers
	# GET_SECURITY_INFO as an unknown command), an ESP32-C3 and an ESP32-S3
	# are provisioned; an ESP32 with flash encryption on (FLASH_CRYPT_CNT in
	# its eFuse) is refused before anything is claimed or written.
	ef_sim d1 24:0a:c4:00:05:01 --chip esp32
	ef_sim d2 24:0a:c4:00:05:02 --chip esp32c3
	ef_sim d3 24:0a:c4:00:05:03
	ef_sim d4 24:0a:c4:00:05:04 --chip esp32 --flash-crypt-cnt 1
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3" --port s4="$ef_dir/d4"
	id=$(ef_cli batch add --product lamp --count 3 | awk '{ print $2 }')
	ef_wait_batch "$id" 60
	v=$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')
	[ "$v" = 3 ] || ef_die "batch verified $v, want 3"
	for n in 1 2 3; do
		ef_check_device d$n 24:0a:c4:00:05:0$n
	done
	# The three healthy boards took the whole batch (a board gets work only
	# with a place in it); one more place goes to the encrypted board.
	ef_cli batch add --product lamp --count 1 >/dev/null
	ef_wait_log "flash encryption is enabled" 30
	rec=$(ef_record_of 24:0a:c4:00:05:04)
	[ -z "$rec" ] || ef_die "the flash-encrypted ESP32 holds a record: '$rec'"
	if dd if="$ef_dir/d4.flash" bs=4096 skip=9 count=6 2>/dev/null | tr -d '\377' | grep -q .; then
		ef_die "the flash-encrypted ESP32 was written"
	fi
	check_store
	;;
drop)
	# A device that stops answering mid-write fails cleanly; its record stays
	# bound to its MAC; the same MAC returning gets the same record.
	# The board goes silent in the middle of the erase/write (SIGSTOP: the
	# pty stays open, nothing answers), like a pulled pogo-pin contact.
	ef_sim d1 24:0a:c4:00:02:01 --erase-ms 400
	sim=$ef_last_pid
	ef_daemon --port s1="$ef_dir/d1"
	id=$(ef_cli batch add --product lamp --count 1 | awk '{ print $2 }')
	ef_wait_log "claimed record" 30
	sleep 0.3
	kill -STOP "$sim"
	ef_wait_log "result=failed" 60
	grep "result=failed" "$ef_dir/daemon.log" | grep -q "write:" || ef_die "the failure was not in the write step"
	rec=$(ef_record_of 24:0a:c4:00:02:01)
	case "$rec" in
	*" sent") ;;
	*) ef_die "after the drop the record is '$rec', want one bound in state sent" ;;
	esac
	first=${rec%% *}
	grep -q "result=failed" "$ef_dir/daemon.log" || ef_die "no failed result logged"
	# The board comes back (same MAC, healthy now).
	kill -KILL "$sim"
	ef_forget "$sim"
	wait "$sim" 2>/dev/null || true
	ef_sim d1 24:0a:c4:00:02:01
	ef_wait_batch "$id" 60
	rec=$(ef_record_of 24:0a:c4:00:02:01)
	[ "$rec" = "$first verified" ] || ef_die "returning MAC got '$rec', want '$first verified'"
	ef_check_device d1 24:0a:c4:00:02:01
	check_store
	;;
kill9)
	# kill -9 mid-batch, restart: the batch finishes, nothing lost or duplicated.
	for n in 1 2 3 4; do
		ef_sim d$n 24:0a:c4:00:03:0$n --erase-ms 400
	done
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3" --port s4="$ef_dir/d4"
	id=$(ef_cli batch add --product lamp --count 4 | awk '{ print $2 }')
	ef_wait_log "claimed record" 30
	sleep 0.5
	kill -9 "$ef_daemon_pid"
	ef_forget "$ef_daemon_pid"
	wait "$ef_daemon_pid" 2>/dev/null || true
	check_store
	# The devices that were mid-write are still in the loader: they answer
	# the restarted daemon with the same MAC and get the same record.
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3" --port s4="$ef_dir/d4"
	grep -q "recovered" "$ef_dir/daemon.log" || ef_die "no recovery reported after kill -9"
	ef_wait_batch "$id" 90
	v=$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')
	[ "$v" = 4 ] || ef_die "batch verified $v after restart, want 4"
	for n in 1 2 3 4; do
		ef_check_device d$n 24:0a:c4:00:03:0$n
	done
	used=$("$BIN/espfab" --db "$ef_dir/db" records list --json | ef_py 'sum(1 for r in j["records"] if r["mac"])')
	[ "$used" = 4 ] || ef_die "$used records bound for 4 devices"
	check_store
	;;
control)
	# Malformed, oversized, versionless and unauthorised requests are refused
	# without harm; a second daemon refuses to take the socket.
	ef_daemon
	S=$ef_dir/sock
	out=$(printf 'not json\n{"v":1,"id":2,"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$S")
	echo "$out" | head -1 | grep -q '"code":"malformed"' || ef_die "malformed line not refused: $out"
	echo "$out" | sed -n 2p | grep -q '"ok":true' || ef_die "client not served after a malformed line"
	out=$(printf '{"id":3,"op":"status"}\n' | socat -t 2 - UNIX-CONNECT:"$S")
	echo "$out" | grep -q '"code":"version"' || ef_die "missing version not refused: $out"
	out=$(printf '{"v":1,"id":4,"op":"batch.add","product":"lamp","count":-1}\n' | socat -t 2 - UNIX-CONNECT:"$S")
	echo "$out" | grep -q '"code":"arg"' || ef_die "bad count not refused: $out"
	out=$(python3 -c 'import sys; sys.stdout.write("x" * 100000 + "\n")' | socat -t 3 - UNIX-CONNECT:"$S" || true)
	echo "$out" | grep -q '"code":"too_long"' || ef_die "oversized line not refused"
	if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
		chmod 0755 "$ef_dir"
		chmod 0666 "$S" # let the kernel pass nobody: the daemon's own check must refuse
		out=$(printf '{"v":1,"id":5,"op":"status"}\n' |
			setpriv --reuid=65534 --regid=65534 --clear-groups socat -t 2 - UNIX-CONNECT:"$S" || true)
		echo "$out" | grep -q '"code":"denied"' || ef_die "unauthorised client not refused: $out"
		echo "$out" | grep -q '"ok":true' && ef_die "unauthorised client was served"
		grep -q "refused uid 65534" "$ef_dir/daemon.log" || ef_die "refusal not logged"
		chmod 0660 "$S"
	else
		echo "note: not root, permission check skipped"
	fi
	# Still healthy.
	ef_cli status >/dev/null || ef_die "daemon unhealthy after bad clients"
	if "$BIN/espfabd" --foreground --db "$ef_dir/db2" --socket "$S" >"$ef_dir/second.log" 2>&1; then
		ef_die "a second espfabd started on a live socket"
	fi
	grep -q "another espfabd is already listening" "$ef_dir/second.log" || ef_die "second instance: $(cat "$ef_dir/second.log")"
	ef_cli status >/dev/null || ef_die "the second instance disturbed the first"
	;;
sigterm)
	# SIGTERM mid-write: exit 0, and the record is verified or stays bound.
	ef_sim d1 24:0a:c4:00:04:01 --erase-ms 300
	ef_daemon --port s1="$ef_dir/d1"
	id=$(ef_cli batch add --product lamp --count 1 | awk '{ print $2 }')
	ef_wait_log "claimed record" 30
	sleep 0.3
	kill -TERM "$ef_daemon_pid"
	rc=0
	for _ in $(seq 300); do
		kill -0 "$ef_daemon_pid" 2>/dev/null || break
		sleep 0.1
	done
	kill -0 "$ef_daemon_pid" 2>/dev/null && ef_die "espfabd still running 30 s after SIGTERM"
	wait "$ef_daemon_pid" || rc=$?
	ef_forget "$ef_daemon_pid"
	[ "$rc" = 0 ] || ef_die "espfabd exited $rc after SIGTERM"
	grep -q "stopped cleanly" "$ef_dir/daemon.log" || ef_die "no clean stop logged"
	[ ! -e "$ef_dir/sock" ] || ef_die "socket left behind"
	rec=$(ef_record_of 24:0a:c4:00:04:01)
	case "$rec" in
	*" verified" | *" sent") ;;
	*) ef_die "record after SIGTERM: '$rec'" ;;
	esac
	check_store
	;;
uplink)
	# The audit trail reaches a plant system over HTTP: every row exactly
	# once and in order, through refusals (503), the system being down and
	# a daemon restart; the URL's password and the token never reach a log.
	mes() { # [--fail N] [--port P]
		rm -f "$ef_dir/mes.port"
		python3 "$(dirname "$0")/fake_mes.py" "$ef_dir/mes.port" "$ef_dir/mes.rows" "$@" &
		mes_pid=$!
		ef_pids="$ef_pids $mes_pid"
		for _ in $(seq 100); do
			[ -s "$ef_dir/mes.port" ] && break
			sleep 0.1
		done
		port=$(cat "$ef_dir/mes.port")
	}
	# Every audit row of the database arrived once, in id order.
	delivered() { # timeout
		end=$(($(date +%s) + $1))
		while :; do
			"$BIN/espfab" --db "$ef_dir/db" audit --json >"$ef_dir/audit.json"
			python3 - "$ef_dir/audit.json" "$ef_dir/mes.rows" <<'EOF' && return 0
import json, sys
want = [r['id'] for r in json.load(open(sys.argv[1]))['audit']]
try:
    got = [json.loads(l) for l in open(sys.argv[2])]
except FileNotFoundError:
    got = []
ids = [g['row']['id'] for g in got]
if ids != sorted(ids) or len(ids) != len(set(ids)):
    print('out of order or twice: %s' % ids, file=sys.stderr)
    sys.exit(2)
sys.exit(0 if ids == want else 1)
EOF
			rc=$?
			[ "$rc" = 1 ] || ef_die "the plant system got rows twice or out of order"
			[ "$(date +%s)" -lt "$end" ] || ef_die "audit rows not all delivered after $1 s"
			sleep 0.3
		done
	}
	printf 'tok-5f1e2d\n' >"$ef_dir/token"
	mes --fail 2
	cat >"$ef_dir/espfabd.conf" <<EOF
uplink = http://mes:s3cret-pw@127.0.0.1:$port/espfab/audit
uplink_token = $ef_dir/token
EOF
	ef_sim d1 24:0a:c4:00:05:01
	ef_sim d2 24:0a:c4:00:05:02
	ef_daemon --config "$ef_dir/espfabd.conf" --port u1="$ef_dir/d1" --port u2="$ef_dir/d2"
	id=$(ef_cli batch add --product lamp --count 2 | awk '{ print $2 }')
	ef_wait_batch "$id" 60
	delivered 30
	grep -q "uplink to http://127.0.0.1:$port: answered HTTP 503" "$ef_dir/daemon.log" ||
		ef_die "the refusal was not logged"
	grep -q "delivering again after 2 failed attempts" "$ef_dir/daemon.log" || ef_die "no recovery logged"
	python3 - "$ef_dir/mes.rows" <<'EOF' || ef_die "rows arrived without station, path, type or token"
import json, sys
got = [json.loads(l) for l in open(sys.argv[1])]
assert all(g['station'] == 'e2e' and g['v'] == 1 and g['path'] == '/espfab/audit' for g in got), got[0]
assert all(g['auth'] == 'Bearer tok-5f1e2d' and g['type'] == 'application/json' for g in got)
assert sum(1 for g in got if g['row']['event'] == 'provision' and g['row']['result'] == 'ok') == 2
EOF
	ef_cli status --json | ef_py "j['uplink']['state'] + ' ' + str(j['uplink']['pending'])" | grep -qx "ok 0" ||
		ef_die "status does not show the uplink delivered"
	ef_cli status | grep -q "^uplink to http://127.0.0.1:$port: ok, delivered up to audit #[0-9]*, 0 pending$" ||
		ef_die "status (text) does not show the uplink"

	# The plant system goes down: rows wait in the trail, across a restart.
	kill "$mes_pid"
	wait "$mes_pid" 2>/dev/null || true
	ef_forget "$mes_pid"
	ef_sim d3 24:0a:c4:00:05:03
	kill -TERM "$ef_daemon_pid"
	wait "$ef_daemon_pid" 2>/dev/null || true
	ef_forget "$ef_daemon_pid"
	ef_daemon --config "$ef_dir/espfabd.conf" --port u3="$ef_dir/d3"
	id=$(ef_cli batch add --product lamp --count 1 | awk '{ print $2 }')
	ef_wait_batch "$id" 60
	ef_wait_log "uplink to http://127.0.0.1:$port: .*connect.*audit rows wait, retrying" 20
	ef_cli status --json | ef_py "j['uplink']['state'] == 'retrying' and j['uplink']['pending'] > 0" |
		grep -qx True || ef_die "status does not show rows waiting"
	mes --port "$port"
	delivered 40
	# Neither the URL's password nor the token is in the log.
	! grep -q -e s3cret-pw -e tok-5f1e2d "$ef_dir/daemon.log" || ef_die "a credential reached the log"
	;;
*)
	ef_die "unknown scenario $SCENARIO"
	;;
esac
echo "ok: $SCENARIO"
