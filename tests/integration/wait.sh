# Sourced by the integration scripts (and tools/demo): the one way they wait.
# A script waits for the event it needs (a line in a file, a state in
# `espfab status`, a process gone), never for a fixed time: a fixed sleep is
# too short on a loaded machine and wasted time on an idle one.
#
# wait_for TIMEOUT CMD [ARG...]: run CMD until it succeeds, every 0.1 s, for
# at most TIMEOUT seconds (decimals are fine). Returns 0 as soon as CMD
# succeeded, 1 when the deadline passed; the caller says what did not
# happen. CMD's output is not touched: redirect it inside CMD, or wrap CMD in
# a function. Example: wait_for 5 grep -q "ready" "$T/log" || die "no ready"
wait_for() {
	_wf_end=$(($(date +%s%N) / 1000000 + $(awk -v t="$1" 'BEGIN { printf "%d", t * 1000 }')))
	shift
	while :; do
		"$@" && return 0
		[ $(($(date +%s%N) / 1000000)) -lt $_wf_end ] || return 1
		sleep 0.1
	done
}

# wait_gone TIMEOUT PID: until process PID has exited (0), else 1.
wait_gone() {
	wait_for "$1" _wf_gone "$2"
}
_wf_gone() {
	! kill -0 "$1" 2>/dev/null
}
