#!/bin/bash
# When the loader cannot run on the central CPU, the scheduler says so clearly
# and still preempts with an unpinned timer. The scheduler is started inside a
# cgroup whose cpuset excludes the central CPU (-c 2 in a cpuset of CPUs 0-1):
# its stderr must say the timer is not pinned, the timer must fire and preempt
# under 2x oversubscription, and it must stop with status 0.
# timeout: 120
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/central.bash"
require stress-ng
N=$SCX_NR_CPUS
[ "$N" -ge 3 ] || skip "needs 3 CPUs, the guest has $N"
CG=/sys/fs/cgroup/scx-central-unpinned
grep -qw cpuset /sys/fs/cgroup/cgroup.controllers 2>/dev/null || skip "no cgroup2 cpuset controller"
echo +cpuset >/sys/fs/cgroup/cgroup.subtree_control || skip "cannot enable the cpuset controller"
mkdir -p "$CG" && echo 0-1 >"$CG/cpuset.cpus" || fail "cannot create a cpuset of CPUs 0-1"
cleanup() {
	echo $$ >/sys/fs/cgroup/cgroup.procs
	rmdir "$CG" 2>/dev/null && echo -cpuset >/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
}
trap cleanup EXIT

# The scheduler inherits this shell's cgroup; move back once it runs.
echo $$ >"$CG/cgroup.procs" || fail "cannot join $CG"
sched_start -c 2 --stats-json
echo $$ >/sys/fs/cgroup/cgroup.procs
grep -q 'timer is not pinned' sched.err || fail "no warning about the unpinned timer: $(cat sched.err)"

stress-ng --cpu $((2 * N)) -t 5s >stress.txt 2>&1 || fail "stress-ng failed: $(tail -n 1 stress.txt)"
next_stats
timer=$(last_stat timer) preempt=$(last_stat preempt)
sched_stop || fail "scx_central exited with status $SCHED_STATUS after SIGINT"
[ "${timer:-0}" -gt 0 ] && [ "${preempt:-0}" -gt 0 ] || fail "the unpinned timer did not work: timer=$timer preempt=$preempt"
echo "in a cpuset without CPU 2: '$(grep -m1 'not pinned' sched.err)'; timer=$timer preempt=$preempt; exit 0"
