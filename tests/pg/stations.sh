#!/bin/sh
# Several stations, one inventory, on a real PostgreSQL server started here.
#   stations.sh ESPFAB PG_STATION
# 1. 6 station processes claim from one product at once until it is empty:
#    every record reaches exactly one device, none is lost.
# 2. kill -9 of a station mid-batch: its startup recovery releases what it
#    had reserved, keeps what it wrote bound; the line finishes the rest.
# 3. the server stopped and restarted mid-batch under 4 stations: each one
#    reports the outage, retries, carries on; no device was written whose
#    record was not durably bound to it, and every result arrives.
set -u
E=$1
ST=$2
. "$(dirname "$0")/../integration/wait.sh"
. "$(dirname "$0")/pg_fixture.sh"
trap pgfx_stop EXIT INT TERM
pgfx_start
W=$PGFX_DIR/work
mkdir "$W"
cd "$W" || exit 1
n=0
fail() { echo "stations: $*" >&2; exit 1; }
ok() { n=$((n + 1)); }
q() { pgfx_psql -d "$DB" -c "$1"; }

cat > config.csv <<'X'
mass_prod,namespace,
ProductID,data,string
DeviceSecret,data,string
X
printf 'nvs, data, nvs, 0x9000, 0x6000,\n' > parts.csv
values() { # first count
	echo "id,ProductID,DeviceSecret"
	i=$1
	while [ "$i" -lt $(($1 + $2)) ]; do
		echo "$i,P$i,secret-$i"
		i=$((i + 1))
	done
}
newdb() { # name records
	DB=$(pgfx_createdb "$1")
	"$E" --db "$DB" product add lamp config.csv --table parts.csv --unique DeviceSecret >out 2>&1 || fail "product add: $(cat out)"
	values 1 "$2" > v.csv
	"$E" --db "$DB" records import --product lamp v.csv >out 2>&1 || fail "import: $(cat out)"
}
# Every WRITE line: its record is bound to its MAC (sent or verified) in the
# database, no record was written to two MACs; then the invariant check.
check_writes() { # files...
	cat "$@" | awk '$1 == "WRITE" {print $2, $3}' | sort -u > writes
	dup=$(awk '{print $2}' writes | sort | uniq -d | head -n 3)
	[ -z "$dup" ] || fail "records written to two devices: $dup"
	q "SELECT r.mac || ' ' || r.record_id FROM records r WHERE r.state IN ('sent', 'verified') ORDER BY 1" | sort > bound
	missing=$(comm -23 writes bound | head -n 3)
	[ -z "$missing" ] || fail "written but not bound to that device: $missing"
	"$E" --db "$DB" records check >out 2>&1 || fail "records check: $(cat out)"
}

# ---- 1. six stations at once ----
newdb many 600
i=1
while [ $i -le 6 ]; do
	"$ST" "$DB" "line$i" "$i" >"w$i.out" 2>"w$i.err" &
	eval "p$i=$!"
	i=$((i + 1))
done
i=1
while [ $i -le 6 ]; do
	eval "wait \$p$i" || fail "station $i: $(cat w$i.err)"
	i=$((i + 1))
done
check_writes w1.out w2.out w3.out w4.out w5.out w6.out
[ "$(wc -l < writes)" -eq 600 ] || fail "6 stations wrote $(wc -l < writes) devices, not 600"
[ "$(q "SELECT count(*) FROM records WHERE state = 'verified'")" = 600 ] || fail "not all 600 verified"
busy=0
i=1
while [ $i -le 6 ]; do
	[ "$(grep -c '^WRITE' w$i.out)" -gt 0 ] && busy=$((busy + 1))
	i=$((i + 1))
done
[ $busy -eq 6 ] || fail "only $busy of 6 stations got records"
[ "$(q "SELECT count(DISTINCT station) FROM audit WHERE event = 'provision'")" = 6 ] || fail "audit does not name 6 stations"
ok

# ---- 2. kill -9 mid-batch, recovery ----
newdb killed 200
for i in 1 2 3; do
	"$ST" "$DB" "line$i" "$i" 5 >"k$i.out" 2>"k$i.err" &
	eval "p$i=$!"
done
"$ST" "$DB" line4 4 20 >k4.out 2>k4.err &
p4=$!
# killed mid-batch, once it has written a device
wait_for 30 grep -q '^WRITE' k4.out
kill -9 $p4
wait $p4 2>/dev/null
[ "$(grep -c '^WRITE' k4.out)" -gt 0 ] || fail "line4 wrote nothing before it was killed"
"$ST" "$DB" line4 recover >rec.out 2>&1 || fail "recover: $(cat rec.out)"
grep -q "^RECOVERED" rec.out || fail "recover: $(cat rec.out)"
[ "$(q "SELECT count(*) FROM jobs WHERE station = 'line4' AND state IN ('reserved', 'sent')")" = 0 ] || fail "line4 has open jobs after recovery"
# the killed station's written devices keep their records
check_writes k4.out
# it starts again and the line finishes the product
"$ST" "$DB" line4 4 0 >k4b.out 2>k4b.err &
p4=$!
for i in 1 2 3 4; do
	eval "wait \$p$i" || fail "station $i after the kill: $(cat k$i.err)"
done
check_writes k1.out k2.out k3.out k4.out k4b.out
left=$(q "SELECT count(*) FROM records WHERE state IN ('available', 'reserved')")
[ "$left" = 0 ] || fail "$left records neither written nor reserved to a device after the kill"
[ "$(wc -l < writes)" -eq 200 ] || fail "$(wc -l < writes) devices written, not 200"
ok

# ---- 3. the server restarts mid-batch ----
newdb restart 400
for i in 1 2 3 4; do
	"$ST" "$DB" "line$i" "$i" 10 >"r$i.out" 2>"r$i.err" &
	eval "p$i=$!"
done
# twice: a second outage finds the stations in other steps
written=0
more_written() { [ "$(cat r1.out r2.out r3.out r4.out | grep -c '^WRITE')" -gt "$written" ]; }
for cycle in 1 2; do
	# the stations are under way (devices written since the last outage)
	wait_for 30 more_written
	pgfx_stop_server
	written=$(cat r1.out r2.out r3.out r4.out | grep -c '^WRITE')
	sleep 1.2 # not a wait for an event: a window in which nothing may be written
	# nothing can be bound while the server is down: no new device is written
	[ "$(cat r1.out r2.out r3.out r4.out | grep -c '^WRITE')" -le $((written + 4)) ] || fail "devices written while the server was down"
	pgfx_start_server
done
for i in 1 2 3 4; do
	eval "wait \$p$i" || fail "station $i after the restart: $(cat r$i.err)"
	grep -q "^OUTAGE" "r$i.err" || fail "station $i did not report the outage"
	grep -q "^BACK" "r$i.err" || fail "station $i did not report the server back"
done
check_writes r1.out r2.out r3.out r4.out
[ "$(wc -l < writes)" -eq 400 ] || fail "$(wc -l < writes) devices written after the restarts, not 400"
# every written device's result arrived (held during the outage)
nv=$(q "SELECT count(*) FROM records WHERE state = 'verified'")
[ "$nv" = 400 ] || fail "$nv of 400 results arrived"
ok

echo "stations: $n groups of checks passed"
