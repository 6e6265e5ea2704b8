#!/bin/bash
# -H gives nice -20 tasks a larger CPU share. Two CPU-bound loops per CPU, one
# at nice -20 and one at nice 0, run 5 s with the boost off and 8 s with it on;
# the nice -20 loops' share of the loops' CPU time, read from /proc/PID/stat,
# must be higher with -H. Under QEMU's TCG sixteen busy loops starve the
# kernel's watchdog work item for over qmap's 5 s, so this runs with the
# watchdog at 30 s.
# timeout: 200
set -u
source "$SCX_LIB"

DUR=${SHARE_SECONDS:-5}

# ticks PID...: utime+stime of each PID, like lib.sh's cpu_ticks but with bash
# builtins only: sixteen busy loops make every fork+exec take seconds here.
ticks() {
	local pid stat f out=()
	for pid in "$@"; do
		read -r stat <"/proc/$pid/stat" || fail "ticks: no process $pid"
		read -r -a f <<<"${stat##*) }"
		out+=("$((f[11] + f[12]))")
	done
	echo "${out[*]}"
}

# measure ARGS...: print the nice -20 loops' share of the CPU time.
measure() {
	local hp=() lo=() i t0 t1
	sched_start "$@"
	for ((i = 0; i < SCX_NR_CPUS; i++)); do
		nice -n -20 bash -c 'while :; do :; done' &
		hp+=($!)
		bash -c 'while :; do :; done' &
		lo+=($!)
	done
	sleep 1
	t0=($(ticks "${hp[@]}" "${lo[@]}"))
	sleep "$DUR"
	t1=($(ticks "${hp[@]}" "${lo[@]}"))
	kill "${hp[@]}" "${lo[@]}"
	wait "${hp[@]}" "${lo[@]}" 2>/dev/null
	local rc=0
	sched_stop >/dev/null || rc=$?
	[ "$rc" = 0 ] || fail "scx_qmap ${*:-(default options)} exited with status $rc: $(tail -n 1 "$SCX_OUT/sched.err")"
	local h=0 l=0 n=${#hp[@]}
	for ((i = 0; i < n; i++)); do
		h=$((h + t1[i] - t0[i]))
		l=$((l + t1[n + i] - t0[n + i]))
	done
	awk -v h="$h" -v l="$l" 'BEGIN { s = h + l; if (s == 0) s = 1; printf "%.3f %d %d\n", h / s, h, l }'
}

# measure runs in a subshell here: stop when it failed (its reason is on stderr).
measure --timeout-ms 30000 >"$SCX_OUT/off.txt" || exit 1
measure --timeout-ms 30000 -H >"$SCX_OUT/on.txt" || exit 1
read -r off off_h off_l <"$SCX_OUT/off.txt"
read -r on on_h on_l <"$SCX_OUT/on.txt"
echo "nice -20 share: ${off} without -H (ticks ${off_h}:${off_l}), ${on} with -H (ticks ${on_h}:${on_l})" | tee "$SCX_OUT/share.txt"
[ $((off_h + off_l)) -gt 0 ] && [ $((on_h + on_l)) -gt 0 ] || fail "the loops got no CPU time"
awk -v a="$off" -v b="$on" 'BEGIN { exit !(b > a + 0.02) }' ||
	fail "-H did not raise the nice -20 share: ${off} without, ${on} with"
echo "-H raises the nice -20 loops' CPU share from ${off} to ${on}"
