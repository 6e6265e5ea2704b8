#!/bin/bash
# Bad starts are refused with one sentence and a distinct exit status, never a
# backtrace: a non-root user is told what privilege is needed (77), and a second
# instance names the scheduler already active (69) while the first keeps running.
# timeout: 90
set -u
source "$SCX_LIB"
require setpriv

# one_sentence LABEL OUTPUT: a single line, no panic, no backtrace.
one_sentence() {
	[ "$(printf '%s\n' "$2" | grep -c .)" = 1 ] || fail "$1: expected one line, got: $2"
	printf '%s' "$2" | grep -qiE 'panick|backtrace|RUST_BACKTRACE' && fail "$1: printed a backtrace: $2"
	return 0
}

out=$(setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all "$SCX_SCHED" 2>&1)
rc=$?
echo "non-root: status $rc: $out"
[ "$rc" = 77 ] || fail "non-root: exit status $rc, want 77: $out"
one_sentence non-root "$out"
printf '%s' "$out" | grep -q 'root' || fail "non-root: does not say root is needed: $out"

sched_start
out=$("$SCX_SCHED" 2>&1)
rc=$?
echo "second instance: status $rc: $out"
[ "$rc" = 69 ] || fail "second instance: exit status $rc, want 69: $out"
one_sentence "second instance" "$out"
printf '%s' "$out" | grep -q "\"$SCX_OPS" || fail "second instance: does not name \"$SCX_OPS\": $out"
[ "$(scx_ops)" = "$SCX_OPS" ] || fail "the first instance lost its place: ops is now '$(scx_ops)'"
sched_stop || fail "first instance exited with status $SCHED_STATUS after the refused second one"

echo "non-root and second-instance starts refused with one sentence each"
