#!/bin/bash
# Pairing is checked before anything is loaded: on 4 CPUs, -S 0 (self-pairing),
# -S 1 and -S 3 (CPU 1 would pair with both 0 and 2) are refused with status 2 and
# one sentence saying why, and the kernel never sees a load (enable_seq unchanged);
# -S 2 loads and prints the pairs [0,2] [1,3]; --smt loads where CPUs have SMT
# siblings and is refused with one sentence where they do not.
# (2- and 3-CPU machines: unit tests of src/pairing.rs with synthetic CPU counts.)
# timeout: 90
set -u
source "$SCX_LIB"
[ "$SCX_NR_CPUS" = 4 ] || skip "written for 4 CPUs, the VM has $SCX_NR_CPUS"

seq_file=/sys/kernel/sched_ext/enable_seq
enable_seq() { cat "$seq_file" 2>/dev/null || echo none; }

refused() { # refused LABEL WORD ARGS...: status 2, one line, contains WORD, nothing loaded
	local label=$1 word=$2 out rc before
	shift 2
	before=$(enable_seq)
	out=$("$SCX_SCHED" "$@" 2>&1)
	rc=$?
	echo "$label: status $rc: $out"
	[ "$rc" = 2 ] || fail "$label: exit status $rc, want 2: $out"
	[ "$(printf '%s\n' "$out" | grep -c .)" = 1 ] || fail "$label: expected one line, got: $out"
	printf '%s' "$out" | grep -q "$word" || fail "$label: no '$word' in: $out"
	printf '%s' "$out" | grep -qiE 'panick|backtrace' && fail "$label: printed a backtrace: $out"
	[ "$(enable_seq)" = "$before" ] || fail "$label: the kernel saw a load (enable_seq $before -> $(enable_seq))"
	[ "$(scx_state)" = disabled ] || fail "$label: state is $(scx_state)"
}

refused "-S 0" "from 1 to 1023" -S 0
refused "-S 1" "CPU 1 with both CPU 0 and CPU 2" -S 1
refused "-S 3" "with both" -S 3

sched_start -S 2
grep -q 'pairs: \[0,2\] \[1,3\]' "$SCX_OUT/sched.err" || fail "-S 2: pairs not printed as [0,2] [1,3]: $(head -3 "$SCX_OUT/sched.err")"
sched_stop || fail "-S 2: exited with status $SCHED_STATUS"

sib=$(cat /sys/devices/system/cpu/cpu0/topology/thread_siblings_list 2>/dev/null)
if [[ "$sib" == *[,-]* ]]; then
	sched_start --smt
	sched_stop || fail "--smt: exited with status $SCHED_STATUS"
	echo "--smt loaded (cpu0 siblings $sib)"
else
	refused "--smt" "no SMT" --smt
fi
echo "strides 0, 1 and 3 refused before loading; -S 2 loads; --smt handled (cpu0 siblings '$sib')"
