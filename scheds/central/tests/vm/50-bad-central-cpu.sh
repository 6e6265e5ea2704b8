#!/bin/bash
# A central CPU that is not online is refused before anything is loaded, with
# one sentence naming the valid CPUs and the usage-error status 2: -c 99 on this
# guest, and -c on a CPU taken offline for the test. "Before loading": even with
# -v (libbpf's debug output) nothing but that sentence is printed, and sched_ext
# stays disabled with its enable count unchanged.
# timeout: 90
set -u
source "$SCX_LIB"
N=$SCX_NR_CPUS
last=$((N - 1))

# refused CPU RANGE: -c CPU must fail with status 2 and one sentence naming RANGE.
refused() {
	local seq0 out rc
	seq0=$(cat /sys/kernel/sched_ext/enable_seq)
	out=$("$SCX_SCHED" -v -c "$1" 2>&1)
	rc=$?
	echo "-c $1: status $rc: $out"
	[ "$rc" = 2 ] || fail "-c $1: exit status $rc, want 2: $out"
	[ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] || fail "-c $1: expected one line (nothing loaded), got: $out"
	printf '%s' "$out" | grep -q "CPU $1 .*not online.* one of $2\$" || fail "-c $1: does not name the valid CPUs $2: $out"
	[ "$(scx_state)" = disabled ] || fail "-c $1: sched_ext state is $(scx_state)"
	[ "$(cat /sys/kernel/sched_ext/enable_seq)" = "$seq0" ] || fail "-c $1: a scheduler was enabled"
}

refused 99 "0-$last"

# Take the last CPU offline: it is then refused, and left out of the range.
[ "$N" -ge 2 ] && [ -w "/sys/devices/system/cpu/cpu$last/online" ] || skip "cannot take CPU $last offline"
echo 0 >"/sys/devices/system/cpu/cpu$last/online" || skip "CPU $last refused to go offline"
trap 'echo 1 >/sys/devices/system/cpu/cpu'"$last"'/online' EXIT
if [ "$last" -gt 1 ]; then range="0-$((last - 1))"; else range=0; fi
refused "$last" "$range"
echo 1 >"/sys/devices/system/cpu/cpu$last/online" || fail "CPU $last did not come back online"
trap - EXIT
echo "-c 99 and -c $last (offline) refused before loading, naming CPUs 0-$last and $range"
