# shellcheck shell=bash
# Helpers shared by scx_flatcg's checks (sourced, not a check itself): cgroup v2
# set-up, CPU-bound loops placed in cgroups, and CPU use read from each
# cgroup's cpu.stat, an observer independent of the scheduler.

CG=/sys/fs/cgroup
LOOPS=()
CGROUPS=()
# Measurements are also appended here, next to the check's own directory, so
# that they survive a passing run (xtask removes a passing check's directory).
KEEP="$SCX_OUT/../$(basename "$0" .sh).log"

cg_setup() {
	grep -q "^cgroup2 $CG " /proc/mounts || mount -t cgroup2 none "$CG" ||
		skip "cannot mount cgroup2 on $CG"
	grep -qw cpu "$CG/cgroup.controllers" || skip "the cpu controller is not available"
	echo +cpu >"$CG/cgroup.subtree_control" || fail "cannot enable +cpu in $CG"
	: >"$KEEP"
}

# cg_make PATH WEIGHT: create $CG/PATH with cpu.weight WEIGHT.
cg_make() {
	mkdir -p "$CG/$1" || fail "mkdir $CG/$1"
	CGROUPS+=("$CG/$1")
	echo "$2" >"$CG/$1/cpu.weight" || fail "cannot set cpu.weight of $1"
}

# cg_loops PATH N: N CPU-bound loops (bash subshells, no exec) in $CG/PATH.
cg_loops() {
	local i
	for ((i = 0; i < $2; i++)); do
		(echo "$BASHPID" >"$CG/$1/cgroup.procs" && while :; do :; done) &
		LOOPS+=($!)
	done
}

# task_state PID: state, wchan and cgroup of PID, for a diagnosis.
task_state() {
	local st wchan cg
	read -r st <"/proc/$1/stat" 2>/dev/null || { echo "$1 gone"; return; }
	st=${st##*) }
	read -r wchan <"/proc/$1/wchan" 2>/dev/null
	read -r cg <"/proc/$1/cgroup" 2>/dev/null
	echo "$1 state ${st%% *} wchan ${wchan:-?} ${cg:-}"
}

# cg_cleanup: stop the loops (SIGKILL; each must be gone within 10 s, or the
# check fails naming the task, rather than hang), remove the cgroups
# (deepest first).
cg_cleanup() {
	local i pid left deadline=$((SECONDS + 10))
	[ ${#LOOPS[@]} -gt 0 ] && kill -KILL "${LOOPS[@]}" 2>/dev/null
	while :; do
		left=()
		for pid in "${LOOPS[@]}"; do
			[ -d "/proc/$pid" ] && [[ "$(task_state "$pid")" != "$pid state Z"* ]] && left+=("$pid")
		done
		[ ${#left[@]} -eq 0 ] && break
		if [ "$SECONDS" -ge "$deadline" ]; then
			LOOPS=()
			for pid in "${left[@]}"; do
				echo "still alive 10 s after SIGKILL: $(task_state "$pid")" >&2
				cat "/proc/$pid/stack" >&2 2>/dev/null
			done
			fail "${#left[@]} killed task(s) did not exit: $(task_state "${left[0]}")"
		fi
		sleep 0.2
	done
	wait "${LOOPS[@]}" 2>/dev/null
	LOOPS=()
	for ((i = ${#CGROUPS[@]} - 1; i >= 0; i--)); do
		rmdir "${CGROUPS[i]}" 2>/dev/null
	done
	CGROUPS=()
}

# cg_exit: the checks' EXIT trap; also stops a scheduler left running by a failure.
cg_exit() {
	cg_cleanup
	if [ -n "${SCHED_PID:-}" ]; then
		kill -INT "$SCHED_PID" 2>/dev/null
		wait "$SCHED_PID" 2>/dev/null
		SCHED_PID=""
	fi
}

# stamp WHAT: note the check's elapsed time in $KEEP (TCG timing varies a lot).
stamp() {
	echo "t=${SECONDS}s $1" >>"$KEEP"
}

# usage_usec PATH...: set USAGE to the usage_usec of each cgroup's cpu.stat.
# Builtins only: a fork or exec costs 0.1-0.2 s under TCG next to busy loops,
# and the two reads of a window should be close together.
usage_usec() {
	local cg k v
	USAGE=()
	for cg in "$@"; do
		while read -r k v; do
			[ "$k" = usage_usec ] && { USAGE+=("$v"); break; }
		done <"$CG/$cg/cpu.stat"
	done
}

# measure SECS PATH...: print the CPU time (usec) each cgroup used over SECS.
measure() {
	local secs=$1 i before out=()
	shift
	usage_usec "$@"
	before=("${USAGE[@]}")
	sleep "$secs"
	usage_usec "$@"
	for ((i = 0; i < ${#USAGE[@]}; i++)); do
		out+=($((USAGE[i] - before[i])))
	done
	echo "${out[*]}"
}

# shares LABEL TOL "NAME=TARGET..." "USAGE..." SECS: each cgroup's share of the
# listed cgroups' total must be within TOL (relative) of TARGET. Prints one
# summary line (also to $KEEP); returns 1 when a share is out of range.
shares() {
	awk -v label="$1" -v tol="$2" -v secs="${5:-1}" -v targets="$3" -v usages="$4" 'BEGIN {
		n = split(targets, t, " "); split(usages, u, " ")
		for (i = 1; i <= n; i++) total += u[i]
		line = label ":"; ok = 1
		for (i = 1; i <= n; i++) {
			split(t[i], nt, "=")
			share = total > 0 ? 100 * u[i] / total : 0
			err = (share - nt[2]) / nt[2]
			if (err < -tol || err > tol) { ok = 0; mark = " OUT" } else mark = ""
			line = line sprintf(" %s %.1f%% (target %s%%%s)", nt[1], share, nt[2], mark)
		}
		line = line sprintf(", %.1f s of CPU in %s s", total / 1e6, secs)
		print line
		exit ok ? 0 : 1
	}' | tee -a "$KEEP"
	return "${PIPESTATUS[0]}"
}
