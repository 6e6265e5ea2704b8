# shellcheck shell=bash
# Helpers shared by scx_central's VM checks; sourced by them (not a check: no .sh).

# stats_lines: how many --stats-json lines the scheduler has printed. A read
# of the file while it grows can fail on the guest's 9p mount (ENODATA): retry.
stats_lines() {
	local n i
	for i in 1 2 3 4 5; do
		n=$(grep -c '^{' "$SCX_OUT/sched.out" 2>/dev/null) && break
		[ "$n" = 0 ] && break
		sleep 0.1
	done
	echo "${n:-0}"
}

# last_stat NAME: counter NAME from the last --stats-json line the scheduler printed.
last_stat() {
	local v i
	for i in 1 2 3 4 5; do
		v=$(grep '^{' "$SCX_OUT/sched.out" 2>/dev/null | tail -n 1 | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p")
		[ -n "$v" ] && break
		sleep 0.1
	done
	echo "$v"
}

# next_stats: wait (at most 5 s) for one more stats line, so last_stat is
# current. Not an assertion: the guest's view of a file that another process
# appends to on the shared mount can lag, so callers check the values they read
# (and read final values after sched_stop, when the file is complete).
next_stats() {
	local n deadline=$((SECONDS + 5))
	n=$(stats_lines)
	while [ "$(stats_lines)" -le "$n" ]; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			echo "note: no new stats line seen within 5 s" >&2
			return 0
		fi
		sleep 0.2
	done
}

# scx_event NAME: the kernel's own sched_ext event counter NAME (6.15+), or 0.
scx_event() {
	awk -v n="$1" '$1 == n { print $2; found = 1 } END { if (!found) print 0 }' \
		/sys/kernel/sched_ext/root/events 2>/dev/null || echo 0
}

# watch_alive SECONDS CMD...: run CMD, checking every second that the scheduler
# is still attached; fail as soon as it is not. Returns CMD's status.
watch_alive() {
	local secs=$1
	shift
	"$@" &
	local pid=$! deadline=$((SECONDS + secs))
	while kill -0 "$pid" 2>/dev/null; do
		if ! sched_alive; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			fail "scx_central exited during '$*': $(tail -n 2 "$SCX_OUT/sched.err" | tr '\n' ' ')"
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill "$pid" 2>/dev/null
			wait "$pid" 2>/dev/null
			fail "'$*' did not finish within $secs s"
		fi
		sleep 1
	done
	wait "$pid"
}
