#!/bin/bash
# Fault suite, every scheduler: bad starts are refused before anything is
# loaded, with one sentence, no backtrace, and a status a service manager can
# act on. Not root: 77, naming the privilege needed. Another scheduler of the
# suite already active: 69, naming it, while it keeps running. Invalid option
# values (the common ones, and the scheduler's own FAULT_BAD_ARGS from its
# tests/faults.env, which need this machine to judge, such as CPU numbers):
# clap's usage status 2, the kernel's enable count unchanged. (A kernel
# without sched_ext is refused on the host: each tests/cli.rs.)
# timeout: 150
# kernels: newest
set -u
source "$SCX_LIB"
fault_config
require setpriv

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$SCX_SCHED" 2>&1)
rc=$?
echo "non-root: status $rc: $out"
[ "$rc" = 77 ] || fail "non-root: exit status $rc, want 77: $out"
[ "$(grep -c . <<<"$out")" = 1 ] || fail "non-root: not one sentence: $out"
grep -q root <<<"$out" || fail "non-root: does not say root is needed: $out"

# Another scheduler: scx_simple, or scx_flatcg when this one is scx_simple
# (flatcg, as simple, loads on every pinned kernel; four of the others refuse
# Debian's 7.1 and 7.2, where scx_bpf_kick_cpu cannot be called).
other=simple
[ "$SCX_NAME" = simple ] && other=flatcg
other_bin=$(dirname "$SCX_SCHED")/scx_$other
[ -x "$other_bin" ] || { other_bin=$SCX_SCHED; other=$SCX_OPS; }
"$other_bin" >"$SCX_OUT/other.out" 2>"$SCX_OUT/other.err" &
other_pid=$!
trap 'kill -INT "$other_pid" 2>/dev/null' EXIT
deadline=$((SECONDS + 30))
until [ "$(scx_state)" = enabled ] && [[ "$(scx_ops)" == "$other"* ]]; do
	kill -0 "$other_pid" 2>/dev/null || fail "scx_$other did not start: $(tail -n 1 "$SCX_OUT/other.err")"
	[ "$SECONDS" -lt "$deadline" ] || fail "scx_$other was not enabled within 30 s"
	sleep 0.1
done
refused "with scx_$other active" 69
grep -q "\"$other" <<<"$REFUSED_OUT" || fail "does not name the active scheduler \"$other\": $REFUSED_OUT"
[[ "$(scx_ops)" == "$other"* ]] || fail "scx_$other lost its place: ops is now '$(scx_ops)'"
kill -INT "$other_pid"
wait "$other_pid" || fail "scx_$other exited with status $? after the refused start"
trap - EXIT
wait_state disabled 15 || fail "state reads $(scx_state) after scx_$other exited"

n=0
# Out of range, wrong type, unknown, contradictory: each scheduler's tests/cli.rs
# tries its options' bad values on the host; here they meet a sched_ext kernel,
# which must see nothing.
for args in "--timeout-ms 0" "--stats 0.01" "--stats-interval x" "--no-such-option" "${FAULT_BAD_ARGS[@]}"; do
	# shellcheck disable=SC2086 # one string, several arguments
	refused "$args" 2 $args
	n=$((n + 1))
done
kernel_log_clean
echo "non-root 77, with scx_$other active 69, $n invalid command lines 2: one sentence each, nothing loaded"
