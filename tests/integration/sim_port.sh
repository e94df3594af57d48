# Sourced by the integration tests that drive espfab-sim (flash_cli.sh,
# rom_chips.sh, efuse_cli.sh, esptool_spellings.sh) and bench/flash_bench.sh,
# after wait.sh (wait_for).
command -v wait_for >/dev/null || { echo "sim_port.sh: source wait.sh (wait_for) before it" >&2; exit 1; }
# sim_first_line FILE: the first line espfab-sim wrote to FILE (its port),
# waiting up to 5 s for it; prints nothing if none came.
sim_first_line() {
	wait_for 5 _sim_has_line "$1" || true
	head -n1 "$1" 2>/dev/null | tr -d '\n'
}
_sim_has_line() {
	[ -n "$(head -n1 "$1" 2>/dev/null)" ]
}

# sim_test_init NAME: a scratch folder $T (removed at exit), counters for
# ok/bad, and stop_sim for the simulator in $SIM_PID: SIGTERM, then SIGKILL
# after 2 s (never wait on a stuck simulator).
sim_test_init() {
	T=$(mktemp -d "/tmp/espfab-$1.XXXXXX")
	SIM_PID=
	fails=0
	steps=0
	trap sim_test_cleanup EXIT
	trap 'exit 1' INT TERM
}
stop_sim() {
	[ -n "$SIM_PID" ] || return 0
	kill "$SIM_PID" 2>/dev/null
	wait_gone 2 "$SIM_PID" || kill -9 "$SIM_PID" 2>/dev/null
	wait "$SIM_PID" 2>/dev/null
	SIM_PID=
}
sim_test_cleanup() {
	stop_sim
	rm -rf "$T"
}
ok() { steps=$((steps + 1)); echo "ok   $steps $*"; }
bad() { steps=$((steps + 1)); fails=$((fails + 1)); echo "FAIL $steps $*"; }
