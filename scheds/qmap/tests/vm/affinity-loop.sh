#!/bin/bash
# One thread changes its affinity in a tight loop (each single CPU in turn,
# then all of them) among 2 busy threads per CPU, for AFFINITY_SECS (default
# 20; the target run is 60). A re-enqueue that sends the task back to a CPU
# outside its new mask loops until the kernel ejects the scheduler
# (`reenqueue limit`). It passes when scx_qmap stays attached throughout,
# exits with status 0 and the kernel log has no reenqueue or stall line.
# timeout: 200
set -u
source "$SCX_LIB"
require stress-ng perl
secs=${AFFINITY_SECS:-20}
sched_start
stress-ng --cpu $((SCX_NR_CPUS * 2)) --timeout "${secs}s" >/dev/null 2>&1 &
busy=$!
# 203 is x86-64's sched_setaffinity.
perl -e 'my ($n, $end) = @ARGV; $end += time; my $i = 0;
while (time < $end) {
	my $m = $i % ($n + 1) == $n ? (1 << $n) - 1 : 1 << ($i % $n);
	syscall(203, 0, 8, pack("Q", $m)) == 0 or die "sched_setaffinity: $!\n";
	$i++;
}
print "$i\n";' "$SCX_NR_CPUS" "$secs" >"$SCX_OUT/changes" 2>&1 &
looper=$!
t0=$SECONDS
while kill -0 "$looper" 2>/dev/null; do
	sched_alive || fail "after $((SECONDS - t0)) s: scx_$SCX_NAME is not attached (state $(scx_state)): $(dmesg | grep -m1 -E 'reenqueue|sched_ext: .*disabled')"
	[ $((SECONDS - t0)) -le $((secs + 60)) ] || fail "the affinity loop still runs $((SECONDS - t0)) s after it started"
	sleep 1
done
wait "$looper" || fail "the affinity loop failed: $(cat "$SCX_OUT/changes")"
wait "$busy"
sched_stop || fail "scx_$SCX_NAME exited with status $SCHED_STATUS"
line=$(dmesg | grep -m1 -iE 'reenqueue|runnable task stall|sched_ext: .*(error|stall)')
[ -z "$line" ] || fail "kernel log: $line"
kernel_log_clean
echo "$(cat "$SCX_OUT/changes") affinity changes in $secs s among $((SCX_NR_CPUS * 2)) busy threads: attached throughout, exit 0, kernel log clean"
