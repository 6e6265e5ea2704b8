/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_qmap: five FIFOs in BPF, a tour of the sched_ext feature set.
 *
 * This is a demonstration, not a scheduler to run a machine on. It exists so
 * that one file shows nearly every corner of sched_ext at work.
 *
 * Policy
 * ------
 * Tasks are kept in BPF, not in the kernel's dispatch queues: five FIFOs,
 * each a BPF queue map of PIDs. A task's weight (100 at nice 0) picks its
 * FIFO: <= 25 goes to queue 0, <= 50 to 1, < 200 to 2, < 400 to 3, anything
 * heavier to 4. When a CPU runs out of work, ops.dispatch() walks the FIFOs
 * in turn and takes up to 1, 2, 4, 8 and 16 tasks from queues 0 to 4 before
 * moving its cursor on, so each queue gets twice the turns of the one below.
 * The tasks taken go through one shared DSQ, SHARED_DSQ, from which the CPU
 * then fills its local DSQ; -b sets how many tasks one dispatch moves.
 *
 * Shortcuts around the FIFOs:
 * - Direct dispatch. A waking task whose previous CPU is idle, or that finds
 *   some idle CPU, is inserted straight into that CPU's local DSQ. The same
 *   is tried in ops.enqueue() for tasks that did not go through
 *   ops.select_cpu().
 * - Overflow. A FIFO holds 4096 PIDs; a task that does not fit goes to
 *   SHARED_DSQ directly.
 * - Re-enqueue. When a higher scheduling class (RT, deadline, stop) takes a
 *   CPU, the tasks already waiting in its local DSQ would wait for as long.
 *   They are handed back to ops.enqueue() with SCX_ENQ_REENQ and go to
 *   SHARED_DSQ, and an idle CPU is kicked to pick them up. Up to 7.1 the
 *   trigger is ops.cpu_release(); 7.2 deprecated that callback in favour of
 *   the sched_switch tracepoint, so there user space clears cpu_release and
 *   loads qmap_sched_switch instead (decided from the kernel's BTF).
 *
 * -H, high-priority boost. A task at nice -20 (weight 8668 or more) skips
 * the FIFOs: ops.enqueue() marks it and puts it in SHARED_DSQ. At the start
 * of every ops.dispatch(), dispatch_highpri() walks SHARED_DSQ with the DSQ
 * iterator and moves the marked tasks into HIGHPRI_DSQ (vtime ordered by
 * arrival, with a doubled slice), then hands the first one that may run here
 * to this CPU's local DSQ (or to another CPU's, with SCX_ENQ_PREEMPT). A
 * boosted task whose slice ends while no other boosted task waits keeps its
 * CPU for another doubled slice. Only after HIGHPRI_STREAK (8) boosted
 * slices in a row does a CPU give the FIFOs a turn, so with a boosted task
 * busy on every CPU the rest get 1/17 of the CPU time (one slice after
 * eight doubled ones). Leaving the boosted tasks in their FIFO would boost
 * nothing: nice -20 already lands in queue 4, which gets 16 of every 31
 * turns, and a task there waits behind the whole queue whatever happens to
 * it in SHARED_DSQ afterwards. The timer also runs dispatch_highpri() once
 * a second, to show that the move kfuncs work outside the scheduler's
 * callbacks; from there a task goes to any CPU it may use, preempting what
 * runs there.
 *
 * The rest of the tour:
 * - ops.core_sched_before() orders two tasks by how far each is from the
 *   head of its FIFO, scaled by the FIFO's share of turns. It only runs on
 *   kernels with SCHED_CORE, which Debian's lack.
 * - ops.tick() keeps a running average of the weights seen on each CPU and
 *   sets a CPU performance target of 0, 25, 50, 75 or 100% from it. The
 *   timer samples each CPU's current level; user space prints min/avg/max.
 * - ops.dump(), ops.dump_cpu() and ops.dump_task() add qmap's state to the
 *   kernel's debug dump on an error exit: the FIFO contents, each CPU's
 *   dispatch cursor and performance target, each task's flags (-S: none).
 * - ops.cpu_online() / ops.cpu_offline() only count events: having them
 *   tells the kernel that qmap copes with hotplug, so it is not restarted.
 * - Failure injection, to exercise the kernel's safety nets: -e N calls
 *   scx_bpf_error() after N enqueues, -t N / -T N drop every Nth user /
 *   kernel thread on the floor (the watchdog must catch the stall), and
 *   -l N makes ops.dispatch() insert an ineligible task forever after N
 *   dispatches. -d PID keeps a process out of sched_ext (p->scx.disallow).
 * - ops.timeout_ms is 5 s instead of the kernel's 30 s default.
 *
 * Starvation bound
 * ----------------
 * The rotation alone bounds nothing useful: queue 0 gets 1 turn in 31, so a
 * task with k others ahead of it there waits about 31 k slices / C. Four
 * mechanisms, together:
 *  - The slice shrinks as the queues grow: s = slice * C / n for n queued
 *    tasks (FIFOs, stale entries included, and SHARED_DSQ) on C CPUs, never
 *    below 1 ms (SLICE_MIN_NS), decided when the task is inserted. The tick
 *    rounds a slice up to 1 / HZ (4 ms on Debian) for a task that spins.
 *  - Overdue heads jump the rotation: when a FIFO's head has waited
 *    STARVE_NS (500 ms), the dispatch takes the oldest such head instead.
 *    SHARED_DSQ and overdue heads take turns on each CPU, so once a task is
 *    overdue at least every other dispatch serves a task queued before it.
 *  - Kernel threads skip the FIFOs: a per-CPU one goes to the head of its
 *    CPU's local DSQ (waiting at most the slice running there), any other to
 *    SHARED_DSQ. Re-enqueued tasks (SCX_ENQ_REENQ) go to SHARED_DSQ too.
 *  - Only an idle CPU gets a task inserted straight into its local DSQ,
 *    never a busy one, not even for a task pinned to it.
 * Hence a FIFO task waits at most STARVE_NS + 2 n s' / C + slice, s' the
 * slice rounded up to the tick: 0.5 s + 1.2 s + 20 ms for 600 queued tasks
 * on 4 CPUs (faults/hostile.sh), 4.5 s for 2,000, inside the 5 s watchdog;
 * a per-CPU kthread at most one slice. A task pinned to one CPU waits for
 * that CPU only, up to C times as long. -H stretches the bound by up to
 * 1 + 2 HIGHPRI_STREAK while boosted tasks keep every CPU busy. Shown by
 * faults/hostile.sh (HOSTILE=1) with xtask observe, beside EEVDF.
 *
 * Trade-offs
 * ----------
 * The queues ignore locality and the weights only pick a queue, so fairness
 * is coarse; under overload the overdue rule turns the FIFOs into one FIFO
 * by age for the tasks it serves. Tasks pinned to one CPU can sit behind
 * others in SHARED_DSQ. A
 * FIFO entry outlives a task that leaves sched_ext, which is harmless: the
 * kernel ignores inserts of tasks it no longer queues for us.
 *
 * -H is a precedence, not a weight: boosted tasks share the CPUs among
 * themselves and leave the rest one slice per HIGHPRI_STREAK of theirs. With
 * enough of them, everything else (kworkers included) waits up to about
 * 8 x 2 slices for each turn: 320 ms at the default slice, far inside the
 * 5 s watchdog, but a latency cost. A waking boosted task does not preempt
 * anyone; it waits for the next slice to end (the timer's once-a-second
 * pass aside).
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

#define ONE_SEC_IN_NS	1000000000ULL
#define SHARED_DSQ	0
#define HIGHPRI_DSQ	1
#define HIGHPRI_WEIGHT	8668		/* the weight nice -20 maps to */
#define HIGHPRI_STREAK	8		/* boosted slices before a FIFO turn */
#define NR_QUEUES	5
#define QUEUE_LEN	4096
#define PF_KTHREAD	0x00200000
#define MAX_RT_PRIO	100
#define ENOMEM		12
#define ESRCH		3
#define CLOCK_MONOTONIC	1
#define SHARED_SNAP_LEN	16
#define SLICE_MIN_NS	(1000 * 1000)	/* the floor of a shrunk slice */
#define STARVE_NS	(500 * 1000 * 1000ULL)	/* a FIFO head this old jumps the rotation */

/* Set by user space before load. */
const volatile u64 slice_ns = 20 * 1000 * 1000;	/* SCX_SLICE_DFL */
const volatile u32 stall_user_nth;
const volatile u32 stall_kernel_nth;
const volatile u32 dsp_inf_loop_after;
const volatile u32 dsp_batch;
const volatile bool highpri_boosting;
const volatile bool print_shared_dsq;
const volatile bool suppress_dump;
const volatile s32 disallow_tgid;

/* Set before load too, but counted down at run time. */
u32 test_error_cnt;

UEI_DEFINE(uei);

/* The five FIFOs, and an array of them so that an index picks one. */
struct qmap {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, QUEUE_LEN);
	__type(value, u32);
} queue0 SEC(".maps"), queue1 SEC(".maps"), queue2 SEC(".maps"),
  queue3 SEC(".maps"), queue4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, NR_QUEUES);
	__type(key, int);
	__array(values, struct qmap);
} queue_arr SEC(".maps") = {
	.values = { [0] = &queue0, [1] = &queue1, [2] = &queue2,
		    [3] = &queue3, [4] = &queue4 },
};

/*
 * Core-sched ordering: each FIFO hands out sequence numbers at its tail and
 * remembers the number of the task last taken from its head.
 */
static u64 core_sched_head_seqs[NR_QUEUES];
static u64 core_sched_tail_seqs[NR_QUEUES];

struct task_ctx {
	bool	force_local;	/* select_cpu() found an idle CPU: go local */
	bool	highpri;	/* -H: queued boosted, in SHARED_DSQ */
	u64	core_sched_seq;
	u64	enq_at;		/* when it was last pushed into a FIFO */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctx_stor SEC(".maps");

struct cpu_ctx {
	u64	dsp_idx;	/* the FIFO the dispatch cursor is on */
	u64	dsp_cnt;	/* tasks the cursor may still take from it */
	u32	avg_weight;
	u32	cpuperf_target;	/* set by tick() */
	u32	cpuperf_cur;	/* sampled by the timer */
	u32	cpuperf_cap;	/* sampled by the timer; 0 until then */
	u32	highpri_streak;	/* -H: boosted slices since the FIFOs' turn */
	bool	shared_served;	/* the last turn went to SHARED_DSQ */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct cpu_ctx);
} cpu_ctx_stor SEC(".maps");

struct monitor_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct monitor_timer);
} monitor_timer SEC(".maps");

/* -H: the arrival order of boosted tasks, their vtime in HIGHPRI_DSQ. */
static u64 highpri_seq;

/* Statistics, read by user space: the counters (see intf.h), the FIFOs' depth. */
struct qmap_stats stats;
s64 queue_depth[NR_QUEUES];

/* -P: the head of SHARED_DSQ, sampled by the timer. */
s32 shared_dsq_nr;
u32 shared_dsq_snap_len;
s32 shared_dsq_snap[SHARED_SNAP_LEN];

static const u32 qidx_to_cpuperf_target[NR_QUEUES] = {
	0,
	SCX_CPUPERF_ONE / 4,
	SCX_CPUPERF_ONE / 2,
	SCX_CPUPERF_ONE * 3 / 4,
	SCX_CPUPERF_ONE,
};

static int weight_to_idx(u32 weight)
{
	if (weight <= 25)
		return 0;
	if (weight <= 50)
		return 1;
	if (weight < 200)
		return 2;
	if (weight < 400)
		return 3;
	return 4;
}

/*
 * The slice of a task inserted now: slice_ns shared among everything queued
 * (the FIFOs, stale entries included, and SHARED_DSQ), never below
 * SLICE_MIN_NS. See the starvation bound.
 */
static u64 task_slice(void)
{
	u64 cpus = scx_bpf_nr_cpu_ids();
	u64 floor = slice_ns < SLICE_MIN_NS ? slice_ns : SLICE_MIN_NS;
	s64 nr = scx_bpf_dsq_nr_queued(SHARED_DSQ);
	u64 slice;
	int i;

	bpf_for(i, 0, NR_QUEUES)
		nr += queue_depth[i];
	if (nr <= (s64)cpus)
		return slice_ns;
	slice = slice_ns * cpus / nr;
	return slice < floor ? floor : slice;
}

static struct task_ctx *lookup_task_ctx(struct task_struct *p)
{
	struct task_ctx *tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);

	if (!tctx)
		scx_bpf_error("task_ctx lookup failed for %s[%d]", p->comm, p->pid);
	return tctx;
}

static struct cpu_ctx *this_cpu_ctx(void)
{
	u32 zero = 0;
	struct cpu_ctx *cpuc = bpf_map_lookup_elem(&cpu_ctx_stor, &zero);

	if (!cpuc)
		scx_bpf_error("cpu_ctx lookup failed");
	return cpuc;
}

/*
 * An idle CPU @p may run on, preferring @prev_cpu, or -1. Never a CPU outside
 * @p's mask: right after sched_setaffinity() @prev_cpu may be one, and a task
 * inserted there is handed back to ops.enqueue() (SCX_ENQ_REENQ) to be
 * inserted there again, until the kernel's reenqueue limit ejects us. Never a
 * busy CPU either, not even for a task pinned to it (the kernel's qmap makes
 * that exception): such tasks would pile up in its local DSQ, FIFO, ahead of
 * everything the starvation bound counts on, kernel threads included.
 */
static s32 pick_direct_dispatch_cpu(struct task_struct *p, s32 prev_cpu)
{
	if (bpf_cpumask_test_cpu(prev_cpu, p->cpus_ptr) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	return scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
}

/* Wake an idle CPU @p may run on, to take it from SHARED_DSQ. */
static void kick_idle_cpu(struct task_struct *p)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

s32 BPF_STRUCT_OPS(qmap_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct task_ctx *tctx = lookup_task_ctx(p);
	s32 cpu;

	if (!tctx)
		return -ESRCH;

	/* A per-CPU kthread goes to its local DSQ's head in ops.enqueue(). */
	if ((p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1)
		return prev_cpu;

	cpu = pick_direct_dispatch_cpu(p, prev_cpu);
	if (cpu >= 0) {
		tctx->force_local = true;
		return cpu;
	}
	return prev_cpu;
}

void BPF_STRUCT_OPS(qmap_enqueue, struct task_struct *p, u64 enq_flags)
{
	static u32 user_cnt, kernel_cnt;
	struct task_ctx *tctx;
	u32 pid = p->pid;
	int idx = weight_to_idx(p->scx.weight);
	void *fifo;
	s32 cpu;

	/* -t / -T: lose every Nth task; the watchdog has to notice. */
	if (p->flags & PF_KTHREAD) {
		if (stall_kernel_nth && !(++kernel_cnt % stall_kernel_nth))
			return;
	} else {
		if (stall_user_nth && !(++user_cnt % stall_user_nth))
			return;
	}

	/* -e: scx_bpf_error() returns, so carry on as usual afterwards. */
	if (test_error_cnt && !--test_error_cnt)
		scx_bpf_error("test triggering error");

	tctx = lookup_task_ctx(p);
	if (!tctx)
		return;

	/* -H: a nice -20 task is boosted; dispatch_highpri() looks for the mark. */
	tctx->highpri = highpri_boosting && p->scx.weight >= HIGHPRI_WEIGHT;

	/* Every enqueue takes a ticket for core-sched ordering. */
	tctx->core_sched_seq = core_sched_tail_seqs[idx]++;

	if (tctx->force_local) {
		tctx->force_local = false;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(), enq_flags);
		return;
	}

	/*
	 * Pushed off its CPU's local DSQ by a higher class: let anyone run it.
	 * Never back into a local DSQ (a task pinned to the CPU just taken
	 * would be pushed off again at the next switch there, up to the
	 * kernel's reenqueue limit); SHARED_DSQ is served before the FIFOs.
	 */
	if (enq_flags & SCX_ENQ_REENQ) {
		__sync_fetch_and_add(&stats.nr_reenqueued, 1);
		scx_bpf_dsq_insert(p, SHARED_DSQ, 0, enq_flags);
		kick_idle_cpu(p);
		return;
	}

	/* Did not come through select_cpu(): try for an idle CPU here. */
	if (!(enq_flags & SCX_ENQ_CPU_SELECTED)) {
		cpu = pick_direct_dispatch_cpu(p, scx_bpf_task_cpu(p));
		if (cpu >= 0) {
			__sync_fetch_and_add(&stats.nr_ddsp_from_enq, 1);
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, task_slice(), enq_flags);
			return;
		}
	}

	/*
	 * Kernel threads never wait behind the FIFOs: a per-CPU one goes to
	 * the head of its CPU's local DSQ (if it is on that CPU already; one
	 * being moved there goes the other way), any other to SHARED_DSQ.
	 */
	if (p->flags & PF_KTHREAD) {
		cpu = scx_bpf_task_cpu(p);
		if (p->nr_cpus_allowed == 1 && bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(), enq_flags | SCX_ENQ_HEAD);
			return;
		}
		scx_bpf_dsq_insert(p, SHARED_DSQ, task_slice(), enq_flags);
		kick_idle_cpu(p);
		return;
	}

	/* -H: boosted tasks skip the FIFOs and wait to be moved ahead. */
	if (tctx->highpri) {
		scx_bpf_dsq_insert(p, SHARED_DSQ, task_slice(), enq_flags);
		return;
	}

	tctx->enq_at = bpf_ktime_get_ns();

	fifo = bpf_map_lookup_elem(&queue_arr, &idx);
	if (!fifo) {
		scx_bpf_error("no FIFO %d", idx);
		return;
	}

	/* A full FIFO spills into SHARED_DSQ. */
	if (bpf_map_push_elem(fifo, &pid, 0)) {
		scx_bpf_dsq_insert(p, SHARED_DSQ, task_slice(), enq_flags);
		return;
	}
	/* idx was reloaded from the stack: bound it again for the verifier. */
	barrier_var(idx);
	if (idx >= 0 && idx < NR_QUEUES)
		__sync_fetch_and_add(&queue_depth[idx], 1);

	__sync_fetch_and_add(&stats.nr_enqueued, 1);
}

/*
 * The task left BPF custody (it was dispatched, slept or changed properties).
 * Its PID stays in the FIFO; dispatch skips it later.
 */
void BPF_STRUCT_OPS(qmap_dequeue, struct task_struct *p, u64 deq_flags)
{
	__sync_fetch_and_add(&stats.nr_dequeued, 1);
	if (deq_flags & SCX_DEQ_CORE_SCHED_EXEC)
		__sync_fetch_and_add(&stats.nr_core_sched_execed, 1);
}

static void update_core_sched_head_seq(struct task_struct *p)
{
	int idx = weight_to_idx(p->scx.weight);
	struct task_ctx *tctx = lookup_task_ctx(p);

	if (tctx)
		core_sched_head_seqs[idx] = tctx->core_sched_seq;
}

/*
 * -H: move the marked (boosted) tasks of SHARED_DSQ into HIGHPRI_DSQ, in the
 * order found, with a doubled slice. The move kfuncs work both in
 * ops.dispatch() and in programs that hold no rq lock, such as the timer.
 */
static void move_highpri_ahead(void)
{
	struct task_struct *p;

	bpf_for_each(scx_dsq, p, SHARED_DSQ, 0) {
		struct task_ctx *tctx = lookup_task_ctx(p);

		if (!tctx)
			return;
		if (!tctx->highpri)
			continue;
		/* Exercise the slice and vtime setters on the way. */
		scx_bpf_dsq_move_set_slice(BPF_FOR_EACH_ITER, slice_ns * 2);
		scx_bpf_dsq_move_set_vtime(BPF_FOR_EACH_ITER,
					   __sync_fetch_and_add(&highpri_seq, 1));
		scx_bpf_dsq_move_vtime(BPF_FOR_EACH_ITER, p, HIGHPRI_DSQ, 0);
	}
}

/*
 * -H: move the boosted tasks ahead, then hand the first one of HIGHPRI_DSQ
 * that can run here to this CPU; one that cannot goes to a CPU it may use,
 * preempting the task there. From the timer, "here" is the timer's CPU.
 * Returns whether this CPU got a task.
 */
static bool dispatch_highpri(bool from_timer)
{
	struct task_struct *p;
	s32 this_cpu = bpf_get_smp_processor_id();

	move_highpri_ahead();

	bpf_for_each(scx_dsq, p, HIGHPRI_DSQ, 0) {
		s32 cpu;

		if (bpf_cpumask_test_cpu(this_cpu, p->cpus_ptr))
			cpu = this_cpu;
		else
			cpu = scx_bpf_pick_any_cpu(p->cpus_ptr, 0);

		if (!scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL_ON | cpu,
				      SCX_ENQ_PREEMPT)) {
			__sync_fetch_and_add(&stats.nr_expedited_lost, 1);
			continue;
		}
		if (from_timer)
			__sync_fetch_and_add(&stats.nr_expedited_from_timer, 1);
		if (cpu == this_cpu) {
			__sync_fetch_and_add(&stats.nr_expedited_local, 1);
			return true;
		}
		__sync_fetch_and_add(&stats.nr_expedited_remote, 1);
	}
	return false;
}

/*
 * -H: a boosted @prev whose slice ran out, with no other boosted task
 * waiting, runs on for another doubled slice (dispatching nothing keeps it).
 */
static bool keep_highpri_prev(struct task_struct *prev)
{
	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED) ||
	    prev->scx.weight < HIGHPRI_WEIGHT)
		return false;
	scx_bpf_task_set_slice(prev, slice_ns * 2);
	return true;
}

/*
 * If a FIFO's head has waited STARVE_NS or more, point the dispatch cursor at
 * the FIFO with the oldest such head, for one task, and return true. A head
 * whose task is gone or stale hides its FIFO until the rotation pops it.
 */
static bool steer_to_overdue(struct cpu_ctx *cpuc)
{
	u64 oldest = bpf_ktime_get_ns() - STARVE_NS;
	s32 i, found = -1;

	bpf_for(i, 0, NR_QUEUES) {
		u32 key = i;	/* i itself stays off the stack */
		void *fifo = bpf_map_lookup_elem(&queue_arr, &key);
		struct task_struct *p;
		struct task_ctx *tctx;
		s32 pid;

		if (!fifo || bpf_map_peek_elem(fifo, &pid))
			continue;
		p = bpf_task_from_pid(pid);
		if (!p)
			continue;
		tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
		if (tctx && time_before(tctx->enq_at, oldest)) {
			oldest = tctx->enq_at;
			found = i;
		}
		bpf_task_release(p);
	}
	if (found < 0)
		return false;
	cpuc->dsp_idx = found;
	cpuc->dsp_cnt = 1;
	return true;
}

/*
 * The FIFOs' turn: take tasks from them in the weighted rotation into
 * SHARED_DSQ, then move one to this CPU. Returns whether it found work.
 */
static bool dispatch_fifos(struct cpu_ctx *cpuc)
{
	struct task_struct *p;
	struct task_ctx *tctx;
	u32 batch = dsp_batch ?: 1;
	void *fifo;
	s32 i, pid;

	/*
	 * SHARED_DSQ (kernel threads, re-enqueued and spilt tasks) goes first,
	 * except that it and an overdue FIFO head take turns: neither can
	 * starve the other.
	 */
	if (!cpuc->shared_served || !steer_to_overdue(cpuc)) {
		if (scx_bpf_dsq_move_to_local(SHARED_DSQ)) {
			cpuc->shared_served = true;
			return true;
		}
		steer_to_overdue(cpuc);
	}
	cpuc->shared_served = false;

	/*
	 * -l: keep inserting PID 2 (kthreadd, almost always asleep). The
	 * kernel ignores the insert and calls us again and again, and the
	 * tasks in the FIFOs never run: the watchdog has to end this.
	 */
	if (dsp_inf_loop_after && stats.nr_dispatched > dsp_inf_loop_after) {
		p = bpf_task_from_pid(2);
		if (p) {
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
			bpf_task_release(p);
			return true;
		}
	}

	for (i = 0; i < NR_QUEUES; i++) {
		u64 dsp_idx;

		/* Out of turns on this FIFO: move the cursor on. */
		if (!cpuc->dsp_cnt) {
			cpuc->dsp_idx = (cpuc->dsp_idx + 1) % NR_QUEUES;
			cpuc->dsp_cnt = 1 << cpuc->dsp_idx;
		}

		dsp_idx = cpuc->dsp_idx;
		fifo = bpf_map_lookup_elem(&queue_arr, &dsp_idx);
		if (!fifo) {
			scx_bpf_error("no FIFO %llu", dsp_idx);
			return true;
		}

		bpf_repeat(QUEUE_LEN) {
			if (bpf_map_pop_elem(fifo, &pid))
				break;
			if (dsp_idx < NR_QUEUES)
				__sync_fetch_and_sub(&queue_depth[dsp_idx], 1);

			p = bpf_task_from_pid(pid);
			if (!p)
				continue;

			tctx = lookup_task_ctx(p);
			if (!tctx) {
				bpf_task_release(p);
				return true;
			}

			update_core_sched_head_seq(p);
			__sync_fetch_and_add(&stats.nr_dispatched, 1);
			scx_bpf_dsq_insert(p, SHARED_DSQ, task_slice(), 0);
			bpf_task_release(p);

			batch--;
			cpuc->dsp_cnt--;
			if (!batch || !scx_bpf_dispatch_nr_slots()) {
				scx_bpf_dsq_move_to_local(SHARED_DSQ);
				return true;
			}
			if (!cpuc->dsp_cnt)
				break;
		}

		cpuc->dsp_cnt = 0;
	}
	return false;
}

void BPF_STRUCT_OPS(qmap_dispatch, s32 cpu, struct task_struct *prev)
{
	struct cpu_ctx *cpuc = this_cpu_ctx();
	struct task_ctx *tctx;

	if (!cpuc)
		return;

	/*
	 * -H: boosted tasks come first, for HIGHPRI_STREAK slices in a row
	 * on this CPU. Then the FIFOs get a turn; the boosted tasks of
	 * SHARED_DSQ are moved out of its way first.
	 */
	if (highpri_boosting) {
		if (cpuc->highpri_streak < HIGHPRI_STREAK) {
			if (dispatch_highpri(false) || keep_highpri_prev(prev)) {
				cpuc->highpri_streak++;
				return;
			}
		} else {
			move_highpri_ahead();
		}
	}

	if (dispatch_fifos(cpuc)) {
		cpuc->highpri_streak = 0;
		return;
	}

	/* The FIFOs had nothing: the boosted tasks need not wait. */
	if (highpri_boosting && (dispatch_highpri(false) || keep_highpri_prev(prev)))
		return;

	/*
	 * Nothing queued anywhere, so @prev keeps running. Give it a new
	 * ticket as if it had been queued and picked right away.
	 */
	if (prev) {
		tctx = lookup_task_ctx(prev);
		if (tctx)
			tctx->core_sched_seq =
				core_sched_tail_seqs[weight_to_idx(prev->scx.weight)]++;
	}
}

/*
 * A CPU performance target from the running average of the weights it runs:
 * a demonstration of the cpuperf interface, not a frequency policy.
 */
void BPF_STRUCT_OPS(qmap_tick, struct task_struct *p)
{
	struct cpu_ctx *cpuc = this_cpu_ctx();
	int idx;

	if (!cpuc)
		return;

	cpuc->avg_weight = cpuc->avg_weight * 3 / 4 + p->scx.weight / 4;
	idx = weight_to_idx(cpuc->avg_weight);
	cpuc->cpuperf_target = qidx_to_cpuperf_target[idx];
	scx_bpf_cpuperf_set(scx_bpf_task_cpu(p), cpuc->cpuperf_target);
}

/*
 * How far @p is from the head of its FIFO, weighed by the FIFO's share of
 * turns: queue 4 gets twice the turns of queue 3, so a distance there counts
 * half as much. The shift flips with the sign to keep the order.
 */
static s64 task_qdist(struct task_struct *p)
{
	int idx = weight_to_idx(p->scx.weight);
	struct task_ctx *tctx = lookup_task_ctx(p);
	s64 qdist;

	if (!tctx)
		return 0;

	qdist = tctx->core_sched_seq - core_sched_head_seqs[idx];
	if (qdist >= 0)
		return qdist << (4 - idx);
	return qdist << idx;
}

/* Whether @a should run before @b on a core (SCHED_CORE kernels only). */
bool BPF_STRUCT_OPS(qmap_core_sched_before, struct task_struct *a, struct task_struct *b)
{
	return task_qdist(a) > task_qdist(b);
}

/*
 * Up to 7.1: a higher class took @cpu, so hand the tasks waiting in its
 * local DSQ back to qmap_enqueue() (SCX_ENQ_REENQ). Cleared before load on
 * 7.2+, where qmap_sched_switch does this job.
 */
void BPF_STRUCT_OPS(qmap_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	scx_bpf_reenqueue_local();
}

/*
 * 7.2+: the same from the sched_switch tracepoint, which the kernel names as
 * cpu_release's replacement. Loaded only there (hence "?"), where
 * scx_bpf_dsq_reenq() exists and may be called from tracing programs.
 */
SEC("?tp_btf/sched_switch")
int BPF_PROG(qmap_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	/* Only when an RT, deadline or stop task takes the CPU. */
	if (next->prio >= MAX_RT_PRIO)
		return 0;
	if (scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL) <= 0)
		return 0;
	if (bpf_ksym_exists(scx_bpf_dsq_reenq))
		scx_bpf_dsq_reenq(SCX_DSQ_LOCAL, 0);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(qmap_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	/*
	 * -d: keep this process out. The kernel accepts the flag only while
	 * the scheduler loads, not for a task being forked.
	 */
	if (disallow_tgid && p->tgid == disallow_tgid && !args->fork)
		p->scx.disallow = true;

	/* Sleepable here, so the storage is allocated with GFP_KERNEL. */
	if (bpf_task_storage_get(&task_ctx_stor, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return 0;
	return -ENOMEM;
}

/*
 * Print every PID of every FIFO. Each PID popped is pushed back at the tail,
 * so after a full turn the FIFO is as it was: the kernel may also ask for a
 * dump while qmap keeps running (SysRq-D).
 */
void BPF_STRUCT_OPS(qmap_dump, struct scx_dump_ctx *dctx)
{
	s32 i, pid;

	if (suppress_dump)
		return;

	bpf_for(i, 0, NR_QUEUES) {
		void *fifo = bpf_map_lookup_elem(&queue_arr, &i);
		s64 depth;
		int j;

		if (!fifo)
			break;
		/*
		 * i came back from the stack after the lookup, without the
		 * bounds the verifier knew: check it again, and stop clang from
		 * dropping the check as redundant.
		 */
		barrier_var(i);
		if (i < 0 || i >= NR_QUEUES)
			break;
		depth = queue_depth[i];

		scx_bpf_dump("QMAP FIFO[%d] depth=%lld:", i, depth);
		bpf_for(j, 0, QUEUE_LEN) {
			if (j >= depth || bpf_map_pop_elem(fifo, &pid))
				break;
			scx_bpf_dump(" %d", pid);
			bpf_map_push_elem(fifo, &pid, 0);
		}
		scx_bpf_dump("\n");
	}
}

void BPF_STRUCT_OPS(qmap_dump_cpu, struct scx_dump_ctx *dctx, s32 cpu, bool idle)
{
	u32 zero = 0;
	struct cpu_ctx *cpuc;

	if (suppress_dump || idle)
		return;

	cpuc = bpf_map_lookup_percpu_elem(&cpu_ctx_stor, &zero, cpu);
	if (!cpuc)
		return;

	scx_bpf_dump("QMAP: dsp_idx=%llu dsp_cnt=%llu avg_weight=%u cpuperf_target=%u highpri_streak=%u",
		     cpuc->dsp_idx, cpuc->dsp_cnt, cpuc->avg_weight, cpuc->cpuperf_target,
		     cpuc->highpri_streak);
}

void BPF_STRUCT_OPS(qmap_dump_task, struct scx_dump_ctx *dctx, struct task_struct *p)
{
	struct task_ctx *tctx;

	if (suppress_dump)
		return;

	tctx = bpf_task_storage_get(&task_ctx_stor, p, 0, 0);
	if (!tctx)
		return;

	scx_bpf_dump("QMAP: force_local=%d highpri=%d core_sched_seq=%llu",
		     tctx->force_local, tctx->highpri, tctx->core_sched_seq);
}

/*
 * Having these two tells the kernel that qmap copes with CPUs coming and
 * going, so it does not exit with a restart request on hotplug.
 */
void BPF_STRUCT_OPS(qmap_cpu_online, s32 cpu)
{
	__sync_fetch_and_add(&stats.nr_cpu_online, 1);
}

void BPF_STRUCT_OPS(qmap_cpu_offline, s32 cpu)
{
	__sync_fetch_and_add(&stats.nr_cpu_offline, 1);
}

/*
 * Sample each online CPU's current performance level and capacity into its
 * cpu_ctx; user space reads them with the targets and prints min/avg/max.
 * The loop keeps no running minimum or maximum on purpose: comparisons
 * across an unknown number of CPUs make the 6.16 verifier give up.
 */
static void monitor_cpuperf(void)
{
	const struct cpumask *online;
	u32 zero = 0;
	s32 i, nr_cpu_ids = scx_bpf_nr_cpu_ids();

	online = scx_bpf_get_online_cpumask();
	bpf_for(i, 0, nr_cpu_ids) {
		struct cpu_ctx *cpuc;

		if (!bpf_cpumask_test_cpu(i, online))
			continue;
		cpuc = bpf_map_lookup_percpu_elem(&cpu_ctx_stor, &zero, i);
		if (!cpuc)
			continue;
		cpuc->cpuperf_cap = scx_bpf_cpuperf_cap(i);
		cpuc->cpuperf_cur = scx_bpf_cpuperf_cur(i);
	}
	scx_bpf_put_cpumask(online);
}

/* -P: how many tasks SHARED_DSQ holds, and the PIDs at its head. */
static void sample_shared_dsq(void)
{
	struct task_struct *p;
	u32 n = 0;

	shared_dsq_nr = scx_bpf_dsq_nr_queued(SHARED_DSQ);
	bpf_for_each(scx_dsq, p, SHARED_DSQ, 0) {
		/* Bounds-checked on the register that forms the address. */
		s32 *slot = ARRAY_ELEM_PTR(shared_dsq_snap, n, SHARED_SNAP_LEN);

		if (!slot)
			break;
		*slot = p->pid;
		n++;
	}
	shared_dsq_snap_len = n;
}

static int monitor_timerfn(void *map, int *key, struct bpf_timer *timer)
{
	if (highpri_boosting) {
		bpf_rcu_read_lock();
		dispatch_highpri(true);
		bpf_rcu_read_unlock();
	}

	monitor_cpuperf();

	/* 6.16 wants the DSQ iterator inside an RCU section in a timer callback. */
	if (print_shared_dsq) {
		bpf_rcu_read_lock();
		sample_shared_dsq();
		bpf_rcu_read_unlock();
	}

	bpf_timer_start(timer, ONE_SEC_IN_NS, 0);
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(qmap_init)
{
	u32 key = 0;
	struct bpf_timer *timer;
	s32 ret;

	ret = scx_bpf_create_dsq(SHARED_DSQ, -1);
	if (ret)
		return ret;
	ret = scx_bpf_create_dsq(HIGHPRI_DSQ, -1);
	if (ret)
		return ret;

	timer = bpf_map_lookup_elem(&monitor_timer, &key);
	if (!timer)
		return -ESRCH;
	bpf_timer_init(timer, &monitor_timer, CLOCK_MONOTONIC);
	bpf_timer_set_callback(timer, monitor_timerfn);
	return bpf_timer_start(timer, ONE_SEC_IN_NS, 0);
}

void BPF_STRUCT_OPS(qmap_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(qmap_ops,
	       .select_cpu		= (void *)qmap_select_cpu,
	       .enqueue			= (void *)qmap_enqueue,
	       .dequeue			= (void *)qmap_dequeue,
	       .dispatch		= (void *)qmap_dispatch,
	       .tick			= (void *)qmap_tick,
	       .core_sched_before	= (void *)qmap_core_sched_before,
	       .cpu_release		= (void *)qmap_cpu_release,
	       .init_task		= (void *)qmap_init_task,
	       .dump			= (void *)qmap_dump,
	       .dump_cpu		= (void *)qmap_dump_cpu,
	       .dump_task		= (void *)qmap_dump_task,
	       .cpu_online		= (void *)qmap_cpu_online,
	       .cpu_offline		= (void *)qmap_cpu_offline,
	       .init			= (void *)qmap_init,
	       .exit			= (void *)qmap_exit,
	       .timeout_ms		= 5000U,
	       .name			= "qmap");
