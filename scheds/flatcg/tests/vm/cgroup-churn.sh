#!/bin/bash
# 200 cgroups are created, 10 at a time (every other one holding a nested
# child, 300 directories in all), given random weights, have running tasks
# moved into them and are removed again,
# while 4 CPU-bound loops and 2 tasks that sleep and wake 100 times a second
# keep moving through them. The scheduler must stay attached throughout,
# detach with status 0, and leave the kernel log clean.
# timeout: 240
set -u
source "$SCX_LIB"
source "$(dirname "${BASH_SOURCE[0]}")/cgroups.bash"
trap cg_exit EXIT

cg_setup
dmesg -C
sched_start --stats 2

# churn only holds cgroups (cgroup v2 allows no tasks next to them); the
# tasks start in and return to churn/home.
cg_make churn 100
echo +cpu >"$CG/churn/cgroup.subtree_control" || fail "cannot enable +cpu in churn"
cg_make churn/home 100
cg_loops churn/home 4
MOVERS=("${LOOPS[@]}")
# A pipe nobody writes to: read -t on it sleeps without forking (a timeout
# returns > 128; EOF, once the writer is gone, ends the loop).
exec 3< <(exec sleep 100000)
LOOPS+=($!)
for _ in 1 2; do
	(echo "$BASHPID" >"$CG/churn/home/cgroup.procs" && while read -r -t 0.01 -u 3 || (($? > 128)); do :; done) &
	LOOPS+=($!)
	MOVERS+=($!)
done
nr=${#MOVERS[@]}
sleep 1
kill -0 "${MOVERS[@]}" || fail "the tasks to move did not start"
stamp started

# alive: sched_alive without forks (a fork costs 0.1-0.2 s under TCG here).
alive() {
	local st=""
	kill -0 "$SCHED_PID" 2>/dev/null && read -r st <"$SCX_STATE_FILE" && [ "$st" = enabled ]
}

# Batches of 10 cgroups c1..c200 (every even one holding d): one mkdir and
# one rmdir per batch (external commands are what costs time), weights and
# task moves by builtin writes. Each task is moved through several cgroups of
# the batch; once the next batch holds all the tasks, the previous one is
# removed while the tasks keep running.
BATCH=10
created=0 removed=0 moved=0 prev=()
for ((b = 0; b < 200 / BATCH; b++)); do
	dirs=() leaves=()
	for ((i = b * BATCH + 1; i <= (b + 1) * BATCH; i++)); do
		dirs+=("$CG/churn/c$i")
		if ((i % 2)); then
			leaves+=("churn/c$i")
		else
			dirs+=("$CG/churn/c$i/d")
			leaves+=("churn/c$i/d")
		fi
	done
	mkdir "${dirs[@]}" || fail "mkdir in batch $b"
	created=$((created + ${#dirs[@]}))
	for ((i = b * BATCH + 2; i <= (b + 1) * BATCH; i += 2)); do
		echo +cpu >"$CG/churn/c$i/cgroup.subtree_control" || fail "+cpu in c$i"
	done
	for d in "${dirs[@]}"; do
		echo $((RANDOM % 10000 + 1)) >"$d/cpu.weight" || fail "cannot set the weight of $d"
	done
	# Task k visits leaves k, k + nr, ...; the last visits put every task
	# in this batch (BATCH >= nr).
	for ((k = 0; k < ${#leaves[@]}; k++)); do
		echo "${MOVERS[k % nr]}" >"$CG/${leaves[k]}/cgroup.procs" || fail "cannot move a task into ${leaves[k]}"
		moved=$((moved + 1))
	done
	# The previous batch is empty now; children come before their parents.
	if ((${#prev[@]})); then
		rmdir "${prev[@]}" || fail "rmdir in batch $((b - 1))"
		removed=$((removed + ${#prev[@]}))
	fi
	prev=()
	for ((i = ${#dirs[@]} - 1; i >= 0; i--)); do prev+=("${dirs[i]}"); done
	alive || fail "scx_flatcg went away in batch $b: $(tail -n 1 "$SCX_OUT/sched.err")"
done
stamp "200 cgroups"
for pid in "${MOVERS[@]}"; do echo "$pid" >"$CG/churn/home/cgroup.procs" || fail "cannot move $pid home"; done
stamp "tasks moved home"
rmdir "${prev[@]}" || fail "rmdir of the last batch"
removed=$((removed + ${#prev[@]}))
stamp "tasks home"
sleep 3
cg_cleanup
stamp "tasks stopped"
sched_alive || fail "scx_flatcg is no longer attached after the churn"
tail -n 3 "$SCX_OUT/sched.out" >>"$KEEP"
sched_stop >/dev/null || fail "scx_flatcg exited with status $SCHED_STATUS"
kernel_log_clean
echo "churn: $created cgroups created, $removed removed, $moved task moves, no scheduler exit" | tee -a "$KEEP"
