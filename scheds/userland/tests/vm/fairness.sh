#!/bin/bash
# Weights are honoured by the user-space scheduler, and it keeps the CPUs busy:
# N unpinned CPU-bound loops at each of nice 0, 5 and 10 on N CPUs (6 loops on a
# 2-vCPU VM, as in the issue; 12 on the harness's 4) get CPU time per nice level
# in the ratio of their weights (1024 : 335 : 110), each level within +-30% of
# its target; the CPUs are never left idle (at most 5%) and the loops get at
# least 90% of them (the rest is the user-space scheduler's own work). Unpinned on purpose:
# tasks with restricted affinity stay in the kernel path and never reach user
# space. The observer is the kernel's per-task run time in /proc/PID/schedstat.
#
# While the loops run, this script forks nothing: under TCG with every vCPU busy
# one fork+exec from the shared host filesystem takes seconds whatever the
# scheduler (measured with the kernel's own scheduler too), so the loops are
# started before they spin, and the measurements use bash builtins only.
# timeout: 200
set -u
source "$SCX_LIB"

DUR=${FAIRNESS_SECONDS:-20}
N=$SCX_NR_CPUS
NICES=(0 5 10)
WEIGHTS=(1024 335 110)

# runtime PID...: each PID's time on a CPU in ns (/proc/PID/schedstat), read
# without a fork. Not tick samples (/proc/PID/stat): when the host starves the
# emulator, the guest's ticks arrive late and per-task tick counts fall short
# of the elapsed time, while the run-time clock keeps measuring it.
runtime() {
	local pid ns _
	local out=()
	for pid in "$@"; do
		read -r ns _ <"/proc/$pid/schedstat" || fail "no process $pid"
		out+=("$ns")
	done
	echo "${out[*]}"
}

# sched_runtime: the run time in ns of every thread of the scheduler's process.
sched_runtime() {
	local t ns _ sum=0
	for t in /proc/"$SCHED_PID"/task/*/schedstat; do
		read -r ns _ <"$t" && sum=$((sum + ns))
	done
	echo "$sum"
}

# A FIFO the loops wait on until all are started, and one nobody writes, to
# sleep on with read -t.
# (tmpfs: the artifact directory may be a 9p share, which has no FIFOs.)
fifos=$(mktemp -d /dev/shm/fairness.XXXXXX) || fail "mktemp failed"
mkfifo "$fifos/gate" "$fifos/clock" || fail "mkfifo failed"
exec 7<>"$fifos/gate" 8<>"$fifos/clock"
rm -r "$fifos"

sched_start --stats-json
pids=()
for lvl in 0 1 2; do
	for ((k = 0; k < N; k++)); do
		nice -n "${NICES[$lvl]}" bash -c 'read -r _ <&7; while :; do :; done' &
		pids+=($!)
	done
done
for _ in "${pids[@]}"; do echo go >&7; done

read -r -t 3 -u 8 _ || true
t0=($(runtime "${pids[@]}"))
s0=$(sched_runtime)
read -r -a c0 </proc/stat
read -r u0 _ </proc/uptime
read -r -t "$DUR" -u 8 _ || true
t1=($(runtime "${pids[@]}"))
s1=$(sched_runtime)
read -r -a c1 </proc/stat
read -r u1 _ </proc/uptime
kill "${pids[@]}"
wait "${pids[@]}" 2>/dev/null
sched_stop || fail "scx_userland exited with status $SCHED_STATUS (the watchdog must never fire)"

# Run time per level, in level order.
lvl_ns=(0 0 0)
for i in "${!pids[@]}"; do
	lvl=$((i / N))
	lvl_ns[$lvl]=$((lvl_ns[$lvl] + t1[$i] - t0[$i]))
done
total=$((lvl_ns[0] + lvl_ns[1] + lvl_ns[2]))
[ "$total" -gt 0 ] || fail "the loops got no CPU time at all"
wsum=$((WEIGHTS[0] + WEIGHTS[1] + WEIGHTS[2]))

ok=1
line=""
for lvl in 0 1 2; do
	line+=$(awk -v o="${lvl_ns[$lvl]}" -v t="$total" -v w="${WEIGHTS[$lvl]}" -v s="$wsum" -v n="${NICES[$lvl]}" \
		'BEGIN { printf "nice%d %.3f (target %.3f, x%.2f) ", n, o / t, w / s, (o / t) / (w / s) }')
	awk -v o="${lvl_ns[$lvl]}" -v t="$total" -v w="${WEIGHTS[$lvl]}" -v s="$wsum" \
		'BEGIN { r = (o / t) / (w / s); exit !(r >= 0.7 && r <= 1.3) }' || ok=0
done
use=$(awk -v t="$total" -v a="$u0" -v b="$u1" -v n="$N" 'BEGIN { printf "%.1f", 100 * t / (1e9 * (b - a) * n) }')
# Where the rest went: the scheduler's own threads, and idle + iowait from
# /proc/stat (USER_HZ; the idle clock is exact on tickless idle CPUs).
hz=$(getconf CLK_TCK)
sched_pct=$(awk -v s="$((s1 - s0))" -v a="$u0" -v b="$u1" -v n="$N" 'BEGIN { printf "%.1f", 100 * s / (1e9 * (b - a) * n) }')
idle_pct=$(awk -v i="$((c1[4] + c1[5] - c0[4] - c0[5]))" -v hz="$hz" -v a="$u0" -v b="$u1" -v n="$N" \
	'BEGIN { printf "%.1f", 100 * i / (hz * (b - a) * n) }')
rate=$(grep -o '"decisions_per_sec":[0-9]*' "$SCX_OUT/sched.out" | cut -d: -f2 | sort -n | tail -n 1)
echo "$N CPUs, $((3 * N)) loops, ${DUR}s: $line| loops ${use}%, scheduler process ${sched_pct}%," \
	"idle ${idle_pct}% of the CPUs | peak ${rate:-?} decisions/s" | tee -a "$SCX_OUT/fairness.txt"
[ "$ok" = 1 ] || fail "CPU shares per nice level off by more than 30%: $line"
# The CPUs must never sit idle while loops wait (the C scx_userland left 17%
# idle). What the loops do not get is the user-space scheduler's own work,
# about 4% of 4 vCPUs under TCG, where each of its decisions costs some ten
# times what it costs on hardware: 95% for the loops is met on a quiet host
# (95.8% measured) but with no margin, so the loops' floor here is 90%.
awk -v i="$idle_pct" 'BEGIN { exit !(i <= 5) }' || fail "the CPUs were idle ${idle_pct}% of the time, want at most 5%"
awk -v u="$use" 'BEGIN { exit !(u >= 90) }' || fail "the loops got ${use}% of the CPUs, want at least 90%"
echo "weighted shares within 30%; loops ${use}%, scheduler ${sched_pct}%, idle ${idle_pct}% on $N CPUs"
