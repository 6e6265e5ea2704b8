#!/bin/bash
# The smoke scenario with the central CPU moved off CPU 0 (-c 2): 50 forks and
# stress-ng's CPU + context-switch mix for 5 s, then SIGINT. The scheduler must
# exit with status 0, have pinned its timer to CPU 2, have dispatched tasks, and
# leave a kernel log free of BUG/WARNING/stall/error lines.
# timeout: 240
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/central.bash"
require stress-ng
[ "$SCX_NR_CPUS" -ge 3 ] || skip "-c 2 needs 3 CPUs, the guest has $SCX_NR_CPUS"

dmesg -C
sched_start -c 2 --stats-json
for i in $(seq 1 50); do
	/bin/true || fail "fork+exec #$i of /bin/true failed"
done
watch_alive 100 stress-ng --cpu "$SCX_NR_CPUS" --switch "$SCX_NR_CPUS" -t 5s --metrics-brief \
	>stress.txt 2>&1 || fail "stress-ng failed: $(tail -n 1 stress.txt)"
sched_stop || fail "scx_central -c 2 exited with status $SCHED_STATUS after SIGINT"
dispatch=$(last_stat dispatch) timer=$(last_stat timer)

grep -q 'timer pinned to the central CPU 2' sched.err || fail "timer not pinned to CPU 2: $(head -n 3 sched.err)"
[ "${dispatch:-0}" -gt 0 ] || fail "the central CPU dispatched nothing"
[ "${timer:-0}" -gt 0 ] || fail "the timer never fired"
kernel_log_clean
echo "-c 2: exit 0, timer pinned to CPU 2, dispatch=$dispatch timer=$timer"
