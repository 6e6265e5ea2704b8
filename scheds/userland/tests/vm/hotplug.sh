#!/bin/bash
# CPU hotplug: the kernel asks a scheduler without cpu_online/cpu_offline to
# restart. Taking CPU 1 offline, then back online, leaves scx_userland running
# in the same process, re-attached each time, with the same options (its stats
# report the --batch in force), the user-space scheduler rebuilt and working.
# timeout: 180
set -u
source "$SCX_LIB"

CPU=/sys/devices/system/cpu/cpu1/online
[ -w "$CPU" ] || skip "CPU 1 cannot be taken offline here"
restore() { echo 1 > "$CPU" 2>/dev/null; }
trap restore EXIT

seq_now() { cat /sys/kernel/sched_ext/enable_seq; }

# wait_reattached SEQ: wait until the scheduler was enabled again after SEQ.
wait_reattached() {
	local deadline=$((SECONDS + 60))
	while [ "$(seq_now)" -le "$1" ] || [ "$(scx_state)" != enabled ]; do
		kill -0 "$SCHED_PID" 2>/dev/null || fail "scx_userland exited instead of restarting: $(tail -n 2 "$SCX_OUT/sched.err")"
		[ "$SECONDS" -lt "$deadline" ] || fail "not re-enabled within 60 s (state $(scx_state))"
		sleep 0.2
	done
}

# works LABEL: tasks still run through user space, with --batch 4 in force.
works() {
	local before after
	before=$(grep -c . "$SCX_OUT/sched.out")
	for i in $(seq 1 20); do /bin/true; done
	sleep 2
	after=$(tail -n 1 "$SCX_OUT/sched.out")
	[ "$(grep -c . "$SCX_OUT/sched.out")" -gt "$before" ] || fail "$1: no stats since the restart"
	printf '%s' "$after" | grep -q '"batch":4' || fail "$1: --batch 4 was lost: $after"
	printf '%s' "$after" | grep -q '"nr_vruntime_dispatches":0,' && fail "$1: user space dispatched nothing: $after"
	echo "$1: $after"
}

sched_start -b 4 --stats-json --stats-interval 0.5
pid=$SCHED_PID
works "before"

s=$(seq_now)
echo 0 > "$CPU" || fail "could not take CPU 1 offline"
wait_reattached "$s"
[ "$SCHED_PID" = "$pid" ] || fail "a different process"
works "CPU 1 offline"

s=$(seq_now)
echo 1 > "$CPU" || fail "could not bring CPU 1 back online"
wait_reattached "$s"
works "CPU 1 online again"

restarts=$(grep -c "restarting with the same options" "$SCX_OUT/sched.err")
sched_stop || fail "scx_userland exited with status $SCHED_STATUS after the restarts"
[ "$restarts" -ge 2 ] || fail "expected 2 restarts, sched.err shows $restarts"
echo "restarted $restarts times on hotplug, same process, --batch 4 kept, exit 0"
