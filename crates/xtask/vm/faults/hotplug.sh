#!/bin/bash
# Fault suite, every scheduler: CPU hotplug under load. The highest-numbered
# CPU goes offline and back online once while two SCHED_EXT CPU hogs run (one
# cycle proves what three did: each transition is the same event; the
# hostile-load check takes CPUs on and off line again under far more load).
# A scheduler that implements ops.cpu_online/cpu_offline (FAULT_HOTPLUG=inplace
# in its tests/faults.env) must stay attached, never re-enabled; any other is
# restarted by scx-core, in the same process, after each transition. Either
# way it must keep the options it was started with. It runs with --partial,
# and after every transition the kernel's own view (/proc/PID/sched,
# ext.enabled) must show the SCHED_EXT hog on sched_ext and a SCHED_OTHER
# sleeper off it: a restart that lost the option would take both. FAULT_OPTS
# and FAULT_STATS_MATCH check one of the scheduler's own options in its stats.
# timeout: 480
set -u
source "$SCX_LIB"
fault_config
require stress-ng
[ "$SCX_NR_CPUS" -ge 2 ] || skip "one CPU: none can go offline"
cpu=$((SCX_NR_CPUS - 1))
online=/sys/devices/system/cpu/cpu$cpu/online
[ -w "$online" ] || skip "CPU $cpu cannot be taken offline here"

# shellcheck disable=SC2086 # FAULT_OPTS is a list of options
sched_start -p $FAULT_OPTS --stats-json --stats 0.5
pid=$SCHED_PID
run_ext stress-ng --cpu 2 --timeout 600 >/dev/null 2>"$SCX_OUT/hog.err" &
hog=$!
sleep 1000 &
other=$!
trap 'echo 1 >"$online" 2>/dev/null; kill "$hog" "$other" 2>/dev/null' EXIT

# options_kept WHEN: --partial (and FAULT_OPTS) are still in force.
options_kept() {
	local deadline=$((SECONDS + 10)) lines last
	until [ "$(ext_enabled "$hog")" = 1 ]; do
		[ "$(ext_enabled "$hog")" = "?" ] && skip "this kernel's /proc/PID/sched has no ext.enabled"
		[ "$SECONDS" -lt "$deadline" ] || fail "$1: the SCHED_EXT hog is not on sched_ext (ext.enabled $(ext_enabled "$hog"))"
		sleep 0.2
	done
	[ "$(ext_enabled "$other")" = 0 ] || fail "$1: a SCHED_OTHER task is on sched_ext: --partial was lost"
	[ -n "$FAULT_STATS_MATCH" ] || return 0
	lines=$(grep -c . "$SCX_OUT/sched.out")
	deadline=$((SECONDS + 10))
	until [ "$(grep -c . "$SCX_OUT/sched.out")" -gt "$lines" ]; do
		[ "$SECONDS" -lt "$deadline" ] || fail "$1: no stats for 10 s"
		sleep 0.2
	done
	last=$(tail -n 1 "$SCX_OUT/sched.out")
	grep -qF -- "$FAULT_STATS_MATCH" <<<"$last" || fail "$1: $FAULT_OPTS lost, the stats lack $FAULT_STATS_MATCH: $last"
}

# transition VALUE LABEL: write VALUE to the CPU's online file and wait for
# the scheduler to be attached again (or, in place, to have stayed attached).
transition() {
	local seq0 t0 deadline
	seq0=$(enable_seq)
	t0=$SECONDS
	echo "$1" >"$online" || fail "$2: could not write $1 to $online"
	if [ "$FAULT_HOTPLUG" = inplace ]; then
		sleep 2
		sched_alive || fail "$2: not attached any more (state $(scx_state)): $(tail -n 2 "$SCX_OUT/sched.err")"
		[ "$(enable_seq)" = "$seq0" ] || fail "$2: re-enabled, yet it claims to handle hotplug in place"
		waits+=("$((SECONDS - t0))")
	else
		deadline=$((SECONDS + 60))
		until [ "$(enable_seq)" -gt "$seq0" ] && sched_alive; do
			kill -0 "$pid" 2>/dev/null || fail "$2: scx_$SCX_NAME exited instead of restarting: $(tail -n 2 "$SCX_OUT/sched.err")"
			[ "$SECONDS" -lt "$deadline" ] || fail "$2: not attached again within 60 s (state $(scx_state))"
			sleep 0.2
		done
		waits+=("$((SECONDS - t0))")
	fi
	kill -0 "$hog" 2>/dev/null || fail "$2: the hog died"
	options_kept "$2"
}

# The hog is SCHED_EXT once perl has set the policy and exec'd stress-ng
# (perl takes a moment to start under TCG).
deadline=$((SECONDS + 60))
until [ "$(cat "/proc/$hog/comm" 2>/dev/null)" = stress-ng ]; do
	kill -0 "$hog" 2>/dev/null || fail "the SCHED_EXT hog did not start (sched_setscheduler to SCHED_EXT refused?)"
	[ "$SECONDS" -lt "$deadline" ] || fail "the hog is still $(cat "/proc/$hog/comm") after 60 s"
	sleep 0.2
done
[ "$(awk '{ print $41 }' "/proc/$hog/stat")" = 7 ] || fail "the hog's policy is $(awk '{ print $41 }' "/proc/$hog/stat"), not SCHED_EXT (7)"
waits=()
options_kept "before"
echo "loaded, hog on sched_ext under --partial, $SECONDS s into the check"
transition 0 "CPU $cpu offline"
transition 1 "CPU $cpu online"
restarts=$(grep -c "restarting with the same options" "$SCX_OUT/sched.err")
kill "$hog" "$other" 2>/dev/null
wait "$hog" "$other" 2>/dev/null
sched_stop || fail "exited with status $SCHED_STATUS after the hotplug cycles"
kernel_log_clean
kept="--partial${FAULT_OPTS:+ and $FAULT_OPTS}"
if [ "$FAULT_HOTPLUG" = inplace ]; then
	[ "$restarts" = 0 ] || fail "restarted $restarts times, yet it claims to handle hotplug in place"
	echo "CPU $cpu offline and online again, handled in place (${waits[*]} s): never re-enabled, $kept in force, exit 0"
else
	[ "$restarts" -ge 2 ] || fail "expected 2 restarts, sched.err shows $restarts"
	echo "CPU $cpu offline and online again: $restarts restarts in the same process (${waits[*]} s), $kept kept, exit 0"
fi
