#!/bin/bash
# The soak (`cargo xtask soak`, not part of `cargo xtask test`): the scheduler
# runs for SCX_SOAK_SECS (default 300) under a mix of stress-ng's
# scheduler-related stressors: affinity changes, nice and policy changes,
# fork/exec, yield, context switching, timers and pipes; for a cgroup-aware
# scheduler (FAULT_CGROUPS=1 in its tests/faults.env) cgroups are created,
# filled, emptied and removed meanwhile. It passes when the scheduler is
# still attached at the end (checked every second throughout), every
# stressor finished with status 0, it then detaches with status 0, and the
# kernel log is clean.
# The timeout comes from `xtask soak` (the soak plus 240 s).
set -u
source "$SCX_LIB"
fault_config
require stress-ng
secs=${SCX_SOAK_SECS:-300}
[ "$secs" -gt 0 ] || secs=300

require setpriv
sched_start
stress-ng --affinity 1 --nice 1 --schedpolicy 1 --fork 1 --yield 1 \
	--switch 1 --timer 1 --pipe 1 --timeout "$secs" --metrics-brief \
	>"$SCX_OUT/stress.out" 2>&1 &
stress=$!
# stress-ng refuses to run its exec stressor as root.
setpriv --reuid=65534 --regid=65534 --clear-groups stress-ng --exec 1 --temp-path /tmp \
	--timeout "$secs" --metrics-brief >"$SCX_OUT/stress-exec.out" 2>&1 &
stress_exec=$!

churn=""
if [ "$FAULT_CGROUPS" = 1 ]; then
	root=/sys/fs/cgroup/scx-soak
	mkdir -p "$root" || fail "cannot create $root"
	echo +cpu >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	echo +cpu >"$root/cgroup.subtree_control" 2>/dev/null
	# Up to three child cgroups at a time, each holding a short CPU burner
	# for a moment, then emptied and removed.
	(
		i=0
		while :; do
			i=$((i + 1))
			d=$root/c$((i % 3))
			mkdir "$d" 2>/dev/null || { sleep 0.2; continue; }
			echo $((100 + (i % 5) * 200)) >"$d/cpu.weight" 2>/dev/null
			sh -c 'echo $$ >"$1/cgroup.procs"; i=0; while [ $i -lt 3000 ]; do i=$((i + 1)); done' _ "$d"
			rmdir "$d" 2>/dev/null
			echo "$i" >"$SCX_OUT/cgroups"
		done
	) &
	churn=$!
fi

t0=$SECONDS
while kill -0 "$stress" 2>/dev/null; do
	sched_alive || fail "after $((SECONDS - t0)) s: scx_$SCX_NAME is not attached any more (state $(scx_state)): $(tail -n 2 "$SCX_OUT/sched.err")"
	[ $((SECONDS - t0)) -le $((secs + 120)) ] || fail "stress-ng still runs $((SECONDS - t0)) s after it started"
	sleep 1
done
wait "$stress"
rc=$?
wait "$stress_exec"
rc_exec=$?
[ -n "$churn" ] && kill "$churn" 2>/dev/null && wait "$churn" 2>/dev/null
[ "$rc" = 0 ] || fail "stress-ng exited with status $rc: $(grep -m1 -iE 'fail|error' "$SCX_OUT/stress.out")"
[ "$rc_exec" = 0 ] || fail "stress-ng --exec exited with status $rc_exec: $(grep -m1 -iE 'fail|error' "$SCX_OUT/stress-exec.out")"
sched_alive || fail "scx_$SCX_NAME is not attached at the end (state $(scx_state))"
sched_stop || fail "exited with status $SCHED_STATUS after the soak"
if [ -n "$churn" ]; then
	rmdir "$root"/c* 2>/dev/null
	rmdir "$root" 2>/dev/null
fi
kernel_log_clean
cg=""
[ -f "$SCX_OUT/cgroups" ] && cg=", $(cat "$SCX_OUT/cgroups") cgroups created and removed"
echo "$secs s: 9 stressors finished with status 0$cg; attached throughout, exit 0, kernel log clean"
