/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_userland: the scheduling decisions are made by an ordinary thread in
 * user space; this program only carries tasks there and back.
 *
 * Policy
 * ------
 * ops.enqueue() hands each runnable task to user space as a record {pid,
 * weight, run time so far, the vruntime user space last stored for it}.
 * The user-space thread (src/usersched.rs, policy in src/vruntime.rs)
 * charges the run time since the last charge scaled by 100/weight, raises
 * sleepers to the current minimum vruntime (vtime_now below: the vruntime
 * of the last task the CPUs started), gives the task a slice proportional
 * to its weight, and sends tasks back in vruntime order, at most --batch of
 * them not yet drained here. ops.dispatch() drains them into SHARED_DSQ,
 * ordered by the vruntime user space chose, and every CPU takes the lowest.
 *
 * Why SHARED_DSQ is ordered by vruntime rather than FIFO: tasks sent ahead
 * (a batch) would otherwise run in the order of their batches, and a task
 * that user space ordered later but with a lower vruntime (a woken sleeper,
 * a heavy task that just ran) would wait behind the whole batch. With the
 * lookahead that keeps CPUs busy, FIFO degrades to round robin. The order is
 * still user space's: the keys are its vruntimes.
 *
 * Why weighted slices (also user space's choice): when a slice ends, the
 * kernel asks ops.dispatch() for the CPU's next task *before* the task that
 * ran goes back through ops.enqueue(), let alone through user space. So a
 * task never follows itself, and with equal slices a task meant to get 70%
 * of a CPU cannot. With slices proportional to weight, each pass over the
 * queue already hands out CPU time in the ratio of the weights.
 *
 * Two kinds of task never go to user space (the "kernel path"):
 * - tasks that cannot run on every online CPU (pinned kthreads, taskset):
 *   a global vruntime order cannot place them, so they go straight to their
 *   CPU (one allowed CPU) or to KERNEL_DSQ;
 * - the other threads of the scheduler's own process: if one of them held
 *   the process's mmap lock while queued in user space, the scheduler thread
 *   could block on that lock behind a task only it can dispatch.
 *
 * Transport
 * ---------
 * Kernel -> user: a BPF ring buffer ("enqueued"). Reserving and committing
 * a record is a few stores, and user space reads it from shared memory with
 * no system call. Each record wakes the reader if it sleeps; under load it
 * is already running and orders every record that has piled up in one pass
 * instead of taking two context switches per task (the kernel's
 * scx_userland yields after every batch). When the CPUs run short,
 * ops.dispatch() or ops.update_idle() also wakes it with a KICK record. A full buffer (the reader fell behind by some 20000 tasks) is a
 * failed handoff: the task goes to KERNEL_DSQ in FIFO order and is counted
 * in nr_failed_enqueues.
 *
 * User -> kernel: a user ring buffer ("dispatched"), drained here with
 * bpf_user_ringbuf_drain(). User space writes records into shared memory,
 * again with no system call. The kernel's C scx_userland used two BPF queue
 * maps instead: a bpf() system call per task in each direction, plus one per
 * empty poll.
 *
 * Each drain that consumes records wakes epoll waiters on "dispatched"; the
 * user-space thread waits for that (edge-triggered) when its batch credit is
 * used up, so it learns that the CPUs took its tasks without polling.
 *
 * Per-task state (vruntime, charged run time, slice) lives in task-local
 * storage, written from the records user space sends: the kernel frees it
 * with the task, so user space keeps memory only for the tasks it holds,
 * independent of pid_max and of how many tasks have come and gone.
 *
 * The scheduler can never starve itself
 * -------------------------------------
 * The classic pitfall: the user-space scheduler is itself a task of this
 * scheduler, and if it waited in the same queue as the tasks only it can
 * dispatch, nothing would ever run again. So:
 * 1. The scheduler thread has a queue of its own, USERSCHED_DSQ, and every
 *    ops.dispatch() looks there first: it is served before anything that
 *    waits for it. Waking to an idle CPU, it is inserted there directly.
 * 2. When it becomes runnable, an idle CPU is kicked if there is one. If all
 *    CPUs are busy and it has a woken task to place, the CPU it was queued
 *    on is preempted: a wakeup then costs one trip through user space, not
 *    a wait for some slice to end. Otherwise (tasks whose slice ended) it
 *    waits for the next ops.dispatch(): every busy CPU calls it within one
 *    slice (20 ms), sooner when its task blocks.
 * 3. The race "a CPU going idle just as work is published" is closed with
 *    ops.update_idle() (hence SCX_OPS_KEEP_BUILTIN_IDLE, so the built-in idle
 *    tracking stays on for select_cpu and pick_idle_cpu): the kernel sets the
 *    idle bit before calling it, so either the publisher sees the idle CPU or
 *    the idle CPU sees the work and kicks itself.
 * 4. No SCX_OPS_ENQ_LAST: a task whose slice ends with nothing else to run
 *    keeps its CPU for another of its slices instead of a round trip through
 *    user space (the kernel's scx_userland sets ENQ_LAST and leaves the CPU
 *    idle meanwhile). Its run time is charged in full at its next enqueue.
 * 5. Should the user-space thread die, it calls usersched_failed() (below)
 *    and the scheduler exits at once; should it hang, the kernel's watchdog
 *    ends the scheduler and every task returns to the default scheduler.
 *
 * Starvation bound
 * ----------------
 * n tasks held by user space, C CPUs, s = max(1 ms, 20 ms * C / n) the
 * nice-0 slice user space hands out (src/vruntime.rs), L = 10 s:
 *  - User space clamps a task's vruntime at enqueue to at most L above its
 *    clock and, unless it slept (then: not below the clock), at most L
 *    below; weights up to 100 get slices of s * weight / 100 (>= 1 ms), so
 *    a full turn advances vruntime by at least s. Each task ahead of p in
 *    vruntime order runs at most about 2L + 2s of CPU time before p does:
 *    p waits at most n * (2L + 2s) / C of the CPU time SHARED_DSQ gets.
 *  - KERNEL_DSQ (restricted affinity, our own threads, failed or bypassed
 *    handoffs; FIFO, slices shrunk the same way by its length) and
 *    SHARED_DSQ take turns on every CPU, so each gets at least half of
 *    every CPU while both have work: T <= 2 * n * (2L + 2s) / C = 44 * n *
 *    s / C, i.e. 880 ms while n <= 20 C and 11 ms * n / C beyond (6.6 s for
 *    600 tasks on 4 CPUs, 22 s for 2,000: inside the 30 s watchdog). A
 *    kernel-path task waits for the FIFO ahead of it on the CPUs it may use,
 *    at half rate: a task pinned to one CPU behind k others, 2 * k * s.
 *  - Per-CPU kernel threads go to the head of their CPU's local queue and
 *    wait only for the task running there (one slice, <= 20 ms). Tasks
 *    preempted off a CPU (SCX_ENQ_PREEMPT, SCX_ENQ_REENQ) go to the head of
 *    KERNEL_DSQ; in user space they keep their vruntime, never the back.
 *  - If the scheduler thread has not run for USERSCHED_LAG_NS (100 ms)
 *    while records wait for it, new tasks bypass user space into KERNEL_DSQ
 *    until it runs again: a starved loader does not starve everything. The
 *    tasks it already holds wait for it; it is served first and preempts a
 *    CPU for wakeups, so only a higher sched class keeps it off the CPUs.
 * Weights above 100 stretch the bound by weight / 100. faults/hostile.sh
 * (HOSTILE=1) measures it with xtask observe under ~600 threads and holds it
 * to HOSTILE_MAX_WAIT_MS in tests/faults.env.
 *
 * Re-enqueue cannot loop: a per-CPU kthread is inserted into the local queue
 * of the CPU in its mask (SCX_DSQ_LOCAL_ON), never into that of the CPU it
 * was enqueued on, which an affinity change may have just taken away; every
 * other task goes to a shared queue that any allowed CPU serves.
 *
 * Trade-offs
 * ----------
 * Every scheduling decision costs a round trip through user space. There is
 * one global order, so no locality; preemption only serves the scheduler
 * thread (and through it, woken tasks). It is a demonstration and a template for
 * policies that want floating point, big data structures and a debugger,
 * not a scheduler for latency-sensitive production machines.
 */
#include <scx/common.bpf.h>
#include "intf.h"

#define PF_KTHREAD 0x00200000	/* include/linux/sched.h; not in BTF */

char _license[] SEC("license") = "GPL";

/* The slice of the scheduler thread and of kernel-path tasks; user space
 * gives each task it orders a slice of its own. */
const volatile u64 slice_ns = 20 * 1000 * 1000;	/* SCX_SLICE_DFL */

/* The scheduler thread and its process, set by register_usersched(). */
u32 usersched_pid;
u32 usersched_tgid;

/* Counters, read by user space through the skeleton's .bss: see intf.h. */
struct userland_stats stats;

/*
 * The credit protocol with user space: it has written nr_sent records into
 * "dispatched" so far, and ops.dispatch() has drained nr_drained of them.
 * User space keeps nr_sent - nr_drained <= batch.
 */
u64 nr_sent;			/* written by user space only */
u64 nr_drained;

/* The vruntime of the last task taken from SHARED_DSQ: user space's clock. */
u64 vtime_now;

/*
 * When the oldest record user space has not looked at yet was handed over
 * (0: none). Cleared each time the scheduler thread starts running.
 */
static u64 pending_since;

/* Per CPU: the last task this CPU took came from KERNEL_DSQ. */
#define MAX_CPUS	1024
static u8 took_kernel[MAX_CPUS];

/* A woken task went to user space while the scheduler thread slept. */
static u32 wakeup_pending;

/*
 * A KICK record was sent and the scheduler thread has not run since (it
 * clears this at the top of its loop): at most one kick in flight.
 */
u64 kick_pending;

/* Online CPUs, counted in ops.init(); hotplug restarts the scheduler. */
static u32 nr_cpus = 1;

/* Moved in 6.19/7.0 with the core ENQUEUE_* flags: read it from the kernel. */
#define ENQ_WAKEUP __COMPAT_ENUM_OR_ZERO(enum scx_enq_flags, SCX_ENQ_WAKEUP)

UEI_DEFINE(uei);

/* User DSQ ids: anything below 2^63 that is not a built-in queue. */
#define USERSCHED_DSQ	0	/* the scheduler thread, served first */
#define KERNEL_DSQ	1	/* kernel-path tasks that may use several CPUs */
#define SHARED_DSQ	2	/* user space's tasks, by the vruntime it gave them */

/*
 * The scheduler thread has not run for this long while records wait for it:
 * new tasks bypass user space (see the starvation bound).
 */
#define USERSCHED_LAG_NS	(100 * 1000 * 1000LLU)
#define SLICE_MIN_NS		(1000 * 1000LLU)	/* floor of a shrunk slice */

/* At most this many records are drained by one ops.dispatch(). */
#define MAX_DRAIN	64

/* Room for about 21000 records of 48 bytes (header included). */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
} enqueued SEC(".maps");

/* Room for about 1300 records of 48 bytes; user space never has more than --batch in it. */
struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 1 << 16);
} dispatched SEC(".maps");

/* What user space decided for a task at its last dispatch. */
struct task_ctx {
	u64 vruntime;
	u64 charged;
	u64 slice;
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct task_ctx);
} task_ctxs SEC(".maps");

static __always_inline void count(u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

static bool is_usersched(const struct task_struct *p)
{
	return usersched_pid && p->pid == usersched_pid;
}

/* See the header comment: restricted affinity, or our own process. */
static bool keep_in_kernel(const struct task_struct *p)
{
	const struct cpumask *online;
	bool everywhere;

	if (p->tgid == usersched_tgid || p->nr_cpus_allowed == 1 || (p->flags & PF_KTHREAD))
		return true;

	online = scx_bpf_get_online_cpumask();
	everywhere = bpf_cpumask_subset(online, p->cpus_ptr);
	scx_bpf_put_cpumask(online);
	return !everywhere;
}

/* Wakes one idle CPU in @mask, if there is one, to run ops.dispatch(). */
static void kick_idle_cpu(const struct cpumask *mask)
{
	s32 cpu = scx_bpf_pick_idle_cpu(mask, 0);

	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

static void kick_idle_cpus(u32 nr)
{
	const struct cpumask *online = scx_bpf_get_online_cpumask();
	u32 i;

	bpf_for(i, 0, nr)
		kick_idle_cpu(online);
	scx_bpf_put_cpumask(online);
}

/*
 * The scheduler thread has a woken task to place: a wakeup waits for it, so
 * it must not wait for some CPU's slice to end. Preempt @cpu; its next
 * ops.dispatch() serves the scheduler thread, and once that has placed the
 * woken task, usually runs it.
 */
static void preempt_for_usersched(s32 cpu)
{
	count(&stats.nr_usersched_preempts);
	scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
}

/*
 * Records wait in "enqueued" that the scheduler thread was not woken for,
 * and the CPUs are running short: wake it with a KICK record (at most one
 * outstanding).
 */
static void need_usersched(void)
{
	struct enqueued_task kick = { .flags = ENQUEUED_KICK };

	if (!bpf_ringbuf_query(&enqueued, BPF_RB_AVAIL_DATA))
		return;
	if (__sync_lock_test_and_set(&kick_pending, 1))
		return;
	count(&stats.nr_kicks);
	if (bpf_ringbuf_output(&enqueued, &kick, sizeof(kick), BPF_RB_FORCE_WAKEUP))
		kick_pending = 0;
}

/* See the starvation bound: user space has fallen behind. */
static bool usersched_lagging(void)
{
	u64 since = READ_ONCE(pending_since);

	return since && scx_bpf_now() - since > USERSCHED_LAG_NS;
}

/*
 * The slice of a kernel-path task: slice_ns shared by the tasks queued in
 * BPF over the CPUs, never below SLICE_MIN_NS, as user space sizes its own.
 */
static u64 kernel_slice(void)
{
	u64 n = scx_bpf_dsq_nr_queued(KERNEL_DSQ) + scx_bpf_dsq_nr_queued(SHARED_DSQ);
	u64 floor = slice_ns < SLICE_MIN_NS ? slice_ns : SLICE_MIN_NS;
	u64 slice;

	if (n <= nr_cpus)
		return slice_ns;
	slice = slice_ns * nr_cpus / n;
	return slice < floor ? floor : slice;
}

/* A per-CPU kernel thread: never behind a queue, never on a CPU it cannot use. */
static bool is_percpu_kthread(const struct task_struct *p)
{
	return (p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1;
}

/* Writes @p's record into "enqueued"; false if the ring buffer is full. */
static bool hand_to_user(struct task_struct *p, u64 enq_flags)
{
	struct enqueued_task *rec;
	struct task_ctx *tctx;

	rec = bpf_ringbuf_reserve(&enqueued, sizeof(*rec), 0);
	if (!rec)
		return false;

	rec->pid = p->pid;
	rec->flags = (enq_flags & ENQ_WAKEUP) ? ENQUEUED_WAKEUP : 0;
	rec->weight = p->scx.weight;
	rec->start_time = p->start_time;
	rec->sum_exec_runtime = p->se.sum_exec_runtime;
	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (tctx) {
		rec->vruntime = tctx->vruntime;
		rec->charged = tctx->charged;
	} else {
		/* No storage (allocation failed at init_task): charge nothing. */
		rec->vruntime = 0;
		rec->charged = rec->sum_exec_runtime;
	}
	/*
	 * Every record wakes the scheduler thread. When it is already running
	 * (the common case under load) the wakeup finds nobody waiting and costs
	 * next to nothing; it still drains every record the ring holds per pass.
	 * (Waking it only for wakeups and when SHARED_DSQ runs short would save
	 * those wakeups but can leave a CPU idle while records wait.)
	 */
	bpf_ringbuf_submit(rec, BPF_RB_FORCE_WAKEUP);
	if (!READ_ONCE(pending_since))
		__sync_val_compare_and_swap(&pending_since, 0, scx_bpf_now());

	/*
	 * Only wakeups are urgent: a task whose slice ended can wait for the
	 * next ops.dispatch(). If the thread is already queued, make room for
	 * it now; if it sleeps, the ring buffer wakes it and
	 * userland_enqueue() sees the flag.
	 */
	if (enq_flags & ENQ_WAKEUP) {
		if (scx_bpf_dsq_nr_queued(USERSCHED_DSQ) > 0)
			preempt_for_usersched(scx_bpf_task_cpu(p));
		else
			WRITE_ONCE(wakeup_pending, 1);
	}
	return true;
}

s32 BPF_STRUCT_OPS(userland_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	/*
	 * A task for user space: where it runs is decided when it comes back.
	 * Queue it on this CPU, which is busy running the waker: on its old
	 * CPU, if idle, the wakeup would only make that CPU look for work it
	 * cannot have yet.
	 */
	if (!is_usersched(p) && !keep_in_kernel(p))
		return bpf_get_smp_processor_id();

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		count(is_usersched(p) ? &stats.nr_usersched_dispatches : &stats.nr_kernel_enqueues);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(userland_enqueue, struct task_struct *p, u64 enq_flags)
{
	if (is_usersched(p)) {
		s32 cpu;

		scx_bpf_dsq_insert(p, USERSCHED_DSQ, slice_ns, enq_flags);
		cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);
		if (cpu >= 0)
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
		else if (__sync_lock_test_and_set(&wakeup_pending, 0))
			preempt_for_usersched(scx_bpf_task_cpu(p));
		return;
	}

	if (is_percpu_kthread(p)) {
		/*
		 * At the head of its only CPU's local queue, named explicitly:
		 * the CPU it was enqueued on may be one it may no longer use
		 * (an affinity change), and a task inserted there would only be
		 * re-enqueued again and again.
		 */
		count(&stats.nr_kernel_enqueues);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | bpf_cpumask_first(p->cpus_ptr),
				   slice_ns, enq_flags | SCX_ENQ_HEAD);
		return;
	}

	/*
	 * Restricted affinity, our own threads, and everything while user space
	 * lags: FIFO in KERNEL_DSQ, which ops.dispatch() serves in turn with
	 * SHARED_DSQ. A task pushed off a CPU (SCX_ENQ_PREEMPT, SCX_ENQ_REENQ)
	 * goes to its head, not behind everyone.
	 */
	if (keep_in_kernel(p) || usersched_lagging()) {
		count(&stats.nr_kernel_enqueues);
		if (enq_flags & (SCX_ENQ_PREEMPT | SCX_ENQ_REENQ))
			enq_flags |= SCX_ENQ_HEAD;
		scx_bpf_dsq_insert(p, KERNEL_DSQ, kernel_slice(), enq_flags);
		kick_idle_cpu(p->cpus_ptr);
		return;
	}

	if (hand_to_user(p, enq_flags)) {
		count(&stats.nr_user_enqueues);
		return;
	}

	/* Failed handoff: scheduled FIFO, as the kernel path would. */
	count(&stats.nr_failed_enqueues);
	scx_bpf_dsq_insert(p, KERNEL_DSQ, kernel_slice(), enq_flags);
	kick_idle_cpu(p->cpus_ptr);
}

struct drain_ctx {
	u32 nr;		/* records turned into dispatches so far */
	u32 max;
};

/* bpf_user_ringbuf_drain() callback: one record of "dispatched". */
static long dispatch_one(struct bpf_dynptr *dynptr, void *data)
{
	struct drain_ctx *ctx = data;
	struct dispatched_task rec;
	struct task_struct *p;
	struct task_ctx *tctx;
	u64 slice;

	if (bpf_dynptr_read(&rec, sizeof(rec), dynptr, 0, 0)) {
		scx_bpf_error("malformed record in the dispatched ring buffer");
		return 1;
	}

	/* The pid may have exited, or even been reused, since it was handed over. */
	p = bpf_task_from_pid(rec.pid);
	if (!p) {
		count(&stats.nr_lost);
		return 0;
	}
	if (p->start_time != rec.start_time) {
		bpf_task_release(p);
		count(&stats.nr_lost);
		return 0;
	}

	slice = rec.slice_ns && rec.slice_ns <= slice_ns ? rec.slice_ns : slice_ns;
	tctx = bpf_task_storage_get(&task_ctxs, p, 0, 0);
	if (tctx && rec.charged >= tctx->charged) {
		tctx->vruntime = rec.vruntime;
		tctx->charged = rec.charged;
		tctx->slice = slice;
	}

	/* A record that went stale (the task was dequeued meanwhile) is ignored by the kernel. */
	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, slice, rec.vruntime, 0);
	bpf_task_release(p);
	count(&stats.nr_dispatched);

	ctx->nr++;
	return ctx->nr < ctx->max ? 0 : 1;
}

/*
 * Moves everything user space has sent into SHARED_DSQ; returns how many
 * tasks. Another CPU draining at the same time makes this one get -EBUSY;
 * that CPU kicks idle ones for what it drained.
 */
static u32 drain_dispatched(void)
{
	struct drain_ctx ctx = {};
	long drained;

	ctx.max = min(scx_bpf_dispatch_nr_slots(), (u32)MAX_DRAIN);
	if (!ctx.max)
		return 0;
	drained = bpf_user_ringbuf_drain(&dispatched, dispatch_one, &ctx, 0);
	if (drained > 0)
		__sync_fetch_and_add(&nr_drained, drained);
	return ctx.nr;
}

/* The lowest vruntime of SHARED_DSQ to this CPU; advances vtime_now. */
static bool move_from_shared(void)
{
	struct task_struct *head = scx_bpf_dsq_peek(SHARED_DSQ);
	u64 vtime = head ? head->scx.dsq_vtime : 0;

	if (!scx_bpf_dsq_move_to_local(SHARED_DSQ))
		return false;
	/* Racing CPUs may briefly move it back; user space only ever moves up. */
	if (head && vtime_before(vtime_now, vtime))
		WRITE_ONCE(vtime_now, vtime);
	return true;
}

void BPF_STRUCT_OPS(userland_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_ctx *tctx;
	bool moved, kernel_turn;
	u32 nr;

	/* The scheduler thread first: everything in user space waits for it. */
	if (scx_bpf_dsq_move_to_local(USERSCHED_DSQ)) {
		count(&stats.nr_usersched_dispatches);
		return;
	}
	/*
	 * KERNEL_DSQ and SHARED_DSQ take turns on each CPU, so that neither
	 * can starve the other: see the starvation bound.
	 */
	kernel_turn = !took_kernel[cpu & (MAX_CPUS - 1)];
	if (kernel_turn && scx_bpf_dsq_move_to_local(KERNEL_DSQ)) {
		took_kernel[cpu & (MAX_CPUS - 1)] = 1;
		return;
	}
	took_kernel[cpu & (MAX_CPUS - 1)] = 0;

	/*
	 * Take the lowest vruntime, then pull in whatever user space sent since,
	 * so that the next pick chooses among all of it. If nothing was there to
	 * take, the kernel calls us again after the inserts land.
	 */
	moved = move_from_shared();
	nr = drain_dispatched();
	if (scx_bpf_dsq_nr_queued(SHARED_DSQ) < nr_cpus)
		need_usersched();
	if (nr) {
		kick_idle_cpus(moved ? nr : nr - 1);
		return;
	}
	if (moved)
		return;
	if (!kernel_turn && scx_bpf_dsq_move_to_local(KERNEL_DSQ)) {
		took_kernel[cpu & (MAX_CPUS - 1)] = 1;
		return;
	}

	/*
	 * Nothing else to run: the kernel keeps prev on this CPU. Give it its
	 * own slice again, not the kernel's default.
	 */
	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) && !is_usersched(prev)) {
		count(&stats.nr_kept);
		tctx = bpf_task_storage_get(&task_ctxs, prev, 0, 0);
		if (tctx && tctx->slice)
			scx_bpf_task_set_slice(prev, tctx->slice);
	}
}

/*
 * A CPU is about to idle: if work is waiting that this CPU could take, make
 * it look again (see "The scheduler can never starve itself", point 3).
 */
void BPF_STRUCT_OPS(userland_update_idle, s32 cpu, bool idle)
{
	u64 sent, drained;

	if (!idle)
		return;

	/* A full barrier between the idle bit the kernel set and the reads. */
	drained = __sync_fetch_and_add(&nr_drained, 0);
	sent = READ_ONCE(nr_sent);

	if (scx_bpf_dsq_nr_queued(USERSCHED_DSQ) > 0 ||
	    scx_bpf_dsq_nr_queued(SHARED_DSQ) > 0 ||
	    scx_bpf_dsq_nr_queued(KERNEL_DSQ) > 0 ||
	    sent != drained)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
	else
		need_usersched();
}

void BPF_STRUCT_OPS(userland_running, struct task_struct *p)
{
	/* The scheduler thread is looking at its records again. */
	if (is_usersched(p))
		WRITE_ONCE(pending_since, 0);
}

s32 BPF_STRUCT_OPS(userland_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	struct task_ctx *tctx;

	/*
	 * Without storage the task is still scheduled, only never charged:
	 * failing the fork over our bookkeeping would be worse.
	 */
	tctx = bpf_task_storage_get(&task_ctxs, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (tctx) {
		/* Run time from before we met the task is not ours to charge. */
		tctx->vruntime = 0;
		tctx->charged = p->se.sum_exec_runtime;
	}
	return 0;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(userland_init)
{
	const struct cpumask *online;
	s32 err;

	online = scx_bpf_get_online_cpumask();
	nr_cpus = bpf_cpumask_weight(online);
	scx_bpf_put_cpumask(online);

	err = scx_bpf_create_dsq(USERSCHED_DSQ, -1);
	if (err)
		return err;
	err = scx_bpf_create_dsq(KERNEL_DSQ, -1);
	if (err)
		return err;
	return scx_bpf_create_dsq(SHARED_DSQ, -1);
}

void BPF_STRUCT_OPS(userland_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

/*
 * Run by the scheduler thread itself (BPF_PROG_TEST_RUN) before the
 * scheduler is attached: the kernel's own view of its ids, right even when
 * the process lives in another pid namespace.
 */
SEC("syscall")
int register_usersched(void *ctx)
{
	u64 id = bpf_get_current_pid_tgid();

	usersched_tgid = id >> 32;
	usersched_pid = (u32)id;
	return 0;
}

/*
 * Run by the scheduler thread when it cannot go on: exit at once instead of
 * leaving the tasks it holds to the watchdog 30 s later.
 */
SEC("syscall")
int usersched_failed(void *ctx)
{
	scx_bpf_error("the user-space scheduler thread stopped (its error is on stderr)");
	return 0;
}

SCX_OPS_DEFINE(userland_ops,
	       .select_cpu	= (void *)userland_select_cpu,
	       .enqueue		= (void *)userland_enqueue,
	       .dispatch	= (void *)userland_dispatch,
	       .update_idle	= (void *)userland_update_idle,
	       .running		= (void *)userland_running,
	       .init_task	= (void *)userland_init_task,
	       .init		= (void *)userland_init,
	       .exit		= (void *)userland_exit,
	       .flags		= SCX_OPS_KEEP_BUILTIN_IDLE,
	       .name		= "userland");
