#!/bin/bash
# With -f (FIFO inside each cgroup) the cgroup weights still hold: A (100)
# and B (300), 4 CPU-bound loops each, share the CPUs 1:3 within +-15%,
# read from cpu.stat over 8 s after 2 s of warm-up.
# timeout: 120
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/cgroups.bash"
trap cg_exit EXIT

WIN=8
cg_setup
sched_start -f --stats 2
stamp started
cg_make A 100
cg_make B 300
cg_loops A 4
cg_loops B 4
sleep 2
shares "fifo flat 1:3" 0.15 "A=25 B=75" "$(measure $WIN A B)" $WIN
rc=$?
cg_cleanup
sched_alive || fail "scx_flatcg -f is no longer attached"
sched_stop >/dev/null || fail "scx_flatcg -f exited with status $SCHED_STATUS"
stamp stopped
summary=$(grep '^fifo' "$KEEP")
[ $rc -eq 0 ] || fail "shares out of range: $summary"
echo "$summary"
