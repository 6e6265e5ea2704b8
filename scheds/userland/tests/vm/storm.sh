#!/bin/bash
# A fork storm: 500 short-lived processes started as fast as the shell can fork
# them, all at once. Every task of every one of them goes through user space;
# all 500 must finish, and the scheduler must still be attached and exit 0.
# They are subshells that exit at once, not new programs: under TCG each exec
# from the shared host filesystem costs about 0.2 s, which would make this a
# test of the file system (the smoke scenario already runs 50 fork+exec).
# timeout: 200
set -u
source "$SCX_LIB"

NR=${STORM_PROCS:-500}

sched_start --stats-json
start=$SECONDS
pids=()
for ((i = 0; i < NR; i++)); do
	(exit 0) &
	pids+=($!)
done
failed=0
for p in "${pids[@]}"; do
	wait "$p" || failed=$((failed + 1))
done
secs=$((SECONDS - start))
[ "$failed" = 0 ] || fail "$failed of $NR processes did not exit with status 0"
sched_alive || fail "scx_userland is no longer attached after the storm (state $(scx_state))"
sleep 2
last=$(tail -n 1 "$SCX_OUT/sched.out")
sched_stop || fail "scx_userland exited with status $SCHED_STATUS after the storm"
echo "$NR processes in ${secs}s; last stats: $last" | tee "$SCX_OUT/storm.txt"
user=$(printf '%s' "$last" | grep -o '"nr_user_enqueues":[0-9]*' | cut -d: -f2)
[ "${user:-0}" -ge "$NR" ] || fail "only ${user:-0} tasks went through user space for $NR processes"
echo "$NR short-lived processes in ${secs}s, ${user} handoffs to user space, scheduler still attached"
