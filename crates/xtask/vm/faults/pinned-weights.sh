#!/bin/bash
# Fault suite, every scheduler that claims nice weights (FAULT_WEIGHTS=1 in its
# tests/faults.env; the others skip): three CPU-bound loops pinned to one CPU at
# nice 0, 5 and 10 get that CPU in the ratio of their weights, 1024 : 335 : 110,
# that is 69.7 / 22.8 / 7.5 %, each share within PINNED_TOLERANCE_PP (default 5)
# percentage points. A task that can run on one CPU only must be ordered by
# weight on that CPU, not served FIFO (equal thirds, 36 points off).
# The observer is the kernel's own run time per task, the first field of
# /proc/PID/schedstat (nanoseconds, exact where tick counts are not under TCG),
# not the scheduler. About 15 s.
# timeout: 120
set -u
source "$SCX_LIB"
fault_config
[ "$FAULT_WEIGHTS" = 1 ] || skip "scx_$SCX_NAME does not claim nice weights (FAULT_WEIGHTS in tests/faults.env)"

DUR=${PINNED_SECONDS:-10}
TOL=${PINNED_TOLERANCE_PP:-5}
CPU=$((SCX_NR_CPUS - 1))
NICES=(0 5 10)
WEIGHTS=(1024 335 110)

# run_ns ARRAY PID...: sum_exec_runtime of each PID into ARRAY, without forking.
run_ns() {
	local -n out=$1
	local p line
	shift
	out=()
	for p in "$@"; do
		read -r line <"/proc/$p/schedstat" || fail "no process $p"
		out+=("${line%% *}")
	done
}

# shellcheck disable=SC2086 # FAULT_OPTS is a list of options
sched_start $FAULT_WEIGHTS_OPTS
pids=()
for n in "${NICES[@]}"; do
	taskset -c "$CPU" nice -n "$n" bash -c 'while :; do :; done' &
	pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
sleep 1
run_ns t0 "${pids[@]}"
sleep "$DUR"
run_ns t1 "${pids[@]}"
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
trap - EXIT
sched_alive || fail "scx_$SCX_NAME is not attached after the run (state $(scx_state)): $(tail -n 2 "$SCX_OUT/sched.err")"
sched_stop >/dev/null || fail "exited with status $SCHED_STATUS"
kernel_log_clean

line=$(awk -v a="$((t1[0] - t0[0]))" -v b="$((t1[1] - t0[1]))" -v c="$((t1[2] - t0[2]))" \
	-v wa="${WEIGHTS[0]}" -v wb="${WEIGHTS[1]}" -v wc="${WEIGHTS[2]}" -v tol="$TOL" -v dur="$DUR" '
	BEGIN {
		s = a + b + c; w = wa + wb + wc
		if (s == 0) { print "FAIL the loops did not run"; exit }
		split(a " " b " " c, got, " "); split(wa " " wb " " wc, wt, " "); split("0 5 10", nice, " ")
		worst = 0; out = ""
		for (i = 1; i <= 3; i++) {
			o = 100 * got[i] / s; t = 100 * wt[i] / w; d = o - t; if (d < 0) d = -d
			if (d > worst) worst = d
			out = out sprintf("nice %d %.1f%% (weight %.1f%%) ", nice[i], o, t)
		}
		printf "%s %sworst %.1f pp, CPU busy %.0f%% of %d s\n", (worst <= tol ? "OK" : "FAIL"), out, worst, 100 * s / (dur * 1e9), dur
	}')
echo "$line" >"$SCX_OUT/shares.txt"
[ "${line%% *}" = OK ] || fail "pinned to CPU $CPU, shares more than $TOL pp off the weights: ${line#FAIL }"
echo "pinned to CPU $CPU: ${line#OK }"
