#!/bin/bash
# The starvation bound (README "Starvation bound"), seen from outside. With W
# runnable tasks on C CPUs, slice s and timer period T, a runnable task that
# may run on every CPU waits at most ceil((W - C) / C) * (s + T): central_q
# is FIFO (nothing overtakes a waiting task) and the timer ends every turn
# within s + T while tasks wait. Per-CPU kthreads skip the queue.
#
# ftrace (global clock) records sched_wakeup, sched_switch and the BPF timer's
# expiries under 3 CPU hogs per CPU with -s 20000. For every stretch a task
# spends runnable (woken, or switched out still runnable) until it runs again,
# the check fails if
# - a hog was overtaken: another hog was handed out (inserted into a CPU's
#   local DSQ, seen by an fprobe on the insert kfunc) twice while it waited
#   (an order, which the emulator's timing cannot blur);
# - a hog waited longer than the bound with T taken as the longest gap
#   between two timer expiries seen (QEMU's single TCG thread runs one busy
#   vCPU for up to 100 ms while the others, the central one too, stand still
#   and their clocks run on), plus TCG_SLACK_MS (default 60) for the kicks,
#   which wait for the same emulator;
# - a per-CPU kthread waited longer than s + T plus the same slack.
# Without the timer's preemption a hog waits for seconds; without FIFO order
# some hog is overtaken.
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

tracefs_ready
insert_kfunc
fn=$INSERT_FN
clock=$(sed -n 's/.*\[\(.*\)\].*/\1/p' "$T/trace_clock")
cleanup() {
	echo 0 >"$T/tracing_on"
	echo 0 >"$T/events/enable"
	echo '-:scxbound/insert' >>"$T/dynamic_events" 2>/dev/null
	echo 1408 >"$T/buffer_size_kb"
	echo "${clock:-local}" >"$T/trace_clock"
}
trap cleanup EXIT
echo 0 >"$T/tracing_on"
# Waits span CPUs: one clock for all of them (the default is per CPU).
echo global >"$T/trace_clock" || fail "cannot select the global trace clock"
echo >"$T/trace"
echo 8192 >"$T/buffer_size_kb"
echo "f:scxbound/insert $fn pid=p->pid dsq=dsq_id:x64" >>"$T/dynamic_events" ||
	fail "cannot add an fprobe on $fn: $(tail -n 2 "$T/error_log")"
for ev in scxbound/insert sched/sched_switch sched/sched_wakeup sched/sched_wakeup_new \
	timer/hrtimer_expire_entry; do
	echo 1 >"$T/events/$ev/enable" || fail "cannot enable the $ev event"
done

sched_start -s "$SLICE_US" --stats-json
stress-ng --cpu "$HOGS" -t 12s >stress.txt 2>&1 &
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

awk -v rounds="$rounds" -v slice="$SLICE_US" -v period="$TIMER_US" -v slack="$((SLACK_MS * 1000))" '
function field(name,   r) {
	if (!match($0, " " name "=[^ ]+"))
		return ""
	return substr($0, RSTART + length(name) + 2, RLENGTH - length(name) - 2)
}
# The timestamp is the field ending in ":" just before the event name.
function stamp(   i) {
	for (i = 1; i <= NF; i++)
		if ($(i + 1) ~ /^(insert|sched_switch|sched_wakeup|sched_wakeup_new|hrtimer_expire_entry):$/)
			return substr($i, 1, length($i) - 1) * 1000000
	return -1
}
function runnable(pid) {
	if (!(pid in since)) {
		since[pid] = ts
		base[pid] = handed_out
	}
}
/^#/ { next }
# First pass over the trace: which pids are hogs.
NR == FNR {
	if ($0 ~ / sched_switch: / && field("next_comm") == "stress-ng-cpu")
		hog[field("next_pid")] = 1
	next
}
{
	ts = stamp()
	if (ts < 0)
		next
	if ($0 ~ / hrtimer_expire_entry: /) {
		if ($0 ~ /function=bpf_timer_cb/) {
			if (last_timer && ts - last_timer > tgap)
				tgap = ts - last_timer
			last_timer = ts
			ntimer++
		}
	} else if ($0 ~ / insert: /) {
		# SCX_DSQ_LOCAL_ON | cpu is 0xc000000000000000 | cpu.
		pid = field("pid")
		if (!(pid in hog) || substr(field("dsq"), 1, 3) != "0xc")
			next
		# Handed out before, after a hog still waiting had joined the
		# queue, and now again: it overtook that hog.
		if (pid in last_out)
			for (u in since)
				if ((u in hog) && !(u in out) && u != pid && last_out[pid] >= base[u]) {
					overtaken++
					if (!owho) owho = "stress-ng-cpu[" pid "] overtook stress-ng-cpu[" u "] at " ts / 1000000 " s"
				}
		if ((pid in since) && !(pid in out)) {
			n = handed_out - base[pid]
			if (n > nmax) { nmax = n; nwho = "stress-ng-cpu[" pid "]" }
			out[pid] = 1
		}
		last_out[pid] = handed_out++
	} else if ($0 ~ / sched_wakeup(_new)?: /) {
		runnable(field("pid"))
	} else if ($0 ~ / sched_switch: /) {
		pid = field("prev_pid")
		if (field("prev_state") ~ /^R/ && pid != 0) {
			runnable(pid)
		} else {
			# Asleep: a wakeup that came while it was still on its way
			# to sleep (in a lock wait loop, say) does not count.
			delete since[pid]
			delete out[pid]
		}
		pid = field("next_pid")
		comm = field("next_comm")
		if (pid != 0 && (pid in since)) {
			us = ts - since[pid]
			if (pid in hog) {
				nh++
				if (us > hmax) { hmax = us; hwho = comm "[" pid "]" }
			} else if (comm ~ /^(kworker\/[0-9]+:|ksoftirqd\/|cpuhp\/|rcuc\/)/) {
				nk++
				if (us > kmax) { kmax = us; kwho = comm "[" pid "]" }
			}
			delete since[pid]
			delete out[pid]
		}
	}
}
END {
	t = tgap > period ? tgap : period
	bound = rounds * (slice + t)
	kbound = slice + t
	printf "BPF timer: %d expiries, longest gap %.1f ms (nominal %.1f ms)\n", ntimer, tgap / 1000, period / 1000
	printf "hog waits: %d, max %.1f ms (%s); bound %d x (%.1f + %.1f) = %.1f ms, +%.0f ms slack\n",
		nh, hmax / 1000, hwho, rounds, slice / 1000, t / 1000, bound / 1000, slack / 1000
	printf "hand-outs of hogs: %d; most while one hog waited: %d (%s); overtakings: %d\n",
		handed_out, nmax, nwho, overtaken
	printf "per-CPU kthread waits: %d, max %.1f ms (%s); bound %.1f ms, +%.0f ms slack\n",
		nk, kmax / 1000, kwho, kbound / 1000, slack / 1000
	ok = 1
	if (nh < 10) { print "FAIL: too few hog waits traced (" nh ")"; ok = 0 }
	if (ntimer < 2) { print "FAIL: the BPF timer fired " ntimer + 0 " times"; ok = 0 }
	if (handed_out < 10) { print "FAIL: too few hand-outs traced (" handed_out + 0 ")"; ok = 0 }
	if (overtaken) { print "FAIL: " owho " (" overtaken " in all)"; ok = 0 }
	if (hmax > bound + slack) { print "FAIL: " hwho " waited " hmax / 1000 " ms, over the bound"; ok = 0 }
	if (kmax > kbound + slack) { print "FAIL: " kwho " waited " kmax / 1000 " ms, over s + T"; ok = 0 }
	exit !ok
}' trace.txt trace.txt | tee bound.txt
[ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep FAIL bound.txt | head -n 1)"
echo "starvation bound held (W=$W, C=$N, s=$SLICE_US us): $(sed -n 2,3p bound.txt | tr '\n' ' ')"
