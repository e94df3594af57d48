#!/bin/sh
# espfabd on a PostgreSQL inventory, with the server stopped mid-batch:
#   daemon_pg.sh BIN_DIR
# Three simulated devices are claimed, then the server stops while they are
# being written. The station must: report the outage (espfab status, the
# log), hold the results of the devices that finish meanwhile, write nothing
# to a device that arrives during the outage (its claim cannot be durable),
# deliver the held results when the server is back, then provision the
# device that arrived during the outage. Afterwards every
# written device holds exactly the record bound to its MAC.
set -eu
BIN=$(cd "$1" && pwd)
. "$(dirname "$0")/daemon_pg_lib.sh"
pgd_setup daemon
# where systemd's StateDirectory= puts the outbox journal (read when
# espfabd starts, below)
STATE_DIRECTORY=$ef_dir
export STATE_DIRECTORY
status_field() { # python expression over j["store"]
	ef_cli status --json | ef_py "$1"
}

for n in 1 2 3; do
	ef_sim d$n 24:0a:c4:00:0b:0$n --erase-ms 400
done
ef_daemon --db "$DB" --port s1="$ef_dir/d1" --port s2="$ef_dir/d2" --port s3="$ef_dir/d3" --port s4="$ef_dir/d4"
[ "$(status_field 'j["store"]["state"]')" = ok ] || ef_die "store not ok at the start"
id=$(ef_cli batch add --product lamp --count 4 | awk '{ print $2 }')
claimed_3() { [ "$(grep -c 'claimed record' "$ef_dir/daemon.log")" -ge 3 ]; }
wait_for 30 claimed_3 || ef_die "three claims did not happen"
# marked sent: the writes are under way
writing() { [ "$(status_field 'sum(1 for p in j["ports"] if p.get("step") == "write")')" -ge 3 ]; }
wait_for 30 writing || ef_die "three ports not writing: $(ef_cli status)"
pgfx_stop_server
# A device arriving now cannot be claimed durably: it must not be written.
ef_sim d4 24:0a:c4:00:0b:04
ef_wait_log "database server unreachable" 20
# the three writes finish during the outage: their results are held
held_3() { [ "$(status_field 'j["store"]["held_results"]')" -ge 3 ]; }
wait_for 30 held_3 || ef_die "results not held: $(ef_cli status --json)"
[ "$(status_field 'j["store"]["state"]')" = unreachable ] || ef_die "status does not show the outage"
ef_cli status | grep -q "store: UNREACHABLE" || ef_die "espfab status does not show the outage: $(ef_cli status)"
sleep 1 # not a wait for an event: a window in which d4 must NOT be claimed
[ -z "$(grep 'claimed record' "$ef_dir/daemon.log" | grep 0b:04)" ] || ef_die "d4 claimed while the server was down"
dd if="$ef_dir/d4.flash" bs=4096 skip=9 count=6 2>/dev/null | od -An -v -tx1 | tr -d ' \n' | grep -q '[^f]' &&
	ef_die "d4's NVS partition was written during the outage"
pgfx_start_server
# held results are delivered, in order, when the store answers again
store_st() { ef_cli status --json | ef_py 'str(j["store"]["state"]) + " " + str(j["store"]["held_results"])'; }
delivered() { [ "$(store_st)" = "ok 0" ]; }
wait_for 60 delivered || ef_die "held results not delivered: $(store_st)"
ef_wait_log "reachable again" 5
ef_wait_log "held result of record .* delivered" 5
for n in 1 2 3; do
	rec=$(ef_record_of 24:0a:c4:00:0b:0$n)
	case "$rec" in
	*" verified") ;;
	*) ef_die "device d$n: record '$rec', want one verified (its result was held)" ;;
	esac
	ef_check_device d$n 24:0a:c4:00:0b:0$n
done
# d4, which arrived during the outage, is provisioned once the server is back
d4_verified() { ef_record_of 24:0a:c4:00:0b:04 | grep -q " verified$"; }
wait_for 60 d4_verified || ef_die "d4 not provisioned after the outage: $(ef_record_of 24:0a:c4:00:0b:04)"
ef_check_device d4 24:0a:c4:00:0b:04
"$BIN/espfab" --db "$DB" records check >/dev/null || ef_die "records check failed"
n=$("$BIN/espfab" --db "$DB" audit --json |
	ef_py 'sum(1 for a in j["audit"] if a.get("event") == "provision" and a.get("result") == "ok" and a.get("station") == "e2e")')
[ "$n" = 4 ] || ef_die "audit has $n provisioned rows naming the station, want 4"
echo "daemon_pg: ok"
