#!/bin/bash
# Memory does not depend on pid_max: with kernel.pid_max at 4194304 and tasks
# whose pids are above 4190000 going through user space, the scheduler's resident
# memory stays under 64 MiB (all of it locked with mlockall). The kernel's C
# scx_userland sizes an array by pid_max instead.
# timeout: 150
set -u
source "$SCX_LIB"

LIMIT_KB=$((64 * 1024))
old_max=$(cat /proc/sys/kernel/pid_max)
restore() { echo "$old_max" > /proc/sys/kernel/pid_max 2>/dev/null; }
trap restore EXIT
echo 4194304 > /proc/sys/kernel/pid_max || skip "cannot raise kernel.pid_max"

sched_start --stats-json
# New pids from here on are above 4190000.
echo 4190000 > /proc/sys/kernel/ns_last_pid || skip "cannot set ns_last_pid"
pids=()
# Subshells, not new programs: a fork without exec is cheap under TCG, and each
# one is a new task with a new pid that runs a little and goes through user space.
for _ in $(seq 1 16); do
	(i=0; while [ $i -lt 2000 ]; do i=$((i + 1)); done) &
	pids+=($!)
done
for p in "${pids[@]}"; do
	[ "$p" -gt 4190000 ] || fail "pid $p is not above 4190000: the test would prove nothing"
	wait "$p" || fail "a task with pid $p failed"
done
sched_alive || fail "scx_userland is no longer attached (state $(scx_state))"

rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$SCHED_PID/status")
lck=$(awk '/^VmLck:/ { print $2 }' "/proc/$SCHED_PID/status")
hwm=$(awk '/^VmHWM:/ { print $2 }' "/proc/$SCHED_PID/status")
sleep 1
sched_stop || fail "scx_userland exited with status $SCHED_STATUS"
echo "pid_max 4194304, pids ${pids[0]}..${pids[-1]}: VmRSS ${rss} kB, VmHWM ${hwm} kB, VmLck ${lck} kB" |
	tee "$SCX_OUT/rss.txt"
[ "${lck:-0}" -gt 0 ] || fail "no memory is locked: mlockall did not take effect"
[ "$hwm" -lt "$LIMIT_KB" ] || fail "peak resident memory ${hwm} kB is over 64 MiB"
echo "peak RSS ${hwm} kB (< 64 MiB) with pid_max 4194304 and pids above 4190000"
