#!/bin/bash
# Survives the workloads that made the kernel's C scx_pair eject itself (top_q
# overflow under stress-ng --switch on 7.3.4): stress-ng --switch 4, perf bench
# sched messaging and rt-tests' hackbench, PAIR_STRESS_SECONDS each (default
# the issue's 30 s), then a clean detach with status 0 and a clean kernel log
# (no BUG, WARNING, stall, error, nor the 7.2+ cpu_acquire/release deprecation).
# timeout: 240
set -u
source "$SCX_LIB"
require stress-ng perf hackbench
S=${PAIR_STRESS_SECONDS:-30}

# repeat_for SECS CMD...: run CMD again and again until SECS have passed.
repeat_for() {
	local secs=$1 end runs=0
	shift
	end=$((SECONDS + secs))
	while [ "$SECONDS" -lt "$end" ]; do
		"$@" >>"$SCX_OUT/workload.out" 2>&1 || fail "$* failed (run $runs)"
		runs=$((runs + 1))
		sched_alive || fail "scx_pair exited under $1: $(tail -1 "$SCX_OUT/sched.err")"
	done
	echo "$1: $runs runs in $secs s"
}

dmesg -C
sched_start --stats 1
stress-ng --switch 4 -t "${S}s" >"$SCX_OUT/stress-ng.out" 2>&1 || fail "stress-ng --switch 4 failed"
sched_alive || fail "scx_pair exited under stress-ng --switch: $(tail -1 "$SCX_OUT/sched.err")"
echo "stress-ng --switch 4: ${S} s"
repeat_for "$S" perf bench sched messaging -g 2 -l 20
repeat_for "$S" hackbench -g 2 -l 50
stats=$(grep -E 'total=' "$SCX_OUT/sched.out" | tail -n 1)
sched_stop || fail "scx_pair exited with status $SCHED_STATUS after the stress runs"
kernel_log_clean
no_deprecation_notice
echo "survived stress-ng --switch, perf bench sched messaging and hackbench, ${S} s each; last stats: $stats"
