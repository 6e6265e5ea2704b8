#!/bin/bash
# Cgroups come and go while scx_pair runs: 100 cgroups are created, filled (a
# process moves itself into each and spins, a long-running spinner is moved through
# them all) and removed, with no scheduler exit and a clean kernel log; the count
# of tracked cgroups returns to where it started. Then the limit: with
# --max-cgroups set to the current count + 3, creating a parent and 5 children in it
# gives 2 children and 3 mkdir failures with EBUSY, and the scheduler keeps running.
# timeout: 180
set -u
source "$SCX_LIB"
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/cgroup.inc"
PY=/usr/bin/python3
[ -x "$PY" ] || skip "python3 is not installed (needed to churn cgroups quickly)"
cgroup_setup

dmesg -C
sched_start --stats 1
wait_stats
before=$(last_stats cgroups)
"$PY" "$HERE/churn.py" churn "$CG/pairchurn" 100 >"$SCX_OUT/churn.txt" 2>&1 || fail "churn failed: $(tail -1 "$SCX_OUT/churn.txt")"
cat "$SCX_OUT/churn.txt"
grep -q 'created=100 removed=100' "$SCX_OUT/churn.txt" || fail "churn: $(tail -1 "$SCX_OUT/churn.txt")"
sched_alive || fail "scx_pair exited during the cgroup churn: $(tail -1 "$SCX_OUT/sched.err")"
# Cgroups go offline asynchronously after rmdir: allow 10 s for the count to settle.
deadline=$((SECONDS + 10))
while after=$(last_stats cgroups) && [ "${before%/*}" != "${after%/*}" ] && [ "$SECONDS" -lt "$deadline" ]; do
	sleep 0.5
done
echo "tracked cgroups before ${before}, after ${after}"
[ "${before%/*}" = "${after%/*}" ] || fail "tracked cgroups went from $before to $after after removing all 100"
sched_stop || fail "scx_pair exited with status $SCHED_STATUS after the churn"
kernel_log_clean

n=${before%/*}
sched_start --stats 1 --max-cgroups $((n + 3))
"$PY" "$HERE/churn.py" limit "$CG/pairlimit" 5 >"$SCX_OUT/limit.txt" 2>&1 || fail "limit: $(tail -1 "$SCX_OUT/limit.txt")"
cat "$SCX_OUT/limit.txt"
# pairlimit itself takes one of the 3 free slots.
grep -q 'created=2 refused=3 other=0' "$SCX_OUT/limit.txt" || fail "limit $((n + 3)): $(tail -1 "$SCX_OUT/limit.txt")"
sleep 1.5
sched_alive || fail "scx_pair exited when the cgroup limit was reached"
grep -q 'refused with EBUSY' "$SCX_OUT/sched.err" || fail "no warning about refused cgroups on stderr"
grep 'refused with EBUSY' "$SCX_OUT/sched.err" | head -1
sched_stop || fail "scx_pair exited with status $SCHED_STATUS after the limit test"
echo "100 cgroups created, filled and removed; limit $((n + 3)): 3 mkdirs refused with EBUSY, scheduler kept running"
