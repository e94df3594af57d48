# Sourced by tests/integration/flash_cli.sh and bench/flash_bench.sh.
# sim_first_line FILE: the first line espfab-sim wrote to FILE (its port),
# waiting up to 5 s for it; prints nothing if none came.
sim_first_line() {
	local line=
	for _ in $(seq 1 50); do
		line=$(head -n1 "$1" 2>/dev/null)
		[ -n "$line" ] && break
		sleep 0.1
	done
	printf '%s' "$line"
}
