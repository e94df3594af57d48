#!/bin/sh
# A station's lease of records on a PostgreSQL inventory (issue 11):
#   lease_pg.sh BIN_DIR
# 1. `espfab records release-lease`: station line1 (its own login role)
#    leases 5 of the 20 records; line2 then provisions until nothing is
#    left and gets exactly the other 15; line2's role cannot release
#    line1's lease, an admin's role can (one audit row per record, naming
#    the station and the admin's role); line2 then gets those records.
# 2. espfabd with `lease = 2`: after its first device it holds 2 records;
#    killed (-9) it keeps them (a dead station's lease stays); started
#    again with no lease it gives them back; started with `lease = 2` and
#    stopped cleanly it gives back what it holds.
set -eu
BIN=$(cd "$1" && pwd)
. "$(dirname "$0")/daemon_pg_lib.sh"
pgd_setup lease
STATE_DIRECTORY=$ef_dir # the outbox journal's folder, as systemd's StateDirectory=
export STATE_DIRECTORY
TESTS=$BIN/../tests
at=${DB#postgresql://*@}
uri() { echo "postgresql://$1@$at"; }
q() { pgfx_psql -d "$DB" -c "$1"; }
stop_daemon() { # SIGTERM, and wait for its exit status: a clean stop
	kill "$ef_daemon_pid"
	wait "$ef_daemon_pid" || ef_die "espfabd did not stop cleanly"
	ef_forget "$ef_daemon_pid"
}
leased() { q "SELECT count(*) FROM records WHERE lease_station = '$1'"; }

pgfx_psql -d "$DB" -f "$PGD_HERE/../../schemas/pg/roles.sql" >/dev/null || ef_die "roles.sql"
for r in line1 line2; do
	q "CREATE ROLE $r LOGIN IN ROLE espfab_station" >/dev/null
done
q "CREATE ROLE planner LOGIN IN ROLE espfab_admin" >/dev/null

# ---- 1. the admin command ----
out=$("$TESTS/pg_station" "$(uri line1)" line1 lease 5) || ef_die "line1 cannot lease"
[ "$out" = "LEASED 5" ] || ef_die "line1 lease: $out"
"$TESTS/pg_station" "$(uri line2)" line2 2 >"$ef_dir/line2.out" || ef_die "line2 provisioning"
[ "$(grep -c '^WRITE' "$ef_dir/line2.out")" = 15 ] || ef_die "line2 wrote $(grep -c '^WRITE' "$ef_dir/line2.out"), want 15"
mine=$(q "SELECT string_agg(record_id, ' ' ORDER BY id) FROM records WHERE lease_station = 'line1' AND state = 'available'")
for id in $mine; do
	! grep -q "^WRITE .* $id\$" "$ef_dir/line2.out" || ef_die "line2 wrote record $id, leased to line1"
done
[ "$(leased line1)" = 5 ] || ef_die "line1's lease is $(leased line1), want 5"
# a station's role cannot empty another's lease
if "$BIN/espfab" --db "$(uri line2)" records release-lease --station line1 >"$ef_dir/out" 2>"$ef_dir/err"; then
	ef_die "line2's role released line1's lease"
fi
grep -q "released by the role that took it or an espfab_admin" "$ef_dir/err" || ef_die "message: $(cat "$ef_dir/err")"
[ "$(wc -l <"$ef_dir/err")" = 1 ] || ef_die "more than one line: $(cat "$ef_dir/err")"
[ "$(leased line1)" = 5 ] || ef_die "a refused release changed the lease"
# usage
if "$BIN/espfab" --db "$(uri planner)" records release-lease >/dev/null 2>"$ef_dir/err"; then ef_die "no --station accepted"; fi
grep -q -- "--station NAME is required" "$ef_dir/err" || ef_die "usage message: $(cat "$ef_dir/err")"
# the admin's role can, for a station declared dead
"$BIN/espfab" --db "$(uri planner)" records release-lease --station line1 --json >"$ef_dir/out" ||
	ef_die "admin release: $(cat "$ef_dir/out")"
ef_py 'j == {"station": "line1", "released": 5}' <"$ef_dir/out" | grep -qx True || ef_die "json: $(cat "$ef_dir/out")"
[ "$(leased line1)" = 0 ] || ef_die "line1 still leases $(leased line1)"
n=$(q "SELECT count(*) FROM audit WHERE event = 'lease' AND result = 'released' AND station = 'line1' AND db_user = 'planner'")
[ "$n" = 5 ] || ef_die "audit: $n released rows naming line1 and planner, want 5"
n=$(q "SELECT count(*) FROM audit WHERE event = 'lease' AND result = 'leased' AND station = 'line1' AND db_user = 'line1'")
[ "$n" = 5 ] || ef_die "audit: $n leased rows naming line1, want 5"
out=$("$BIN/espfab" --db "$(uri planner)" records release-lease --station line1)
[ "$out" = "released 0 records leased to station line1" ] || ef_die "second release: $out"
"$TESTS/pg_station" "$(uri line2)" line2 3 0 2 >"$ef_dir/line2.out" || ef_die "line2 after the release"
[ "$(grep -c '^WRITE' "$ef_dir/line2.out")" = 2 ] || ef_die "line2 did not get the released records"
"$BIN/espfab" --db "$DB" records check >/dev/null || ef_die "records check"

# ---- 2. espfabd's lease: 3 records are left ----
printf 'lease = 2\n' >"$ef_dir/lease.conf"
: >"$ef_dir/empty.conf"
ef_sim d1 24:0a:c4:00:0c:01
ef_daemon --config "$ef_dir/lease.conf" --db "$DB" --port s1="$ef_dir/d1"
ef_cli batch add --product lamp --count 1 >/dev/null
d1_done() { ef_record_of 24:0a:c4:00:0c:01 | grep -q " verified$"; }
wait_for 60 d1_done || ef_die "d1 not provisioned"
held2() { [ "$(leased e2e)" = 2 ]; }
wait_for 20 held2 || ef_die "espfabd leases $(leased e2e), want 2"
kill -9 "$ef_daemon_pid"
wait "$ef_daemon_pid" 2>/dev/null || true
ef_forget "$ef_daemon_pid"
[ "$(leased e2e)" = 2 ] || ef_die "a dead station's lease went away"
# started again without a lease: the old one is given back
ef_daemon --config "$ef_dir/empty.conf" --db "$DB" --port s1="$ef_dir/d1"
held0() { [ "$(leased e2e)" = 0 ]; }
wait_for 20 held0 || ef_die "lease = 0 at startup: still $(leased e2e) leased"
stop_daemon
n=$(q "SELECT count(*) FROM audit WHERE event = 'lease' AND result = 'released' AND error = 'lease = 0 at startup'")
[ "$n" = 2 ] || ef_die "audit: $n rows of the startup release, want 2"
# a clean stop gives the lease back
ef_sim d2 24:0a:c4:00:0c:02
ef_daemon --config "$ef_dir/lease.conf" --db "$DB" --port s2="$ef_dir/d2"
ef_cli batch add --product lamp --count 1 >/dev/null
d2_done() { ef_record_of 24:0a:c4:00:0c:02 | grep -q " verified$"; }
wait_for 60 d2_done || ef_die "d2 not provisioned"
held1() { [ "$(leased e2e)" = 1 ]; } # one record was left to lease
wait_for 20 held1 || ef_die "espfabd leases $(leased e2e), want 1"
stop_daemon
[ "$(leased e2e)" = 0 ] || ef_die "a clean stop kept $(leased e2e) leased"
n=$(q "SELECT count(*) FROM audit WHERE event = 'lease' AND result = 'released' AND error = 'station shut down' AND station = 'e2e'")
[ "$n" = 1 ] || ef_die "audit: $n rows of the shutdown release, want 1"
ef_check_device d1 24:0a:c4:00:0c:01
ef_check_device d2 24:0a:c4:00:0c:02
"$BIN/espfab" --db "$DB" records check >/dev/null || ef_die "records check at the end"
echo "lease_pg: ok"
