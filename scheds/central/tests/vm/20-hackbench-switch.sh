#!/bin/bash
# rt-tests' hackbench (the reproducer of scx#2825) and stress-ng --switch run
# side by side for HB_SECONDS (default 30; together, so that the check costs
# 30 s and each load meets the other) while the scheduler is checked every
# second: it must never exit, and must stop with status 0 afterwards. hackbench
# runs a fixed amount of work, so it is started again until the time is up.
# timeout: 180
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/central.bash"
require hackbench stress-ng

SECS=${HB_SECONDS:-30}
N=$SCX_NR_CPUS
sched_start --stats-json

# hackbench_for SECS: back-to-back hackbench runs (4 groups of 10 senders and
# 10 receivers over sockets, 50 loops each) for SECS seconds; counts the runs.
hackbench_for() {
	local end=$((SECONDS + $1)) runs=0
	while [ "$SECONDS" -lt "$end" ]; do
		hackbench -g 4 -f 10 -l 50 >>hackbench.txt 2>&1 || return 1
		runs=$((runs + 1))
	done
	echo "$runs" >hackbench.runs
}

t0=$SECONDS
stress-ng --switch "$N" -t "${SECS}s" --metrics-brief >switch.txt 2>&1 &
sw=$!
watch_alive $((SECS + 60)) hackbench_for "$SECS" || fail "hackbench failed: $(tail -n 1 hackbench.txt)"
hb_secs=$((SECONDS - t0)) hb_runs=$(cat hackbench.runs)
while kill -0 "$sw" 2>/dev/null; do
	sched_alive || fail "scx_central exited during stress-ng --switch"
	[ "$((SECONDS - t0))" -lt $((SECS + 60)) ] || fail "stress-ng --switch did not finish"
	sleep 1
done
wait "$sw" || fail "stress-ng --switch failed: $(tail -n 1 switch.txt)"
sched_alive || fail "scx_central is gone after the workloads"
sched_stop || fail "scx_central exited with status $SCHED_STATUS after SIGINT"
d1=$(last_stat dispatch) preempt=$(last_stat preempt) timer=$(last_stat timer)

ops=$(awk '/switch/ && $NF ~ /^[0-9.]+$/ { v = $(NF-1) } END { print v }' switch.txt)
echo "hackbench: $hb_runs runs in ${hb_secs} s; stress-ng --switch $N: ${SECS} s (bogo ops/s real: ${ops:-?});" \
	"dispatch=$d1 timer=$timer preempt=$preempt; scheduler alive throughout, exit 0"
