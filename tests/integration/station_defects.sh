#!/bin/sh
# Issue 17's station defects, end to end with real processes (espfabd,
# espfab, espfab-sim on ptys). Each scenario failed on the tree the issue
# was filed against.
#   station_defects.sh BIN_DIR SCENARIO
# config   the daemon's config file (database =) is the one the CLI uses; the
#          old spelling db = works for both, with a warning
# budget   8 boards, a batch of 4 of a product with firmware: 4 boards are
#          written, 4 are not touched; a batch no record can serve is refused;
#          a batch larger than the available records warns; the audit carries
#          each image's SHA-256
# cancel   a batch cancelled right after it was added: no board gets its
#          firmware, no record is claimed
# restart  boards verified in a still active batch are not written again
#          after the daemon restarts
# socket   --socket records/product/audit queries go through espfabd and
#          print what --db prints; --reveal is refused there
# sighup   SIGHUP reloads the ports: one added starts, one removed while busy
#          finishes its board first
# Bounded in time; every process started is stopped by PID.
set -eu
BIN=$(cd "$1" && pwd)
SCENARIO=$2
EX=$(cd "$(dirname "$0")/../../examples/lamp" && pwd)
. "$(dirname "$0")/wait.sh"
. "$(dirname "$0")/daemon_lib.sh"

ef_setup

# fw_product NAME APP_BYTES: a product with bootloader, table and an app of
# APP_BYTES incompressible bytes (so writing it takes wire time), 20 records.
fw_product() {
	fw=$ef_dir/fw-$1
	mkdir -p "$fw"
	python3 - "$fw" "$2" <<'PY'
import os, random, sys
d, n = sys.argv[1], int(sys.argv[2])
boot = bytearray((i * 7 + 1) & 255 for i in range(4096))
boot[0], boot[2], boot[3] = 0xE9, 2, 0x20  # magic, dio, 4MB: as flash_settings says
open(os.path.join(d, 'bootloader.bin'), 'wb').write(bytes(boot))
r = random.Random(17)
open(os.path.join(d, 'app.bin'), 'wb').write(bytes(r.getrandbits(8) for _ in range(n)))
PY
	cp "$ef_dir/pt.bin" "$fw/pt.bin"
	cat >"$fw/flasher_args.json" <<'JSON'
{
    "flash_settings" : { "flash_mode": "dio", "flash_size": "4MB", "flash_freq": "80m" },
    "flash_files" : { "0x0" : "bootloader.bin", "0x8000" : "pt.bin", "0x10000" : "app.bin" },
    "bootloader" : { "offset" : "0x0", "file" : "bootloader.bin", "encrypted" : "false" },
    "app" : { "offset" : "0x10000", "file" : "app.bin", "encrypted" : "false" },
    "partition-table" : { "offset" : "0x8000", "file" : "pt.bin", "encrypted" : "false" },
    "extra_esptool_args" : { "chip" : "esp32s3" }
}
JSON
	"$BIN/espfab" --db "$ef_dir/db" product add "$1" "$EX/config.csv" --table "$EX/partitions.csv" \
		--firmware "$fw/flasher_args.json" >/dev/null || ef_die "product add $1 --firmware"
	"$BIN/espfab" --db "$ef_dir/db" records import --product "$1" "$EX/values.csv" >/dev/null ||
		ef_die "records import $1"
}

# has_app NAME PRODUCT: the board's flash holds PRODUCT's whole app image.
has_app() {
	python3 - "$ef_dir/$1.flash" "$ef_dir/fw-$2/app.bin" <<'PY'
import sys
f = open(sys.argv[1], 'rb').read()
a = open(sys.argv[2], 'rb').read()
sys.exit(0 if f[0x10000:0x10000 + len(a)] == a else 1)
PY
}

# Count of audit rows matching a python condition on row a.
audit_count() {
	"$BIN/espfab" --db "$ef_dir/db" audit --json | ef_py "sum(1 for a in j['audit'] if $1)"
}

# status_says EXPR WANT: the python expression EXPR over espfab status --json
# prints WANT.
status_says() {
	[ "$(ef_cli status --json 2>/dev/null | ef_py "$1" 2>/dev/null)" = "$2" ]
}

# wait_idle TIMEOUT: until no port is busy.
wait_idle() {
	wait_for "$1" status_says 'sum(1 for p in j["ports"] if p["state"] == "busy")' 0 && return 0
	ef_cli status >&2 || true
	ef_die "ports still busy after $1 s"
}

case "$SCENARIO" in
config)
	ef_db_init "$ef_dir/cfg.db"
	cat >"$ef_dir/espfabd.conf" <<EOF
database = $ef_dir/cfg.db
socket = $ef_dir/sock
EOF
	# The CLI, given the daemon's config, opens the database it names.
	"$BIN/espfab" --config "$ef_dir/espfabd.conf" records stats >"$ef_dir/out" 2>"$ef_dir/err" ||
		ef_die "records stats with the daemon's config failed: $(cat "$ef_dir/err")"
	grep -q "^lamp .* 20 " "$ef_dir/out" || ef_die "records stats did not read $ef_dir/cfg.db: $(cat "$ef_dir/out")"
	[ ! -s "$ef_dir/err" ] || ef_die "unexpected stderr: $(cat "$ef_dir/err")"
	"$BIN/espfabd" --config "$ef_dir/espfabd.conf" --check-config >"$ef_dir/out" 2>&1 ||
		ef_die "espfabd refused its config: $(cat "$ef_dir/out")"
	grep -q "database $ef_dir/cfg.db" "$ef_dir/out" || ef_die "espfabd: $(cat "$ef_dir/out")"
	# The old spelling: accepted by both, each with one warning naming the line.
	printf '# old\ndb = %s\n' "$ef_dir/cfg.db" >"$ef_dir/old.conf"
	"$BIN/espfabd" --config "$ef_dir/old.conf" --check-config >"$ef_dir/out" 2>"$ef_dir/err" ||
		ef_die "espfabd refused db =: $(cat "$ef_dir/err")"
	grep -q "database $ef_dir/cfg.db" "$ef_dir/out" || ef_die "espfabd ignored db =: $(cat "$ef_dir/out")"
	grep -q "old.conf:2: 'db' is the old name of 'database'" "$ef_dir/err" ||
		ef_die "espfabd gave no warning for db =: $(cat "$ef_dir/err")"
	"$BIN/espfab" --config "$ef_dir/old.conf" records stats >"$ef_dir/out" 2>"$ef_dir/err" ||
		ef_die "espfab with db =: $(cat "$ef_dir/err")"
	grep -q "^lamp .* 20 " "$ef_dir/out" || ef_die "espfab did not read db =: $(cat "$ef_dir/out")"
	[ "$(grep -c "warning: .*old.conf:2: 'db' is the old name" "$ef_dir/err")" = 1 ] ||
		ef_die "espfab's warning: $(cat "$ef_dir/err")"
	# A broken config is an error naming file and line, not a silent default.
	printf 'database = %s\nbaud = fast\n' "$ef_dir/cfg.db" >"$ef_dir/bad.conf"
	if "$BIN/espfab" --config "$ef_dir/bad.conf" records stats >"$ef_dir/out" 2>"$ef_dir/err"; then
		ef_die "espfab used a broken config"
	fi
	grep -q "bad.conf:2: baud" "$ef_dir/err" || ef_die "broken config: $(cat "$ef_dir/err")"
	[ ! -s "$ef_dir/out" ] || ef_die "output despite the error"
	echo "ok: one config reader, database = and db = (warned)"
	;;
budget)
	fw_product lamp 8192
	"$BIN/espfab" --db "$ef_dir/db" product add empty "$EX/config.csv" --table "$EX/partitions.csv" >/dev/null ||
		ef_die "product add empty"
	python3 -c "open('$ef_dir/blank.flash', 'wb').write(b'\xff' * (4 << 20))"
	ports=""
	for n in 1 2 3 4 5 6 7 8; do
		cp "$ef_dir/blank.flash" "$ef_dir/d$n.flash"
		ef_sim d$n 24:0a:c4:00:17:0$n
		ports="$ports --port s$n=$ef_dir/d$n"
	done
	# shellcheck disable=SC2086
	ef_daemon $ports
	id=$(ef_cli batch add --product lamp --count 4 | awk '{ print $2 }')
	ef_wait_batch "$id" 120
	wait_idle 30
	written=0
	for n in 1 2 3 4 5 6 7 8; do
		if has_app d$n lamp; then
			written=$((written + 1))
			ef_check_device d$n 24:0a:c4:00:17:0$n
		else
			cmp -s "$ef_dir/d$n.flash" "$ef_dir/blank.flash" || ef_die "d$n was written to but not provisioned"
		fi
	done
	[ "$written" = 4 ] || ef_die "$written boards got the firmware for a batch of 4"
	[ "$(audit_count 'a["event"] == "provision" and a["result"] != "ok"')" = 0 ] ||
		ef_die "failed attempts in a batch of 4 on 8 boards"
	# Every provisioned row names its image's SHA-256: the NVS partition as on the board.
	"$BIN/espfab" --db "$ef_dir/db" audit --json >"$ef_dir/audit.json"
	for n in 1 2 3 4 5 6 7 8; do
		has_app d$n lamp || continue
		sha=$(dd if="$ef_dir/d$n.flash" bs=4096 skip=9 count=6 2>/dev/null | sha256sum | cut -d' ' -f1)
		ef_py "[a['image_sha256'] for a in j['audit'] if a['mac'] == '24:0a:c4:00:17:0$n' and a['result'] == 'ok']" \
			<"$ef_dir/audit.json" | grep -qx "\['$sha'\]" || ef_die "d$n: audit image_sha256 is not $sha"
	done
	# Zero available records: refused, nothing queued.
	if ef_cli batch add --product empty --count 1 >"$ef_dir/out" 2>"$ef_dir/err"; then
		ef_die "a batch of a product without records was accepted"
	fi
	grep -q "no available records" "$ef_dir/err" || ef_die "empty product: $(cat "$ef_dir/err")"
	[ "$(ef_cli batch list --json | ef_py 'len(j["batches"])')" = 1 ] || ef_die "a refused batch was queued"
	# Larger than what is available: queued, with a warning.
	ef_cli batch add --product lamp --count 50 >"$ef_dir/out" 2>"$ef_dir/err" || ef_die "batch of 50"
	grep -q "warning: batch of 50 but product 'lamp' has only 16 available records" "$ef_dir/err" ||
		ef_die "no warning for a batch over the available records: $(cat "$ef_dir/err")"
	echo "ok: 4 of 8 boards written for a batch of 4; empty product refused; over-size batch warned"
	;;
cancel)
	# 256 KiB of incompressible app: seconds on the wire per board.
	fw_product lamp 262144
	python3 -c "open('$ef_dir/blank.flash', 'wb').write(b'\xff' * (4 << 20))"
	ports=""
	for n in 1 2 3 4; do
		cp "$ef_dir/blank.flash" "$ef_dir/d$n.flash"
		ef_sim d$n 24:0a:c4:00:18:0$n
		ports="$ports --port s$n=$ef_dir/d$n"
	done
	# shellcheck disable=SC2086
	ef_daemon $ports
	# Every board identified and waiting first, so the add reaches them at once.
	wait_for 30 status_says 'sum(1 for p in j["ports"] if p.get("mac"))' 4 || ef_die "boards not identified"
	id=$(ef_cli batch add --product lamp --count 4 | awk '{ print $2 }')
	ef_cli batch cancel "$id" >/dev/null || ef_die "batch cancel"
	t0=$(date +%s)
	wait_idle 30
	[ $(($(date +%s) - t0)) -le 5 ] || ef_die "boards of a cancelled batch stayed busy for seconds"
	for n in 1 2 3 4; do
		if has_app d$n lamp; then ef_die "d$n got the whole firmware of a cancelled batch"; fi
	done
	[ "$(audit_count 'a["record_id"]')" = 0 ] || ef_die "a record was claimed for a cancelled batch"
	[ "$(ef_cli batch show "$id" | awk 'NR == 2 { print $3 }')" = cancelled ] || ef_die "batch not cancelled"
	echo "ok: a cancelled batch wrote no whole firmware and claimed nothing"
	;;
restart)
	ef_db_init "$ef_dir/db"
	ef_sim d1 24:0a:c4:00:19:01
	ef_sim d2 24:0a:c4:00:19:02
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2"
	id=$(ef_cli batch add --product lamp --count 4 | awk '{ print $2 }')
	verified_2() { [ "$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')" = 2 ]; }
	wait_for 60 verified_2 || ef_die "two boards not verified"
	wait_idle 30
	# A watcher off a terminal stays through the restart.
	"$BIN/espfab" --socket "$ef_dir/sock" watch --plain >"$ef_dir/watch.out" 2>&1 &
	watch_pid=$!
	ef_pids="$ef_pids $watch_pid"
	wait_for 10 grep -q "watching station" "$ef_dir/watch.out" || ef_die "espfab watch --plain did not connect"
	kill -TERM "$ef_daemon_pid"
	wait "$ef_daemon_pid" 2>/dev/null || true
	ef_forget "$ef_daemon_pid"
	# The boards stay seated; a new open of a simulator's pty finds it
	# power-cycled in the loader, as the restarted daemon does.
	sum1=$(sha256sum "$ef_dir/d1.flash" "$ef_dir/d2.flash")
	log0=$(wc -l <"$ef_dir/daemon.log")
	ef_daemon --port s1="$ef_dir/d1" --port s2="$ef_dir/d2"
	# Both boards answer the new daemon (and, before the fix, were written
	# again); then the daemon's decision for each: left alone.
	wait_for 30 status_says 'sorted(p["state"] for p in j["ports"])' "['done', 'done']" ||
		ef_die "ports not done after the restart: $(ef_cli status)"
	left_alone() { [ "$(tail -n +"$((log0 + 1))" "$ef_dir/daemon.log" | grep -c "already verified in batch $id")" -ge 2 ]; }
	wait_for 10 left_alone || true # the checks below say what happened instead
	[ "$(audit_count 'a["event"] == "provision"')" = 2 ] || ef_die "boards were provisioned again after the restart"
	[ "$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')" = 2 ] ||
		ef_die "the batch counted a board twice"
	[ "$sum1" = "$(sha256sum "$ef_dir/d1.flash" "$ef_dir/d2.flash")" ] || ef_die "a verified board was written again"
	kill -0 "$watch_pid" 2>/dev/null || ef_die "espfab watch exited when the daemon restarted: $(cat "$ef_dir/watch.out")"
	# The watcher reconnects on its own backoff: wait for that event too.
	wait_for 10 grep -q "reconnected to espfabd" "$ef_dir/watch.out" || true # the check below says what happened
	grep -q "connection to espfabd lost" "$ef_dir/watch.out" && grep -q "reconnected to espfabd" "$ef_dir/watch.out" ||
		ef_die "espfab watch --plain did not reconnect: $(cat "$ef_dir/watch.out")"
	grep -q "already verified in batch $id" "$ef_dir/daemon.log" || ef_die "the daemon did not see the boards"
	echo "ok: boards verified in the batch are left alone after a restart"
	;;
sighup)
	ef_db_init "$ef_dir/db"
	ef_sim d1 24:0a:c4:00:20:01 --erase-ms 400
	ef_sim d2 24:0a:c4:00:20:02
	printf '[port s1]\npath = %s\n' "$ef_dir/d1" >"$ef_dir/espfabd.conf"
	ef_daemon --config "$ef_dir/espfabd.conf"
	ports() { ef_cli status --json | ef_py '" ".join(sorted(p["name"] for p in j["ports"]))'; }
	[ "$(ports)" = s1 ] || ef_die "ports at start: $(ports)"
	# Added: s2 starts on SIGHUP, s1 is not touched.
	printf '[port s1]\npath = %s\n[port s2]\npath = %s\n' "$ef_dir/d1" "$ef_dir/d2" >"$ef_dir/espfabd.conf"
	kill -HUP "$ef_daemon_pid"
	wait_for 15 status_says '" ".join(sorted(p["name"] for p in j["ports"]))' "s1 s2" ||
		ef_die "SIGHUP did not add s2: ports $(ports)"
	wait_for 30 status_says 'sum(1 for p in j["ports"] if p.get("mac"))' 2 ||
		ef_die "boards not identified: $(ef_cli status)"
	# Removed while its board is being written: the board is finished first.
	id=$(ef_cli batch add --product lamp --count 2 | awk '{ print $2 }')
	wait_for 30 status_says '"busy" in [p["state"] for p in j["ports"] if p["name"] == "s1"]' True ||
		ef_die "s1 never busy"
	printf '[port s2]\npath = %s\n' "$ef_dir/d2" >"$ef_dir/espfabd.conf"
	kill -HUP "$ef_daemon_pid"
	ef_wait_log "port=s1.*stops once its device is done\|stops once its device is done.*port=s1" 10
	ef_wait_batch "$id" 60
	[ "$(ef_cli batch show "$id" --json | ef_py 'j["batches"][0]["verified"]')" = 2 ] ||
		ef_die "a board was not finished: $(ef_cli batch show "$id")"
	ef_check_device d1 24:0a:c4:00:20:01
	wait_for 15 status_says '" ".join(sorted(p["name"] for p in j["ports"]))' s2 ||
		ef_die "s1 still there after its board was done: ports $(ports)"
	# A broken file changes nothing.
	printf '[port s2]\npath = %s\nbaud = fast\n' "$ef_dir/d2" >"$ef_dir/espfabd.conf"
	kill -HUP "$ef_daemon_pid"
	ef_wait_log "reload: the configuration has errors" 10
	[ "$(ports)" = s2 ] || ef_die "a broken config changed the ports: $(ports)"
	kill -0 "$ef_daemon_pid" || ef_die "espfabd died on a broken config"
	echo "ok: SIGHUP added a port and removed a busy one after its board"
	;;
socket)
	# --socket store queries go through espfabd and print what --db prints.
	ef_db_init "$ef_dir/db"
	ef_sim d1 24:0a:c4:00:21:01
	ef_daemon --port s1="$ef_dir/d1"
	id=$(ef_cli batch add --product lamp --count 1 | awk '{ print $2 }')
	ef_wait_batch "$id" 60
	for q in "records stats" "records list" "records list --json --state verified" "product list" \
		"product show lamp" "product show lamp --json" "audit --json" "audit --mac 24:0a:c4:00:21:01" "records check"; do
		# shellcheck disable=SC2086
		"$BIN/espfab" --db "$ef_dir/db" $q >"$ef_dir/direct" 2>&1 || ef_die "--db $q failed: $(cat "$ef_dir/direct")"
		# shellcheck disable=SC2086
		ef_cli $q >"$ef_dir/remote" 2>&1 || ef_die "--socket $q failed: $(cat "$ef_dir/remote")"
		cmp -s "$ef_dir/direct" "$ef_dir/remote" || ef_die "--socket $q differs from --db:
$(diff "$ef_dir/direct" "$ef_dir/remote" | head -10)"
	done
	ef_cli records retire lamp-0005 --reason "RMA 17" >"$ef_dir/out" 2>&1 || ef_die "retire via the daemon: $(cat "$ef_dir/out")"
	"$BIN/espfab" --db "$ef_dir/db" records list --state retired --json | ef_py '[r["id"] for r in j["records"]]' |
		grep -qx "\['lamp-0005'\]" || ef_die "the retire through the daemon did not land"
	# Values never leave the daemon.
	if ef_cli records list --reveal >"$ef_dir/out" 2>"$ef_dir/err"; then
		ef_die "--reveal was served over the socket"
	fi
	grep -q "not revealed over the socket" "$ef_dir/err" || ef_die "--reveal refusal: $(cat "$ef_dir/err")"
	[ ! -s "$ef_dir/out" ] || ef_die "output despite the refusal"
	echo "ok: --socket queries answer through espfabd, identical to --db"
	;;
*)
	ef_die "unknown scenario $SCENARIO"
	;;
esac
