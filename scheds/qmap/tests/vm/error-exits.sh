#!/bin/bash
# Failure injection ends the scheduler with the right error, fast:
# -e 100 exits with status 5 (scx_bpf_error) and prints the reason, the message
# and a debug dump holding qmap's per-queue lines, which --suppress-dump leaves out;
# -t 20 ends in the watchdog's "runnable task stall" (status 6), the stalled
# task having waited at most the 5 s timeout plus a margin (10 s in all);
# -l 1000 ends in an error exit too.
# Each run has stress-ng --cpu 2 --switch 2 as load.
# timeout: 200
set -u
source "$SCX_LIB"
require stress-ng

STALL_LIMIT=${STALL_LIMIT:-10}

# run_to_exit TAG ARGS...: start the scheduler with ARGS under load and wait
# (at most 40 s) for it to exit by itself. Sets RC and ELAPSED (seconds from
# the first time the kernel reported it enabled to its exit); its output is
# kept in $SCX_OUT/TAG.out and TAG.err.
run_to_exit() {
	local tag=$1 t0 t_en="" t_end load pid
	shift
	t0=$(date +%s.%N)
	"$SCX_SCHED" "$@" >"$SCX_OUT/$tag.out" 2>"$SCX_OUT/$tag.err" &
	pid=$!
	stress-ng --cpu 2 --switch 2 -t 60s >/dev/null 2>&1 &
	load=$!
	local deadline=$((SECONDS + 40))
	while kill -0 "$pid" 2>/dev/null; do
		if [ -z "$t_en" ] && [ "$(scx_state)" = enabled ]; then
			t_en=$(date +%s.%N)
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill -KILL "$pid"
			kill "$load"
			wait "$load" 2>/dev/null
			fail "scx_qmap $* still ran 40 s after start"
		fi
		sleep 0.1
	done
	t_end=$(date +%s.%N)
	wait "$pid"
	RC=$?
	kill "$load" 2>/dev/null
	wait "$load" 2>/dev/null
	wait_state disabled 15 || fail "state reads $(scx_state) after scx_qmap $* exited"
	ELAPSED=$(awk -v a="${t_en:-$t0}" -v b="$t_end" 'BEGIN { printf "%.1f", b - a }')
	echo "scx_qmap $*: status $RC after ${ELAPSED} s: $(grep -m1 'EXIT:' "$SCX_OUT/$tag.err")"
}

run_to_exit error -e 100
err="$SCX_OUT/error.err"
[ "$RC" = 5 ] || fail "-e 100: exit status $RC, want 5 (scx_bpf_error): $(tail -n 1 "$err")"
grep -q 'EXIT: scx_bpf_error' "$err" || fail "-e 100: no 'EXIT: scx_bpf_error' line: $(tail -n 1 "$err")"
grep -q 'test triggering error' "$err" || fail "-e 100: the message 'test triggering error' is missing"
grep -q 'DEBUG DUMP' "$err" || fail "-e 100: no debug dump on stderr"
nq=$(grep -c 'QMAP FIFO\[' "$err")
[ "$nq" = 5 ] || fail "-e 100: the dump has $nq 'QMAP FIFO[' lines, want 5"
grep -q 'QMAP: dsp_idx=' "$err" || echo "note: no per-CPU QMAP line in the dump (every CPU idle?)"
grep -q 'QMAP FIFO\[' "$SCX_OUT/error.out" && fail "-e 100: the dump went to stdout"

run_to_exit error-S -e 100 --suppress-dump
err="$SCX_OUT/error-S.err"
[ "$RC" = 5 ] || fail "-e 100 --suppress-dump: exit status $RC, want 5: $(tail -n 1 "$err")"
grep -q 'DEBUG DUMP' "$err" || fail "-e 100 --suppress-dump: no debug dump on stderr"
grep -q 'QMAP' "$err" && fail "-e 100 --suppress-dump: qmap's own lines are in the dump: $(grep -m1 QMAP "$err")"

run_to_exit stall -t 20
err="$SCX_OUT/stall.err"
[ "$RC" = 6 ] || fail "-t 20: exit status $RC, want 6 (stall): $(tail -n 1 "$err")"
grep -q 'EXIT: runnable task stall' "$err" || fail "-t 20: no 'EXIT: runnable task stall' line: $(tail -n 1 "$err")"
# The kernel names the stalled task and how long it waited: the 5 s timeout
# plus up to half of it between two watchdog checks, plus a margin. The whole
# exit (dumping every task under QEMU's TCG, then reporting) takes longer.
stalled=$(grep -m1 -oE 'failed to run for [0-9.]+s' "$err" | grep -oE '[0-9.]+')
[ -n "$stalled" ] || fail "-t 20: the exit message does not say how long the task waited"
awk -v s="$stalled" -v l="$STALL_LIMIT" 'BEGIN { exit !(s <= l) }' ||
	fail "-t 20: the watchdog fired after the task waited ${stalled} s, more than ${STALL_LIMIT} s (5 s timeout plus margin)"
stall_secs="task waited ${stalled} s, process exited ${ELAPSED} s after enable"

run_to_exit loop -l 1000
err="$SCX_OUT/loop.err"
case "$RC" in
4 | 5 | 6 | 7) ;;
*) fail "-l 1000: exit status $RC, want an error exit (4 to 7): $(tail -n 1 "$err")" ;;
esac
grep -q 'EXIT: ' "$err" || fail "-l 1000: no EXIT line on stderr"
loop_line=$(grep -m1 'EXIT:' "$err")

dmesg | grep -qiE 'Oops|BUG:' && fail "kernel log: $(dmesg | grep -m1 -iE 'Oops|BUG:')"
echo "-e: status 5 with dump (5 FIFO lines, none with --suppress-dump); -t 20: stall exit after ${stall_secs} s; -l 1000: status $RC ($loop_line)"
