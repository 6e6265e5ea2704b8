# shellcheck shell=bash
# Helpers for scheduler behavioural checks: scheds/<name>/tests/vm/*.sh.
#
# `cargo xtask test` runs each executable check script with bash, as root,
# inside the VM, one after another, with:
#   SCX_SCHED    absolute path of the scheduler binary (target/release/scx_<name>)
#   SCX_NAME     the scheduler's name (directory under scheds/)
#   SCX_OPS      the name the kernel shows in /sys/kernel/sched_ext/root/ops
#   SCX_OUT      an empty artifact directory for this check (also the cwd);
#                kept under target/xtask/test/<kernel>/<name>/<check>/ on failure
#   SCX_LIB      this file
#   SCX_AGENT    the guest agent (xtask): `sched-ctl` does the waits; `observe`, `hostile-load`
#   SCX_NR_CPUS  number of online CPUs in the guest
#   SCX_KERNEL   the kernel's label (its version for pinned kernels)
#   SCX_SCHED_DIR  the scheduler's source directory (scheds/<name>)
#   SCX_SOAK_SECS  seconds the soak runs (`cargo xtask soak` only)
# A `# timeout: N` comment sets the check's time limit in seconds (default 180).
# A `# kernels: newest` comment plans it only in the newest kernel's boot of a
# run (for checks that do not depend on the kernel version). A `# opt-in: VAR`
# comment plans it only when VAR=1 in the host's environment.
# Exit 0 = pass, 77 = skip, anything else = fail; the last non-empty line of
# the script's output is the reason shown in the report.
#
# Typical use:
#   #!/bin/bash
#   # timeout: 120
#   source "$SCX_LIB"
#   require stress-ng
#   sched_start --slice-us 5000
#   ... workload and measurements ...
#   sched_stop || fail "scx_$SCX_NAME exited with status $SCHED_STATUS"

SCHED_PID=""
SCHED_STATUS=""
SCX_STATE_FILE=/sys/kernel/sched_ext/state
SCX_OPS_FILE=/sys/kernel/sched_ext/root/ops

# fail MSG: print MSG to stderr (it becomes the reported reason, even when
# stdout is redirected) and exit 1.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# skip MSG: print MSG and exit 77 (the check counts as skipped).
skip() {
	echo "SKIP: $*" >&2
	exit 77
}

# tracefs_ready: T is the tracefs directory, mounted if it was not; skip the
# check when the guest has no tracefs.
tracefs_ready() {
	T=/sys/kernel/tracing
	[ -e "$T/trace" ] || mount -t tracefs nodev "$T" 2>/dev/null
	[ -w "$T/trace" ] || skip "tracefs is not available"
}

# insert_kfunc: INSERT_FN is the dsq_insert kfunc the compat wrapper calls on
# this kernel (the newest one it has), for an fprobe; skip when there is none.
# Needs tracefs_ready first.
insert_kfunc() {
	local f
	INSERT_FN=""
	for f in scx_bpf_dsq_insert___v2 scx_bpf_dsq_insert; do
		if grep -qx "$f" "$T/available_filter_functions"; then
			INSERT_FN=$f
			return 0
		fi
	done
	skip "no scx_bpf_dsq_insert kfunc to probe"
}

# require CMD...: skip the check unless every CMD is available.
require() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || skip "$c is not installed (cargo xtask setup installs the suite's tools)"
	done
}

# scx_state: print the kernel's sched_ext state (enabled, disabled, ...).
scx_state() {
	cat "$SCX_STATE_FILE" 2>/dev/null || echo missing
}

# scx_ops: print the name of the attached scheduler (empty when none).
scx_ops() {
	cat "$SCX_OPS_FILE" 2>/dev/null
}

# wait_state STATE [SECONDS=15]: wait until the state reads STATE; 1 on timeout.
wait_state() {
	local want=$1 deadline=$((SECONDS + ${2:-15}))
	while [ "$(scx_state)" != "$want" ]; do
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.1
	done
	return 0
}

# sched_start ARGS...: start "$SCX_SCHED" ARGS in the background, stdout and
# stderr appended to $SCX_OUT/sched.out and sched.err; wait until the kernel
# reports it enabled under $SCX_OPS (the agent's driver waits, with its one
# enable timeout: `xtask sched-ctl enabled`). Sets SCHED_PID. Fails the check
# if it exits or does not come up.
sched_start() {
	[ -n "${SCX_SCHED:-}" ] || fail "SCX_SCHED is not set (run check scripts through cargo xtask test)"
	[ -n "${SCX_AGENT:-}" ] || fail "SCX_AGENT is not set (run check scripts through cargo xtask test)"
	[ -z "$SCHED_PID" ] || fail "sched_start: scx_$SCX_NAME is already running (pid $SCHED_PID)"
	local out=${SCX_OUT:-.} why rc
	"$SCX_SCHED" "$@" >>"$out/sched.out" 2>>"$out/sched.err" &
	SCHED_PID=$!
	why=$("$SCX_AGENT" sched-ctl enabled --pid "$SCHED_PID" --ops "$SCX_OPS" --stderr "$out/sched.err")
	rc=$?
	[ "$rc" = 0 ] && return 0
	if [ "$rc" = 3 ]; then
		wait "$SCHED_PID"
		rc=$?
		SCHED_PID=""
		fail "scx_$SCX_NAME $* exited with status $rc before it was enabled: $why"
	fi
	fail "scx_$SCX_NAME $* $why"
}

# sched_alive: true while the started scheduler runs and is attached. (Plain
# bash, not the agent: checks call it every second, and an exec of the agent
# costs a fifth of a second under TCG.)
sched_alive() {
	[ -n "$SCHED_PID" ] && kill -0 "$SCHED_PID" 2>/dev/null &&
		[ "$(scx_state)" = enabled ] && [[ "$(scx_ops)" == "$SCX_OPS"* ]]
}

# sched_stop [SIG]: signal the scheduler (SIGINT by default), wait for it to
# exit and for the state to read `disabled` (the agent's driver waits, with its
# timeouts: `xtask sched-ctl stop`). Prints and returns its exit status, also
# kept in SCHED_STATUS. Call it directly, not in $(...): the subshell could not
# wait.
sched_stop() {
	[ -n "$SCHED_PID" ] || fail "sched_stop without sched_start"
	local why rc
	why=$("$SCX_AGENT" sched-ctl stop --pid "$SCHED_PID" --signal "${1:-INT}")
	rc=$?
	wait "$SCHED_PID"
	SCHED_STATUS=$?
	SCHED_PID=""
	[ "$rc" = 0 ] || fail "scx_$SCX_NAME $why"
	echo "sched_stop: scx_$SCX_NAME exited with status $SCHED_STATUS"
	return "$SCHED_STATUS"
}

# cpu_ticks PID...: print utime+stime (clock ticks) of each PID from
# /proc/PID/stat, space-separated in argument order. Fails for a PID that is gone.
cpu_ticks() {
	local pid stat f out=()
	for pid in "$@"; do
		stat=$(cat "/proc/$pid/stat" 2>/dev/null) || fail "cpu_ticks: no process $pid"
		# The command name may hold spaces and parentheses; the fields after
		# its last ')' start with field 3 (state), so utime (14) and stime
		# (15) are at indexes 11 and 12.
		read -r -a f <<<"${stat##*) }"
		out+=("$((f[11] + f[12]))")
	done
	echo "${out[*]}"
}

# enable_seq: how many times the kernel has enabled a BPF scheduler since boot.
enable_seq() {
	cat /sys/kernel/sched_ext/enable_seq 2>/dev/null || echo 0
}

# kernel_log_clean [REGEX]: fail on kernel log lines the agent's one filter
# flags (`xtask sched-ctl kernel-log`: BUG, WARNING, Oops, panic, stall, error,
# minus the emulator's known noise) and that do not match the extended REGEX a
# check explains it tolerates. The harness clears the log before each check.
kernel_log_clean() {
	local bad
	bad=$("$SCX_AGENT" sched-ctl kernel-log | grep -vE "${1:-^\$}")
	[ -z "$bad" ] || fail "kernel log: $(head -n 1 <<<"$bad")"
}

# no_deprecation_notice: fail if the kernel log carries a deprecation notice
# (7.2 and later warn once when a scheduler implements a deprecated callback).
no_deprecation_notice() {
	local line
	line=$(dmesg | grep -m1 -i 'deprecat')
	[ -z "$line" ] || fail "kernel log: $line"
}

# refused LABEL STATUS ARGS...: run the scheduler with ARGS and require that it
# is refused before anything is loaded: exit status STATUS, one sentence (a
# single line, or clap's single `error:` line with its usage hints), no panic
# or backtrace, sched_ext still disabled and its enable count unchanged. The
# output is left in REFUSED_OUT for further checks.
REFUSED_OUT=""
refused() {
	local label=$1 want=$2 rc seq0
	shift 2
	seq0=$(enable_seq)
	REFUSED_OUT=$("$SCX_SCHED" "$@" 2>&1)
	rc=$?
	echo "$label: status $rc: $(head -n 1 <<<"$REFUSED_OUT")"
	[ "$rc" = "$want" ] || fail "$label: exit status $rc, want $want: $REFUSED_OUT"
	if [ "$(grep -c . <<<"$REFUSED_OUT")" != 1 ] && [ "$(grep -c '^error:' <<<"$REFUSED_OUT")" != 1 ]; then
		fail "$label: not one sentence: $REFUSED_OUT"
	fi
	grep -qiE 'panick|backtrace' <<<"$REFUSED_OUT" && fail "$label: printed a backtrace: $REFUSED_OUT"
	[ "$(enable_seq)" = "$seq0" ] || fail "$label: the kernel saw a load (enable_seq $seq0 -> $(enable_seq))"
	[ "$want" = 69 ] || [ "$(scx_state)" = disabled ] || fail "$label: sched_ext state is $(scx_state)"
	return 0
}

# fault_config: the scheduler's settings for the fault suite and the soak,
# from $SCX_SCHED_DIR/tests/faults.env (bash) over these defaults:
#   FAULT_OPTS        options the hotplug check adds (one whose effect shows)
#   FAULT_STATS_MATCH text its --stats-json lines hold while FAULT_OPTS apply
#   FAULT_HOTPLUG     `restart` (scx-core restarts it on each CPU hotplug) or
#                     `inplace` (it implements ops.cpu_online/cpu_offline)
#   FAULT_BAD_ARGS    an array of its own invalid command lines, each one
#                     string split on spaces, refused with status 2
#   FAULT_CGROUPS     1: the soak churns cgroups (cgroup-aware schedulers)
#   FAULT_WEIGHTS     1: it claims nice weights, so pinned-weights.sh holds it
#                     to them for tasks pinned to one CPU
#   FAULT_WEIGHTS_OPTS  options pinned-weights.sh starts it with
#   HOSTILE_MAX_WAIT_MS  the longest runnable wait the scheduler states as its
#                     bound under faults/hostile.sh's load (default 30000, the
#                     kernel watchdog's timeout: no bound of its own)
fault_config() {
	FAULT_OPTS=""
	FAULT_STATS_MATCH=""
	FAULT_HOTPLUG=restart
	FAULT_BAD_ARGS=()
	FAULT_CGROUPS=0
	FAULT_WEIGHTS=0
	FAULT_WEIGHTS_OPTS=""
	HOSTILE_MAX_WAIT_MS=30000
	if [ -n "${SCX_SCHED_DIR:-}" ] && [ -f "$SCX_SCHED_DIR/tests/faults.env" ]; then
		# shellcheck source=/dev/null
		source "$SCX_SCHED_DIR/tests/faults.env"
	fi
}

# run_ext CMD...: exec CMD with the SCHED_EXT policy (7), which a scheduler in
# --partial mode takes; the others stay with the default scheduler. It replaces
# the calling shell: run it as `run_ext CMD &`, and $! is CMD's pid. (perl
# starts in a fraction of python's time under TCG; 144 is x86-64's
# sched_setscheduler, the architecture the suite builds for.)
run_ext() {
	exec perl -e 'my $param = pack("i", 0);
syscall(144, 0, 7, $param) == 0 or die "sched_setscheduler(SCHED_EXT): $!\n";
exec { $ARGV[0] } @ARGV or die "exec $ARGV[0]: $!\n";' "$@"
}

# ext_enabled PID: the kernel's own view of whether PID is on sched_ext:
# 1 or 0 from /proc/PID/sched, or `?` when the kernel does not show it.
ext_enabled() {
	local v
	v=$(awk -F: '/^ext\.enabled/ { gsub(/ /, "", $2); print $2 }' "/proc/$1/sched" 2>/dev/null)
	echo "${v:-?}"
}
