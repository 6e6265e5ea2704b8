#!/bin/bash
# An outside observer, the kernel's own tracing, shows who decides and who runs.
# With the central CPU at 1 and twice as many CPU hogs as CPUs, ftrace records:
# - an fprobe on the kfunc that inserts a task into a DSQ (scx_bpf_dsq_insert
#   or ___v2), with the task's pid, the target DSQ and the calling CPU: every
#   insert into a CPU's local DSQ (SCX_DSQ_LOCAL_ON | cpu) must come from the
#   central CPU, and each other CPU must receive some;
# - sched_switch: every other CPU must run the hogs, and at least 90% of the
#   tasks the central CPU placed on CPU X must next be switched in on CPU X;
# - hrtimer_expire_entry for bpf_timer_cb: the BPF timer fires on CPU 1 only;
# - the scheduler's timer and preempt counters grow while CPUs are
#   oversubscribed, and sched_switch shows runnable tasks switched out
#   (preempted) on the other CPUs.
# /proc/interrupts' RES (rescheduling IPI) row is reported for context.
# timeout: 200
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/central.bash"
require stress-ng awk
N=$SCX_NR_CPUS
C=1
[ "$N" -ge 3 ] || skip "needs 3 CPUs, the guest has $N"

tracefs_ready
insert_kfunc
fn=$INSERT_FN

cleanup() {
	echo 0 >"$T/tracing_on"
	echo 0 >"$T/events/enable"
	echo '-:scxobs/insert' >>"$T/dynamic_events" 2>/dev/null
	echo 1408 >"$T/buffer_size_kb"
}
trap cleanup EXIT
echo 0 >"$T/tracing_on"
echo >"$T/trace"
echo 8192 >"$T/buffer_size_kb"
echo "f:scxobs/insert $fn pid=p->pid dsq=dsq_id:x64" >>"$T/dynamic_events" ||
	fail "cannot add an fprobe on $fn: $(tail -n 2 "$T/error_log")"
for ev in scxobs/insert sched/sched_switch timer/hrtimer_expire_entry; do
	echo 1 >"$T/events/$ev/enable" || fail "cannot enable the $ev event"
done

sched_start -c "$C" --stats-json
res0=$(grep 'RES:' /proc/interrupts)
echo 1 >"$T/tracing_on"
stress-ng --cpu $((2 * N)) -t 8s >stress.txt 2>&1 &
hogs=$!
sleep 3
next_stats
timer1=$(last_stat timer) preempt1=$(last_stat preempt)
wait "$hogs" || fail "stress-ng failed: $(tail -n 1 stress.txt)"
echo 0 >"$T/tracing_on"
res1=$(grep 'RES:' /proc/interrupts)
cat "$T/trace" >trace.txt
sched_alive || fail "scx_central exited during the workload"
sched_stop || fail "scx_central exited with status $SCHED_STATUS after SIGINT"
# The stats file is complete once the scheduler has exited.
timer2=$(last_stat timer) preempt2=$(last_stat preempt)

awk -v central="$C" -v ncpu="$N" '
function hex(s,   i, v) {
	v = 0
	s = tolower(s)
	sub(/^0x/, "", s)
	for (i = 1; i <= length(s); i++)
		v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
	return v
}
function field(name,   r) {
	if (!match($0, name "=[^ ]+"))
		return ""
	return substr($0, RSTART + length(name) + 1, RLENGTH - length(name) - 1)
}
/^#/ { if ($0 ~ /entries-in-buffer/) header = $0; next }
match($0, /\[[0-9]+\]/) {
	cpu = substr($0, RSTART + 1, RLENGTH - 2) + 0
	if ($0 ~ / insert: /) {
		dsq = field("dsq")
		# SCX_DSQ_LOCAL_ON is 0xc000000000000000 | cpu.
		if (length(dsq) != 18 || substr(dsq, 3, 1) != "c")
			next
		target = hex(substr(dsq, 11))
		if (cpu != central) {
			by_others++
		} else {
			placed[target]++
			pending[field("pid")] = target
		}
	} else if ($0 ~ / sched_switch: /) {
		next_pid = field("next_pid")
		if (next_pid == 0)
			next
		ran[cpu]++
		if (field("next_comm") ~ /^stress-ng/)
			hogs[cpu]++
		if (field("prev_state") ~ /^R/ && field("prev_pid") != 0)
			preempted[cpu]++
		if (next_pid in pending) {
			if (pending[next_pid] == cpu)
				matched++
			else
				elsewhere++
			delete pending[next_pid]
		}
	} else if ($0 ~ /hrtimer_expire_entry: / && $0 ~ /function=bpf_timer_cb/) {
		timer[cpu]++
		ntimer++
	}
}
END {
	ok = 1
	printf "trace: %s\n", header
	for (c = 0; c < ncpu; c++) {
		printf "cpu%d%s: placed by the central CPU %d, switched-in tasks %d (hogs %d), preempted %d, BPF timer expiries %d\n",
			c, c == central ? " (central)" : "", placed[c] + 0, ran[c] + 0, hogs[c] + 0,
			preempted[c] + 0, timer[c] + 0
		if (c != central && (placed[c] == 0 || hogs[c] == 0)) {
			print "FAIL: cpu" c " got no task from the central CPU or ran no hog"
			ok = 0
		}
		if (c != central)
			other_preempted += preempted[c]
	}
	printf "local-DSQ inserts by non-central CPUs: %d\n", by_others + 0
	printf "placed tasks next switched in on the CPU they were placed on: %d, elsewhere: %d\n",
		matched + 0, elsewhere + 0
	if (by_others > 0) { print "FAIL: a non-central CPU inserted into a local DSQ"; ok = 0 }
	if (matched + elsewhere == 0 || matched < 0.9 * (matched + elsewhere)) {
		print "FAIL: fewer than 90% of placed tasks ran where the central CPU put them"; ok = 0
	}
	if (ntimer == 0 || timer[central] != ntimer) {
		print "FAIL: the BPF timer fired off the central CPU (or never)"; ok = 0
	}
	if (other_preempted == 0) { print "FAIL: no task was preempted on a non-central CPU"; ok = 0 }
	exit !ok
}' trace.txt | tee observer.txt
[ "${PIPESTATUS[0]}" = 0 ] || fail "$(grep FAIL observer.txt | head -n 1)"

echo "RES IPIs before: $res0" >>observer.txt
echo "RES IPIs after:  $res1" >>observer.txt
tail -n 2 observer.txt
[ "$timer2" -gt "$timer1" ] || fail "the timer count did not grow while oversubscribed ($timer1 -> $timer2)"
[ "$preempt2" -gt "$preempt1" ] || fail "no timer preemption while oversubscribed ($preempt1 -> $preempt2)"
echo "observer: only CPU $C inserted into local DSQs and fired the BPF timer; every other CPU ran" \
	"the tasks it was given; timer $timer1 -> $timer2, preempt $preempt1 -> $preempt2 from 3 s into 8 s of 2x oversubscription to the end"
