#!/bin/bash
# Migration-disabled tasks do not kill the scheduler (scx#2825). For MD_SECONDS
# (default 15), with a 2 ms slice so that the timer preempts often:
# - one seccomp_spin.py process per CPU spends ~90% of its time inside seccomp
#   filters, which the kernel runs with migration disabled, so preemptions
#   catch it there;
# - stress-ng --switch, --pipe, --vm and --pthread (short-lived threads) add
#   heavy per-CPU kernel paths and wakeups.
# The kernel's own SCX_EV_ENQ_SKIP_MIGRATION_DISABLED counter must grow (proof
# that migration-disabled tasks were preempted under the scheduler), and the
# scheduler must stay attached throughout and stop with status 0.
# timeout: 300
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/central.bash"
require stress-ng python3
SECS=${MD_SECONDS:-15}
N=$SCX_NR_CPUS
spin=$(dirname "${BASH_SOURCE[0]}")/seccomp_spin.py

sched_start -s 2000 --stats-json
ev0=$(scx_event SCX_EV_ENQ_SKIP_MIGRATION_DISABLED)

pids=()
for i in $(seq 1 "$N"); do
	python3 "$spin" "$SECS" 4 >"spin.$i.txt" 2>&1 &
	pids+=($!)
done
watch_alive $((SECS + 60)) stress-ng --switch 2 --pipe 2 --vm 1 --vm-bytes 64M \
	--pthread 1 -t "${SECS}s" --metrics-brief >stress.txt 2>&1 ||
	fail "stress-ng failed: $(tail -n 1 stress.txt)"
for p in "${pids[@]}"; do
	wait "$p" || fail "seccomp_spin.py failed: $(cat spin.*.txt | tail -n 1)"
done
sched_alive || fail "scx_central exited during the workload"
ev1=$(scx_event SCX_EV_ENQ_SKIP_MIGRATION_DISABLED)
sched_stop || fail "scx_central exited with status $SCHED_STATUS after SIGINT"
md=$(last_stat mig_disabled) dispatch=$(last_stat dispatch) preempt=$(last_stat preempt)

calls=$(awk '{ s += $1 } END { print s }' spin.*.txt)
[ "$((ev1 - ev0))" -gt 0 ] || fail "the workload produced no migration-disabled preemption (SCX_EV_ENQ_SKIP_MIGRATION_DISABLED stayed at $ev0)"
echo "$SECS s: $calls filtered syscalls; kernel kept $((ev1 - ev0)) migration-disabled enqueues local;" \
	"central sent $md popped migration-disabled tasks home; dispatch=$dispatch preempt=$preempt; exit 0"
