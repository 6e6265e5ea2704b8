#!/bin/bash
# The starvation bound (README "Starvation bound"), seen from outside: with
# W runnable tasks on C CPUs and slice s, a runnable task that may run on every
# CPU waits at most ceil((W - C) / C) * (s + T) for a CPU, T being the 1 ms
# timer period; per-CPU kthreads skip the queue. ftrace's sched_wakeup and
# sched_switch give, for every task, each stretch from becoming runnable (woken,
# or switched out still runnable) to running again. Under 3 CPU hogs per CPU
# (-s 20000) the check fails if a hog ever waited longer than the bound plus
# TCG_SLACK_MS (default 60: with one emulator thread for every vCPU, a vCPU
# can sit unscheduled on the host for tens of ms, which the guest's clock
# still counts), or if a per-CPU kthread waited longer than s + T plus the
# slack. Without timer preemption a hog would wait for seconds.
# timeout: 200
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/central.bash"
require stress-ng awk
N=$SCX_NR_CPUS
[ "$N" -ge 2 ] || skip "needs 2 CPUs, the guest has $N"
SLICE_US=20000
TIMER_US=1000
HOGS=$((3 * N))
# The hogs, plus a little room for the loader, the shell and stress-ng's parent.
W=$((HOGS + 2))
SLACK_MS=${TCG_SLACK_MS:-60}
rounds=$(((W - N + N - 1) / N))
bound_us=$((rounds * (SLICE_US + TIMER_US)))
kthread_bound_us=$((SLICE_US + TIMER_US))

T=/sys/kernel/tracing
[ -e "$T/trace" ] || mount -t tracefs nodev "$T" 2>/dev/null
[ -w "$T/trace" ] || skip "tracefs is not available"
cleanup() {
	echo 0 >"$T/tracing_on"
	echo 0 >"$T/events/enable"
	echo 1408 >"$T/buffer_size_kb"
}
trap cleanup EXIT
echo 0 >"$T/tracing_on"
echo >"$T/trace"
echo 8192 >"$T/buffer_size_kb"
for ev in sched/sched_switch sched/sched_wakeup sched/sched_wakeup_new; do
	echo 1 >"$T/events/$ev/enable" || fail "cannot enable the $ev event"
done

sched_start -s "$SLICE_US" --stats-json
stress-ng --cpu "$HOGS" -t 9s >stress.txt 2>&1 &
hogs=$!
# Let every hog start before measuring: a fork's first wait is not a turn.
sleep 1
echo 1 >"$T/tracing_on"
sleep 6
echo 0 >"$T/tracing_on"
wait "$hogs" || fail "stress-ng failed: $(tail -n 1 stress.txt)"
cat "$T/trace" >trace.txt
sched_alive || fail "scx_central exited during the workload"
sched_stop || fail "scx_central exited with status $SCHED_STATUS after SIGINT"

awk -v bound="$bound_us" -v kbound="$kthread_bound_us" -v slack="$((SLACK_MS * 1000))" '
function field(name,   r) {
	if (!match($0, " " name "=[^ ]+"))
		return ""
	return substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 2)
}
# The timestamp is the field ending in ":" just before the event name.
function stamp(   i) {
	for (i = 1; i <= NF; i++)
		if ($(i + 1) ~ /^sched_(switch|wakeup|wakeup_new):$/)
			return substr($i, 1, length($i) - 1) * 1000000
	return -1
}
function note(pid, comm, us) {
	if (comm ~ /^stress-ng/) {
		nh++
		if (us > hmax) { hmax = us; hwho = comm "[" pid "]" }
		if (us > bound) over++
		if (us > bound / 2) half++
	} else if (comm ~ /^(kworker\/[0-9]+:|ksoftirqd\/|cpuhp\/|rcuc\/)/) {
		nk++
		if (us > kmax) { kmax = us; kwho = comm "[" pid "]" }
	}
}
/^#/ { next }
{
	ts = stamp()
	if (ts < 0)
		next
	if ($0 ~ / sched_wakeup(_new)?: /) {
		pid = field("pid")
		if (!(pid in since))
			since[pid] = ts
	} else if ($0 ~ / sched_switch: /) {
		if (field("prev_state") ~ /^R/ && field("prev_pid") != 0)
			since[field("prev_pid")] = ts
		pid = field("next_pid")
		if (pid != 0 && (pid in since)) {
			note(pid, field("next_comm"), ts - since[pid])
			delete since[pid]
		}
	}
}
END {
	printf "hog waits: %d, max %.1f ms (%s), over half the bound %d, over the bound %d; bound %.1f ms (+%.0f ms TCG slack)\n",
		nh, hmax / 1000, hwho, half + 0, over + 0, bound / 1000, slack / 1000
	printf "per-CPU kthread waits: %d, max %.1f ms (%s); bound %.1f ms (+%.0f ms TCG slack)\n",
		nk, kmax / 1000, kwho, kbound / 1000, slack / 1000
	ok = 1
	if (nh < 10) { print "FAIL: too few hog waits traced (" nh ")"; ok = 0 }
	if (hmax > bound + slack) { print "FAIL: a hog waited " hmax / 1000 " ms, over the bound"; ok = 0 }
	if (kmax > kbound + slack) { print "FAIL: a per-CPU kthread waited " kmax / 1000 " ms"; ok = 0 }
	exit !ok
}' trace.txt | tee bound.txt
[ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep FAIL bound.txt | head -n 1)"
echo "starvation bound held: W=$W C=$N s=${SLICE_US} us: $(head -n 1 bound.txt)"
