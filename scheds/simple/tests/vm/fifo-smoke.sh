#!/bin/bash
# The common smoke workload in FIFO mode (-f): 200 fork+exec of a short program
# plus stress-ng --cpu 4 --switch 4 for 10 s complete, the scheduler stays up and
# detaches on SIGINT with status 0, and the kernel log stays clean.
# timeout: 150
set -u
source "$SCX_LIB"
require stress-ng

dmesg -C
sched_start --stats 1 -f
for _ in $(seq 200); do /bin/true || fail "fork+exec failed under scx_simple -f"; done
stress-ng --cpu 4 --switch 4 -t 10s >"$SCX_OUT/stress.out" 2>&1 || fail "stress-ng failed under scx_simple -f"
kill -0 "$SCHED_PID" 2>/dev/null || fail "scx_simple -f exited during the workload"
grep -q 'mode=fifo' "$SCX_OUT/sched.out" || fail "stats do not report mode=fifo"
sched_stop >/dev/null || fail "scx_simple -f exited with status $SCHED_STATUS"
kernel_log_clean
echo "FIFO mode: 200 fork+exec and 10 s of stress-ng, clean detach"
