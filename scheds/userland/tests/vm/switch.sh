#!/bin/bash
# Decisions per second under a context-switch storm: stress-ng --switch with one
# pair of workers per CPU, for 10 s. Every wakeup goes through user space; the
# scheduler must keep up (no stall, exit 0) and reports how many decisions it made
# per second. The figure is kept in switch.txt (artifacts) and printed.
# timeout: 120
set -u
source "$SCX_LIB"
require stress-ng

SECS=${SWITCH_SECONDS:-10}
sched_start --stats-json
stress-ng --switch "$SCX_NR_CPUS" -t "${SECS}s" --metrics-brief >"$SCX_OUT/stress.txt" 2>&1 ||
	fail "stress-ng --switch failed: $(tail -n 1 "$SCX_OUT/stress.txt")"
sched_alive || fail "scx_userland is no longer attached after stress-ng --switch"
sleep 1
sched_stop || fail "scx_userland exited with status $SCHED_STATUS"

rates=$(grep -o '"decisions_per_sec":[0-9]*' "$SCX_OUT/sched.out" | cut -d: -f2 | sort -n)
peak=$(printf '%s\n' "$rates" | tail -n 1)
# The median of the busy seconds (those above a tenth of the peak).
median=$(printf '%s\n' "$rates" | awk -v p="${peak:-0}" '$1 > p / 10 { v[n++] = $1 } END { print n ? v[int(n / 2)] : 0 }')
ops=$(awk '/switch / && /bogo/ { next } /switch/ { print $5; exit }' "$SCX_OUT/stress.txt")
echo "stress-ng --switch $SCX_NR_CPUS for ${SECS}s: median ${median} decisions/s, peak ${peak:-0}; stress-ng bogo ops/s (real) ${ops:-?}" |
	tee "$SCX_OUT/switch.txt"
[ "${peak:-0}" -gt 0 ] || fail "no decisions reported"
echo "median ${median} decisions/s (peak ${peak}) under stress-ng --switch"
