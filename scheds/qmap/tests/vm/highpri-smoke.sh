#!/bin/bash
# The common smoke workload with -H: 200 fork+exec of a short program, then
# stress-ng --cpu N --switch N for 10 s, with short real-time bursts (so tasks
# get re-enqueued when a higher class takes a CPU). The boost itself is
# measured by highpri-share.sh. The scheduler stays up, detaches on SIGINT with
# status 0, and the kernel log has no error, warning or deprecation notice
# (on 7.2+ that means ops.cpu_release() was replaced before load).
# timeout: 150
set -u
source "$SCX_LIB"
require stress-ng chrt

dmesg -C
sched_start --stats 1 -H
for _ in $(seq 200); do /bin/true || fail "fork+exec failed under scx_qmap -H"; done
stress-ng --cpu "$SCX_NR_CPUS" --switch "$SCX_NR_CPUS" -t 10s >"$SCX_OUT/stress.out" 2>&1 &
stress=$!
for _ in $(seq 20); do
	chrt -f 10 bash -c 'for ((i = 0; i < 2000; i++)); do :; done'
	sleep 0.3
done
wait "$stress" || fail "stress-ng failed under scx_qmap -H"
sleep 1.2
sched_alive || fail "scx_qmap -H exited or was detached during the workload: $(tail -n 1 "$SCX_OUT/sched.err")"
sched_stop >/dev/null || fail "scx_qmap -H exited with status $SCHED_STATUS: $(tail -n 1 "$SCX_OUT/sched.err")"

grep 'reenq=' "$SCX_OUT/sched.out" | tail -n 1
kernel_log_clean
no_deprecation_notice
echo "-H: 200 fork+exec and 10 s of stress-ng with RT bursts, clean detach, no warning or deprecation in the kernel log"
