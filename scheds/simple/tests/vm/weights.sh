#!/bin/bash
# Weighted vtime is real: three CPU-bound loops at nice 0, 5 and 10 sharing one CPU
# get CPU time in the ratio of their weights (1024 : 335 : 110), each share within
# +-25% of its target; with -f (FIFO) each share is within +-25% of a third.
# The observer is the kernel's per-task CPU time in /proc/PID/stat, not the scheduler.
# timeout: 200
set -u
source "$SCX_LIB"

DUR=${WEIGHTS_SECONDS:-10}
CPU=$((SCX_NR_CPUS - 1))
NICES=(0 5 10)
WEIGHTS=(1024 335 110)

# measure MODE SCHED_ARGS...: prints "share0 share1 share2" of the loops' CPU time.
measure() {
	local pids=() t0 t1 n
	sched_start "$@"
	for n in "${NICES[@]}"; do
		taskset -c "$CPU" nice -n "$n" bash -c 'while :; do :; done' &
		pids+=($!)
	done
	sleep 1
	t0=($(cpu_ticks "${pids[@]}"))
	sleep "$DUR"
	t1=($(cpu_ticks "${pids[@]}"))
	kill "${pids[@]}"
	wait "${pids[@]}" 2>/dev/null
	local rc=0
	sched_stop >/dev/null || rc=$?
	[ "$rc" = 0 ] || fail "scheduler ${*:-(default options)} exited with status $rc"
	awk -v a="$((t1[0] - t0[0]))" -v b="$((t1[1] - t0[1]))" -v c="$((t1[2] - t0[2]))" \
		'BEGIN { s = a + b + c; if (s == 0) s = 1; printf "%.4f %.4f %.4f %d\n", a / s, b / s, c / s, s }'
}

# check LABEL "shares" "targets": each share within +-25% of its target.
check() {
	local label=$1 shares=($2) targets=($3) i ok=1 line=""
	for i in 0 1 2; do
		line+=$(awk -v o="${shares[$i]}" -v t="${targets[$i]}" -v n="${NICES[$i]}" \
			'BEGIN { printf "nice%d %.3f (target %.3f, x%.2f) ", n, o, t, o / t }')
		awk -v o="${shares[$i]}" -v t="${targets[$i]}" 'BEGIN { exit !(o >= 0.75 * t && o <= 1.25 * t) }' || ok=0
	done
	echo "$label: $line" | tee -a "$SCX_OUT/weights.txt"
	[ "$ok" = 1 ] || fail "$label: CPU shares off by more than 25%: $line"
}

sum=$(( ${WEIGHTS[0]} + ${WEIGHTS[1]} + ${WEIGHTS[2]} ))
targets=$(awk -v a="${WEIGHTS[0]}" -v b="${WEIGHTS[1]}" -v c="${WEIGHTS[2]}" -v s="$sum" \
	'BEGIN { printf "%.4f %.4f %.4f", a / s, b / s, c / s }')

measure > "$SCX_OUT/vtime.shares"
read -r s0 s1 s2 ticks < "$SCX_OUT/vtime.shares"
echo "vtime: ${ticks} ticks measured" >> "$SCX_OUT/weights.txt"
check "vtime" "$s0 $s1 $s2" "$targets"

measure -f > "$SCX_OUT/fifo.shares"
read -r s0 s1 s2 ticks < "$SCX_OUT/fifo.shares"
echo "fifo: ${ticks} ticks measured" >> "$SCX_OUT/weights.txt"
check "fifo" "$s0 $s1 $s2" "0.3333 0.3333 0.3333"

echo "weights honoured in vtime mode, equal shares in FIFO mode"
