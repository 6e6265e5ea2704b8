#!/bin/bash
# Who is scheduled by qmap, read from the kernel's /proc/PID/sched:
# with -p only the process set to SCHED_EXT moves (ext.enabled 1) while a
# normal one stays in the fair class; -d PID keeps a SCHED_EXT process out
# (policy reset to SCHED_NORMAL, /sys/kernel/sched_ext/nr_rejected + 1);
# without -p normal tasks move too. Then a CPU goes offline and online again
# while qmap runs: it stays attached (no restart) and counts both events.
# timeout: 120
set -u
source "$SCX_LIB"
require python3

NR_REJ=/sys/kernel/sched_ext/nr_rejected
[ -r "$NR_REJ" ] || skip "$NR_REJ is missing"

field() { awk -v k="$2" '$1 == k { print $3 }' "/proc/$1/sched"; }
set_ext() {
	python3 -c 'import os, sys; os.sched_setscheduler(int(sys.argv[1]), 7, os.sched_param(0))' "$1" ||
		fail "could not set SCHED_EXT on $1"
}
# A task that wakes up often (without forking), so that the scheduler runs it.
ticker() { python3 -c 'import time
while True: time.sleep(0.05)' & }

ticker; ext_task=$!
ticker; normal_task=$!
ticker; kept_out=$!
set_ext "$ext_task"
set_ext "$kept_out"
rej0=$(cat "$NR_REJ")

sched_start -p -d "$kept_out"
sleep 1
e=$(field "$ext_task" ext.enabled); n=$(field "$normal_task" ext.enabled)
k=$(field "$kept_out" ext.enabled); kp=$(field "$kept_out" policy)
rej1=$(cat "$NR_REJ")
echo "-p -d: SCHED_EXT task ext.enabled=$e, normal task ext.enabled=$n, -d task ext.enabled=$k policy=$kp, nr_rejected $rej0 -> $rej1"
[ "$e" = 1 ] || fail "-p: the SCHED_EXT task is not on sched_ext (ext.enabled=$e)"
[ "$n" = 0 ] || fail "-p: a normal task moved to sched_ext (ext.enabled=$n)"
[ "$k" = 0 ] || fail "-d: the disallowed task is on sched_ext (ext.enabled=$k)"
[ "$kp" = 0 ] || fail "-d: the disallowed task's policy is $kp, want 0 (SCHED_NORMAL)"
[ "$rej1" -gt "$rej0" ] || fail "-d: nr_rejected did not grow ($rej0 -> $rej1)"
sched_stop >/dev/null || fail "scx_qmap -p -d exited with status $SCHED_STATUS"

sched_start --stats 1
seq0=$(cat /sys/kernel/sched_ext/enable_seq 2>/dev/null)
sleep 1
n=$(field "$normal_task" ext.enabled); e=$(field "$ext_task" ext.enabled)
echo "no -p: normal task ext.enabled=$n, SCHED_EXT task ext.enabled=$e"
[ "$n" = 1 ] || fail "without -p the normal task is not on sched_ext (ext.enabled=$n)"
[ "$e" = 1 ] || fail "without -p the SCHED_EXT task is not on sched_ext (ext.enabled=$e)"

cpu=$((SCX_NR_CPUS - 1))
online=/sys/devices/system/cpu/cpu$cpu/online
if [ "$cpu" -gt 0 ] && [ -w "$online" ]; then
	echo 0 >"$online" || fail "could not take CPU $cpu offline"
	sleep 1
	echo 1 >"$online" || fail "could not bring CPU $cpu back online"
	sleep 2.2
	sched_alive || fail "scx_qmap exited or was detached across CPU hotplug: $(tail -n 1 "$SCX_OUT/sched.err")"
	seq1=$(cat /sys/kernel/sched_ext/enable_seq 2>/dev/null)
	[ "$seq0" = "$seq1" ] || fail "scx_qmap was re-enabled across hotplug (enable_seq $seq0 -> $seq1)"
	hp=$(grep -o 'hotplug=+[0-9]*/-[0-9]*' "$SCX_OUT/sched.out" | tail -n 1)
	[ "$hp" = "hotplug=+1/-1" ] || fail "hotplug events counted as '$hp', want hotplug=+1/-1"
	echo "CPU $cpu offline and online: still attached, enable_seq $seq0, $hp"
else
	echo "note: CPU hotplug not tried (no writable $online)"
fi
sched_stop >/dev/null || fail "scx_qmap exited with status $SCHED_STATUS"
kill "$ext_task" "$normal_task" "$kept_out"
wait 2>/dev/null
echo "-p moves only SCHED_EXT tasks, -d keeps one out (nr_rejected $rej0 -> $rej1), hotplug handled live"
