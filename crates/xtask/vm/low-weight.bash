# Sourced by the low-weight checks of the weighted-vtime schedulers (scx_simple,
# scx_flatcg): a nice-19 task among many busy nice-0 tasks is neither starved
# nor given more than a small share. Running t ns costs a task t * 100 / weight
# of vtime, so without a bound a nice-19 task (weight 1) owes 2 s after one
# 20 ms slice and, with 16 busy tasks on 4 CPUs, waits about 2 s * 16 / 4 = 8 s
# for its next turn: past the 5 s watchdog set here, and the kernel ejects the
# scheduler. Both schedulers cap the debt at ten slices, so the wait stays
# under a second. Observed from /proc/PID/stat, not from the scheduler: over
# 20 s the nice-19 loop must run, and get less than a quarter of the average
# nice-0 loop's CPU time (weight 10 of 100 once capped). The caller has
# sourced $SCX_LIB.
#
# The check must not starve itself: under TCG a fork and exec from the shared
# filesystem costs a fifth of a second on an idle guest, and this script gets
# a 1/18 share of the CPUs once the loops run. So it reads the run times with
# shell builtins only (no cat, no subshell) and, once the loops have started,
# raises its own priority to nice -10 (the loops keep nice 0 and 19).

HOGS=16
SECS=20
spin() { while :; do :; done; }

# read_ticks ARRAY PID...: utime+stime of each PID into ARRAY, without forking.
read_ticks() {
	local -n out=$1
	local p stat f
	shift
	out=()
	for p in "$@"; do
		read -r stat <"/proc/$p/stat" || fail "no process $p"
		stat=${stat##*) }
		# shellcheck disable=SC2206 # split on purpose
		f=($stat)
		out+=("$((f[11] + f[12]))")
	done
}

sched_start --timeout-ms 5000
pids=()
for _ in $(seq "$HOGS"); do
	spin >/dev/null 2>&1 &
	pids+=("$!")
done
nice -n 19 bash -c 'while :; do :; done' >/dev/null 2>&1 &
low=$!
renice -n -10 -p $$ >/dev/null || fail "cannot raise the check's own priority"
read_ticks t0 "${pids[@]}" "$low"
sleep "$SECS"
alive=1
sched_alive || alive=0
read_ticks t1 "${pids[@]}" "$low"
kill -KILL "${pids[@]}" "$low" 2>/dev/null
wait "${pids[@]}" "$low" 2>/dev/null
[ "$alive" = 1 ] || fail "scx_$SCX_NAME was ejected with a nice-19 task among $HOGS busy ones: $(grep -m1 'EXIT: ' "$SCX_OUT/sched.err")"
sched_stop >/dev/null || fail "scx_$SCX_NAME exited with status $SCHED_STATUS: $(tail -n 1 "$SCX_OUT/sched.err")"

hog_sum=0
for i in $(seq 0 $((HOGS - 1))); do
	hog_sum=$((hog_sum + t1[i] - t0[i]))
done
low_ticks=$((t1[HOGS] - t0[HOGS]))
ratio=$(awk -v l="$low_ticks" -v s="$hog_sum" -v n="$HOGS" 'BEGIN { printf "%.3f", (s > 0) ? l * n / s : 0 }')
[ "$low_ticks" -gt 0 ] || fail "the nice-19 loop never ran in $SECS s"
awk -v r="$ratio" 'BEGIN { exit !(r < 0.25) }' ||
	fail "the nice-19 loop got $ratio of an average nice-0 loop's CPU time, want < 0.25"
kernel_log_clean
echo "nice 19 among $HOGS busy nice-0 loops, watchdog 5 s: attached for $SECS s, the nice-19 loop ran $low_ticks ticks, $ratio of an average nice-0 loop"
