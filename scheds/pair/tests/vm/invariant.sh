#!/bin/bash
# The pair invariant, seen by an independent observer: two cgroups each run
# SCX_NR_CPUS CPU-bound loops; ftrace's sched_switch events give a per-CPU timeline
# of which cgroup's loop runs, and for each pair (i, i + n/2) overlap.py measures the
# fraction of time its CPUs ran loops of the two different cgroups at once. Under
# scx_pair it must stay under 5%, and neither cgroup may starve (each gets over 10%
# of the CPU time; scx_pair trades throughput for the invariant); the same
# measure under the default scheduler is reported next to it. The loops are stopped
# (SIGSTOP) outside the two measurements, so that loading, unloading and the
# observer itself do not compete with them under TCG.
# timeout: 240
set -u
source "$SCX_LIB"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cgroup.inc"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "python3 is not installed (needed by the observer)"
[ $((SCX_NR_CPUS % 2)) = 0 ] || skip "an odd CPU count has no pairs"
DUR=${PAIR_SECONDS:-15}
DFL_DUR=${PAIR_DFL_SECONDS:-8}
T=/sys/kernel/tracing
[ -e "$T/trace" ] || mount -t tracefs nodev "$T" || fail "cannot mount tracefs"
[ -e "$T/events/sched/sched_switch/enable" ] || skip "no sched_switch tracepoint"

cgroup_setup
PIDS=()
cleanup() {
	[ "${#PIDS[@]}" -gt 0 ] && kill -KILL "${PIDS[@]}" 2>/dev/null
	echo 0 >"$T/tracing_on"
	echo 0 >"$T/events/sched/sched_switch/enable"
}
trap cleanup EXIT
for g in A B; do
	mkdir -p "$CG/pair$g"
	: >"$SCX_OUT/$g.pids"
	for _ in $(seq "$SCX_NR_CPUS"); do
		bash -c "echo \$\$ > $CG/pair$g/cgroup.procs; while :; do :; done" &
		PIDS+=($!)
		echo $! >>"$SCX_OUT/$g.pids"
	done
done
for g in A B; do
	deadline=$((SECONDS + 15))
	while n=$(wc -l <"$CG/pair$g/cgroup.procs") && [ "$n" != "$SCX_NR_CPUS" ]; do
		[ "$SECONDS" -ge "$deadline" ] && fail "cgroup pair$g holds $n tasks, want $SCX_NR_CPUS"
		sleep 0.2
	done
done
kill -STOP "${PIDS[@]}"

# uptime_cs: guest uptime in hundredths of a second (the unit of cpu_ticks).
uptime_cs() {
	local up
	read -r up _ </proc/uptime
	echo "$((10#${up/./}))"
}

# measure LABEL SECONDS: let the loops run, trace sched_switch for SECONDS, stop the
# loops, then run the observer.
measure() {
	local label=$1 secs=$2 u0 u1
	kill -CONT "${PIDS[@]}"
	sleep 1
	echo 0 >"$T/tracing_on"
	echo global >"$T/trace_clock"
	echo 8192 >"$T/buffer_size_kb"
	: >"$T/trace"
	echo 1 >"$T/events/sched/sched_switch/enable"
	u0=$(uptime_cs)
	t0=($(cpu_ticks "${PIDS[@]}"))
	echo 1 >"$T/tracing_on"
	sleep "$secs"
	echo 0 >"$T/tracing_on"
	t1=($(cpu_ticks "${PIDS[@]}"))
	u1=$(uptime_cs)
	kill -STOP "${PIDS[@]}"
	echo 0 >"$T/events/sched/sched_switch/enable"
	cat "$T/trace" >"$SCX_OUT/$label.trace"
	grep -h overrun "$T"/per_cpu/cpu*/stats | grep -v ': 0$' >"$SCX_OUT/$label.overrun"
	"$PY" "$HERE/overlap.py" "$SCX_OUT/$label.trace" "$SCX_NR_CPUS" "$SCX_OUT/A.pids" "$SCX_OUT/B.pids" \
		>"$SCX_OUT/$label.overlap" || fail "observer failed on the $label trace"
	local a=0 b=0 i n=$SCX_NR_CPUS
	for i in $(seq 0 $((n - 1))); do a=$((a + t1[i] - t0[i])); done
	for i in $(seq "$n" $((2 * n - 1))); do b=$((b + t1[i] - t0[i])); done
	local cap=$((n * (u1 - u0)))
	echo "$a $b $cap" >"$SCX_OUT/$label.ticks"
	sed "s/^/$label: /" "$SCX_OUT/$label.overlap"
	echo "$label: CPU ticks over $(((u1 - u0) / 100)) s: cgroup A $a, cgroup B $b (capacity $cap)"
	[ -s "$SCX_OUT/$label.overrun" ] && echo "$label: trace buffer overruns: $(cat "$SCX_OUT/$label.overrun")"
	return 0
}

sched_start --stats 1
measure pair "$DUR"
sched_alive || fail "scx_pair is no longer attached after the measurement"
grep -o 'cgroup_switches=[0-9]*' "$SCX_OUT/sched.out" | tail -n 1
sched_stop || fail "scx_pair exited with status $SCHED_STATUS"
sleep 1
measure default "$DFL_DUR"

pair_ab=$(sed -n 's/^max_ab=//p' "$SCX_OUT/pair.overlap")
dfl_ab=$(sed -n 's/^max_ab=//p' "$SCX_OUT/default.overlap")
read -r a b cap <"$SCX_OUT/pair.ticks"
read -r da db dcap <"$SCX_OUT/default.ticks"
# both_loops LABEL: the mean over pairs of the time both CPUs ran loops (observer).
both_loops() {
	sed -n 's/.*both running loops \([0-9.]*\)%.*/\1/p' "$SCX_OUT/$1.overlap" |
		awk '{ s += $1; n++ } END { printf "%.0f", n ? s / n : 0 }'
}
summary=$(awk -v p="$pair_ab" -v d="$dfl_ab" -v a="$a" -v b="$b" -v c="$cap" \
	-v da="$da" -v db="$db" -v dc="$dcap" -v pb="$(both_loops pair)" -v db2="$(both_loops default)" \
	'BEGIN { printf "worst pair A/B overlap: scx_pair %.2f%%, default scheduler %.2f%%; loop CPU share: scx_pair A %.0f%% B %.0f%%, default A %.0f%% B %.0f%%; both CPUs of a pair running loops: scx_pair %s%%, default %s%%", 100 * p, 100 * d, 100 * a / c, 100 * b / c, 100 * da / dc, 100 * db / dc, pb, db2 }')
echo "$summary" | tee "$SCX_OUT/summary.txt"
awk -v p="$pair_ab" 'BEGIN { exit !(p < 0.05) }' || fail "pair CPUs ran different cgroups ${pair_ab} of the time (limit 0.05): $summary"
awk -v a="$a" -v b="$b" -v c="$cap" 'BEGIN { exit !(a > 0.1 * c && b > 0.1 * c) }' ||
	fail "a cgroup was starved under scx_pair: $summary"
echo "$summary"
