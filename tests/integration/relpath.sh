#!/bin/sh
# Relative paths, typed as a new user would, for every program: espfab-sim
# (--link, --flash), espfab (--db, --config, flash --port, product/records
# files, nvs/part/mfg outputs) and espfabd (--db, --socket, --port NAME=PATH).
# The daemon's are made absolute at parse time: --check-config and status
# show them so, and a device on a relative port gets provisioned.
#   relpath.sh BIN_DIR
set -eu
BIN=$(cd "$1" && pwd)
EX=$(cd "$(dirname "$0")/../../examples/lamp" && pwd)
. "$(dirname "$0")/wait.sh"
. "$(dirname "$0")/daemon_lib.sh"

ef_setup
cd "$ef_dir"
here=$(pwd -P)
mkdir lamp && cp "$EX"/config.csv "$EX"/values.csv "$EX"/partitions.csv lamp/

# The CLI's own files.
"$BIN/espfab" --db st.db product add lamp lamp/config.csv --table lamp/partitions.csv --unique DeviceSecret \
	>/dev/null || ef_die "espfab --db st.db product add"
"$BIN/espfab" --db st.db records import --product lamp lamp/values.csv >/dev/null ||
	ef_die "espfab --db st.db records import"
"$BIN/espfab" --db ./st.db records stats | grep -q '^lamp  *20 ' || ef_die "records stats on ./st.db"
"$BIN/espfab" part lamp/partitions.csv out/pt.bin >/dev/null 2>&1 && [ -s out/pt.bin ] || ef_die "espfab part to out/"
"$BIN/espfab" mfg generate lamp/config.csv lamp/values.csv lamp 0x6000 --outdir mfg >/dev/null &&
	[ -s mfg/bin/lamp-1.bin ] || ef_die "espfab mfg generate --outdir mfg"
# A CLI error names the file by its absolute path.
err=$("$BIN/espfab" --db no-such-dir/x.db records stats 2>&1 >/dev/null) && ef_die "a database in a missing folder opened"
case "$err" in *"$here/no-such-dir/x.db"*) ;; *) ef_die "error does not name the absolute path: $err" ;; esac
err=$("$BIN/espfab" --config none.conf status 2>&1) && ef_die "a missing --config was accepted"
case "$err" in *"$here/none.conf"*) ;; *) ef_die "--config error does not name the absolute path: $err" ;; esac

# A simulated board on a relative link.
ef_flash d1.flash
"$BIN/espfab-sim" --chip esp32s3 --link tty1 --flash d1.flash --mac 24:0a:c4:00:0f:01 >sim.log 2>&1 &
ef_pids="$ef_pids $!"
wait_for 10 [ -L tty1 ] || ef_die "espfab-sim --link tty1 made no link"
"$BIN/espfab" flash --port tty1 --before no_reset --after no_reset chip-id | grep -q "MAC: 24:0a:c4:00:0f:01" ||
	ef_die "espfab flash --port tty1"

# The daemon: the paper cut was "--db: expected a path".
out=$("$BIN/espfabd" --db st.db --socket s.sock --port slot1=tty1 --port tty1 --check-config 2>&1) &&
	ef_die "the same relative port twice was accepted: $out"
out=$("$BIN/espfabd" --db st.db --socket s.sock --port slot1=tty1 --check-config) ||
	ef_die "espfabd --db st.db --check-config refused"
[ "$out" = "espfabd: configuration OK (1 ports, database $here/st.db, socket $here/s.sock)" ] ||
	ef_die "--check-config: $out"
err=$("$BIN/espfabd" --db --socket s.sock --check-config 2>&1) && ef_die "--db --socket took '--socket' as the database"
case "$err" in *"--db: expected a path, got option-like '--socket'"*) ;; *) ef_die "--db --socket: $err" ;; esac
err=$("$BIN/espfabd" --port slot1=socket:/127.0.0.1:4000 --check-config 2>&1) && ef_die "socket:/ accepted as a file"
case "$err" in *"expected an absolute device path or socket://HOST:PORT"*) ;; *) ef_die "socket:/ typo: $err" ;; esac
err=$("$BIN/espfabd" --port slot1= --check-config 2>&1) && ef_die "an empty --port path was accepted"
case "$err" in *"--port: expected a path, got an empty value"*) ;; *) ef_die "empty --port: $err" ;; esac
long=$(printf 'x%.0s' $(seq 120))
err=$("$BIN/espfabd" --socket "$long.sock" --check-config 2>&1) && ef_die "a 120-byte socket name was accepted"
case "$err" in *"longer than 107 bytes"*) ;; *) ef_die "long --socket: $err" ;; esac

"$BIN/espfabd" --foreground --db st.db --socket s.sock --station rel --before no_reset --port slot1=tty1 \
	>>daemon.log 2>&1 &
ef_daemon_pid=$!
ef_pids="$ef_pids $ef_daemon_pid"
rel_settled() { "$BIN/espfab" --socket s.sock status >/dev/null 2>&1 || ! kill -0 "$ef_daemon_pid" 2>/dev/null; }
wait_for 10 rel_settled
kill -0 "$ef_daemon_pid" 2>/dev/null || ef_die "espfabd --db st.db exited at startup"
path=$("$BIN/espfab" --socket s.sock status --json | ef_py 'j["ports"][0]["path"]')
[ "$path" = "$here/tty1" ] || ef_die "status shows port path '$path', want $here/tty1"
id=$("$BIN/espfab" --socket s.sock batch add --product lamp --count 1 | awk '{ print $2 }')
rel_done() { "$BIN/espfab" --socket s.sock batch show "$id" | awk 'NR == 2 { print $3 }' | grep -q done; }
wait_for 60 rel_done || ef_die "batch $id not done after 60 s"
n=$("$BIN/espfab" --db st.db records list --state verified --json | ef_py 'len(j["records"])')
[ "$n" = 1 ] || ef_die "$n verified records, want 1"
echo "relpath: ok"
