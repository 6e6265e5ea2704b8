/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_central: one CPU makes every scheduling decision.
 *
 * Policy
 * ------
 * One CPU, the central CPU (-c, default 0), decides what every CPU runs.
 *
 * - Every runnable task goes into central_q, one BPF queue map of pids
 *   (MAX_QUEUED entries). A task that does not fit goes to FALLBACK_DSQ,
 *   which any CPU may take from.
 * - A CPU other than the central one that runs out of work raises its flag
 *   in cpu_gimme_task[] and kicks the central CPU when work is queued.
 * - The central CPU's ops.dispatch() pops pids and places one task into the
 *   local DSQ of each flagged CPU (SCX_DSQ_LOCAL_ON | cpu), kicks that CPU
 *   awake, and finally picks a task for itself.
 * - Every task runs with an infinite slice (SCX_SLICE_INF), so a CPU that
 *   runs one task has no reason to take the scheduler tick: with nohz_full,
 *   such CPUs can go tickless.
 * - Preemption comes from a 1 ms BPF timer pinned to the central CPU
 *   (BPF_F_TIMER_CPU_PIN). It kicks, with SCX_KICK_PREEMPT, every CPU whose
 *   task has run longer than slice_ns while other tasks wait.
 * - Per-CPU kthreads skip the queue: they go to the head of their own CPU's
 *   local DSQ and preempt what runs there. ksoftirqd must always make
 *   progress, not least because the timer callback may run from it. Other
 *   kthreads (rcu_preempt, unbound kworkers) go to central_kq, a queue the
 *   central CPU pops before central_q.
 * - SCX_OPS_ENQ_LAST: a task that is the last one on its CPU still goes
 *   through ops.enqueue(), so the central CPU decides where it runs next.
 * - Every enqueue kicks the central CPU with SCX_KICK_PREEMPT so that its
 *   ops.dispatch() runs, except for the central CPU's own task switched out
 *   still runnable: that CPU has just run its round, and a preempting kick
 *   would only preempt the task the round picked, sending it back here to
 *   kick again (a loop that cost ~7x the enqueues and ~4x the dispatches).
 * - A kick preempts the central CPU's task only to get a dispatch round run:
 *   unless it has run for a slice, ops.dispatch() lets it run on (a fresh
 *   SCX_SLICE_INF) instead of sending it through central_q. Any CPU whose
 *   task is switched out still runnable keeps it when nothing waits.
 *
 * Starvation bound
 * ----------------
 * The slice s shrinks as the queue grows: s = slice_ns * C / n for n queued
 * tasks (queue_depth), never below 1 ms (SLICE_MIN_NS, the timer period),
 * so that W * s / C stays about slice_ns and the bound below does not grow
 * with W * slice_ns. With C CPUs, W runnable tasks (W <= MAX_QUEUED), slice s
 * and timer period T (TIMER_INTERVAL_NS), a runnable task that may run on
 * every CPU runs within ceil((W - C) / C) * (s + T) plus one dispatch round
 * trip (600 tasks on 4 CPUs: 149 * 2 ms = 0.3 s with a punctual timer):
 * central_q is FIFO and a woken or preempted task joins its tail, so at most
 * W - C - 1 tasks are ahead of it; while anything waits, the timer preempts
 * every CPU (the central one too) whose task has run for s, so each CPU ends
 * a task at least once per s + T; and a CPU whose task ends takes the head
 * of central_q in the central CPU's next round (a kick that only gets that
 * round run lets the central CPU's task go on; the timer's, after s, does
 * not). Any other kthread waits only for the kthreads ahead of it in
 * central_kq and one CPU's task to end: at most s + T. A woken per-CPU
 * kthread runs at once; one switched out still
 * runnable goes back to the head of its local DSQ, behind at most the task
 * its CPU just picked, so it waits at most s + T (and one that never sleeps
 * keeps its CPU, which the bound then counts out of C). A task pinned
 * to one CPU waits its turn in central_q, then at most s + T for each task
 * ahead of it in that CPU's local DSQ (the timer preempts a CPU whose local
 * DSQ holds a task). Shown by tests/vm/70-starvation-bound.sh; derivation in
 * README.md, "Starvation bound".
 *
 * Starting the timer
 * ------------------
 * A pinned BPF timer fires on the CPU that started it. The kernel's own
 * scx_central starts it from ops.init(), which newer kernels run on a helper
 * kthread rather than on the loader's CPU, so its timer ends up on the wrong
 * CPU (or ops.init() refuses to run). Here user space attaches the
 * scheduler, pins its own thread to the central CPU and runs the
 * SEC("syscall") program start_timer with BPF_PROG_TEST_RUN; the program
 * checks which CPU it runs on, and starts the timer unpinned (and says so
 * through its return value) when that is not the central CPU or the kernel
 * refuses BPF_F_TIMER_CPU_PIN.
 *
 * Migration-disabled tasks
 * ------------------------
 * Inserting a task whose migration is disabled into another CPU's local DSQ
 * is a fatal error (scx#2825), and p->cpus_ptr does not say so until the
 * task is switched out. The kernel keeps tasks that are migration-disabled
 * when they are enqueued on their own CPU (we do not set
 * SCX_OPS_ENQ_MIGRATION_DISABLED), but the count of a task popped later can
 * still be non-zero: on 7.3.4 under load, a few times in 30 s (most likely a
 * task that another CPU is still enqueueing, whose BPF program prologue adds
 * to the count; a build without this check survived those runs, which
 * guarantees nothing elsewhere). Before handing a popped task to a CPU, the
 * central CPU therefore reads p->migration_disabled (CO-RE) and sends such a
 * task to the local DSQ of the CPU it is on (scx_bpf_task_cpu()), which
 * moves nothing. Tasks pinned to one CPU (nr_cpus_allowed == 1) go the same
 * way, which spares them a trip through FALLBACK_DSQ. A task that cannot run
 * on the CPU being filled for any other reason goes to FALLBACK_DSQ; a CPU
 * only takes from there the tasks it may run.
 *
 * Trade-offs
 * ----------
 * + The non-central CPUs run their tasks undisturbed: no tick, no scheduling
 *   work, only the kicks the central CPU sends. Good for VM hosts and
 *   latency-sensitive work that wants few interrupts.
 * - Every decision waits for the central CPU: each wakeup or idle CPU costs
 *   a kick to it and back, and the central CPU's own task is interrupted by
 *   every enqueue. It does not scale to many CPUs or high wakeup rates.
 * - Plain FIFO: no weights, no locality, no cache affinity.
 * - The central CPU's runqueue lock is taken by every wakeup (select_cpu
 *   routes wakeups there), which is the main point of contention.
 *
 * Where this differs from the kernel's tools/sched_ext/scx_central
 * ------------------------------------------------------------------
 * The timer is started after attach from a SEC("syscall") program (above).
 * Migration-disabled and single-CPU tasks are sent to their own CPU. A
 * non-central CPU only kicks the central CPU when work is queued; every
 * enqueue kicks it (the kernel's copy skips every task switched out still
 * runnable, which can leave one queued while the CPUs idle), except the
 * central CPU's own task switched out, which waits for the next round or, if
 * the central CPU goes idle, kicks it awake. The timer also preempts the
 * central CPU's own task, and it preempts a CPU whose local DSQ holds a task
 * waiting for it, not only when central_q is busy.
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Constants from uapi and kernel headers that vmlinux.h does not carry. */
#define CLOCK_MONOTONIC	1
#define PF_KTHREAD	0x00200000
#define EINVAL		22
#define ENOENT		2

enum {
	FALLBACK_DSQ_ID		= 0,
	MAX_QUEUED		= 4096,
	MAX_KTHREADS_QUEUED	= 1024,
	TIMER_INTERVAL_NS	= 1000 * 1000,	/* 1 ms */
	SLICE_MIN_NS		= 1000 * 1000,	/* the floor of a shrunk slice */
};

/* What start_timer returns (negative: an errno). Mirrored in main.rs. */
enum timer_start_status {
	TIMER_PINNED		= 0,	/* pinned to the central CPU */
	TIMER_NOT_ON_CENTRAL	= 1,	/* ran elsewhere: started unpinned */
	TIMER_PIN_UNSUPPORTED	= 2,	/* BPF_F_TIMER_CPU_PIN refused: unpinned */
};

/* Set by user space before load. */
const volatile s32 central_cpu;
const volatile u32 nr_cpu_ids = 1;
const volatile u64 slice_ns = 20 * 1000 * 1000;	/* SCX_SLICE_DFL */

/* Counters, read by user space through the skeleton's .bss: see intf.h. */
struct central_stats stats;

/* Entries in central_q and central_kq, stale ones included. */
u64 queue_depth;

/* BPF_F_TIMER_CPU_PIN or 0: how the timer callback re-arms itself. */
u64 timer_flags;

UEI_DEFINE(uei);

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MAX_QUEUED);
	__type(value, s32);
} central_q SEC(".maps");

/* Kernel threads that may run on more than one CPU: popped before central_q. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MAX_KTHREADS_QUEUED);
	__type(value, s32);
} central_kq SEC(".maps");

/*
 * Per-CPU state, nr_cpu_ids entries each (user space sizes them before load).
 * cpu_gimme_task[cpu]: the CPU ran out of work and waits for the central CPU.
 * cpu_started_at[cpu]: when its current task started running, 0 when idle.
 */
u32 RESIZABLE_ARRAY(data, cpu_gimme_task);
u64 RESIZABLE_ARRAY(data, cpu_started_at);

struct central_timer {
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, u32);
	__type(value, struct central_timer);
} central_timer SEC(".maps");

static __always_inline void stat_inc(u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

/*
 * How long a task may keep its CPU while others wait: slice_ns shared among
 * the queued tasks, never below SLICE_MIN_NS (the timer's period).
 */
static u64 cur_slice(void)
{
	u64 nr = READ_ONCE(queue_depth);
	u64 floor = slice_ns < SLICE_MIN_NS ? slice_ns : SLICE_MIN_NS;
	u64 slice;

	if (nr <= nr_cpu_ids)
		return slice_ns;
	slice = slice_ns * nr_cpu_ids / nr;
	return slice < floor ? floor : slice;
}

/* Whether @p may run on the CPU it is on (not so while its mask changes). */
static bool on_allowed_cpu(const struct task_struct *p)
{
	return bpf_cpumask_test_cpu(scx_bpf_task_cpu(p), p->cpus_ptr);
}

/*
 * Whether @p is inside a migrate_disable() section. The BPF program prologue
 * itself disables migration of the current task on our kernels (always
 * before 6.18, with PREEMPT_RCU after), so a count of one on the current
 * task is ambiguous and is read as "not disabled". Only ops.enqueue() can
 * meet that case, and the kernel already keeps migration-disabled tasks away
 * from it (we do not set SCX_OPS_ENQ_MIGRATION_DISABLED).
 */
static bool migration_disabled(const struct task_struct *p)
{
	u16 cnt;

	if (!bpf_core_field_exists(p->migration_disabled))
		return false;
	cnt = BPF_CORE_READ(p, migration_disabled);
	if (cnt == 1 && p == bpf_get_current_task_btf())
		return false;
	return cnt;
}

/*
 * Whether @p must run on the CPU it is queued on. Any non-zero count means
 * "do not move it", whoever's prologue may be in it: a wrong "yes" only keeps
 * a task on its own CPU, a wrong "no" ends the scheduler. If @p is the
 * central CPU's own current task, the entry is stale (a queued task does not
 * run), the kernel drops the insert, and the count is our own prologue's:
 * nr_mig_disabled leaves that case out.
 */
static bool stays_home(const struct task_struct *p)
{
	if (bpf_core_field_exists(p->migration_disabled) &&
	    BPF_CORE_READ(p, migration_disabled)) {
		if (p != bpf_get_current_task_btf())
			stat_inc(&stats.nr_mig_disabled);
		return true;
	}
	return p->nr_cpus_allowed == 1;
}

s32 BPF_STRUCT_OPS(central_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	/*
	 * Wake tasks up on the central CPU's runqueue: an idle central CPU is
	 * then woken by the kernel itself and runs its dispatch round. A task
	 * that may not run there stays where it was.
	 */
	if (bpf_cpumask_test_cpu(central_cpu, p->cpus_ptr))
		return central_cpu;
	return prev_cpu;
}

/*
 * With SCX_OPS_ENQ_LAST, a task that was the last one on its CPU comes here
 * from the middle of that CPU's switch, and the kernel leaves the follow-up
 * to us ("execution may stall" otherwise): if the CPU goes idle anyway, the
 * task would sit in its local DSQ until something unrelated wakes the CPU.
 * The kick is deferred until the switch is over and does nothing unless the
 * CPU is idle by then. The central queue needs no such kick: every push
 * kicks the central CPU, whose insert into a local DSQ wakes an idle CPU.
 */
static void kick_if_last(const struct task_struct *p, u64 enq_flags)
{
	if (enq_flags & SCX_ENQ_LAST)
		scx_bpf_kick_cpu(scx_bpf_task_cpu(p), SCX_KICK_IDLE);
}

void BPF_STRUCT_OPS(central_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 pid = p->pid;

	stat_inc(&stats.nr_total);

	/*
	 * Per-CPU kthreads (ksoftirqd, kworkers, ...) run first on their own
	 * CPU; the tasks they preempt keep their place. A task that cannot
	 * leave its CPU stays there too. One whose mask is being changed away
	 * from the CPU it is on goes through the queue instead: inserted here
	 * it would be re-enqueued, perhaps again and again.
	 */
	if ((p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1 && on_allowed_cpu(p)) {
		stat_inc(&stats.nr_locals);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_INF,
				   enq_flags | SCX_ENQ_HEAD | SCX_ENQ_PREEMPT);
		kick_if_last(p, enq_flags);
		return;
	}
	if (migration_disabled(p)) {
		stat_inc(&stats.nr_locals);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, SCX_SLICE_INF, enq_flags);
		kick_if_last(p, enq_flags);
		return;
	}

	/* Other kernel threads (rcu_preempt, unbound kworkers) jump the queue. */
	if (((p->flags & PF_KTHREAD) && !bpf_map_push_elem(&central_kq, &pid, 0)) ||
	    !bpf_map_push_elem(&central_q, &pid, 0)) {
		__sync_fetch_and_add(&queue_depth, 1);
		stat_inc(&stats.nr_queued);
	} else {
		stat_inc(&stats.nr_overflows);
		scx_bpf_dsq_insert(p, FALLBACK_DSQ_ID, SCX_SLICE_INF, enq_flags);
	}

	/*
	 * The central CPU decides now: preempt what it runs so that its
	 * ops.dispatch() hands @p out (an idle central CPU is simply woken).
	 *
	 * Except when @p is the central CPU's own task being switched out.
	 * Its ops.dispatch() has just run (the kernel balances before it puts
	 * the previous task back), so a preempting kick here would only
	 * preempt the task that round picked, which comes back here and kicks
	 * again: a self-preempting loop, one enqueue and one dispatch per
	 * turn for as long as central_q holds anything. @p waits in
	 * central_q instead, until the next round: the next enqueue, a request
	 * from another CPU, or the timer once the central CPU's task has had
	 * its slice. If the central CPU is about to go idle (SCX_ENQ_LAST),
	 * nothing of that may come soon, so wake it once it is idle.
	 */
	if (scx_bpf_task_running(p) && scx_bpf_task_cpu(p) == central_cpu) {
		kick_if_last(p, enq_flags);
		return;
	}
	scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
}

enum dispatch_result {
	DISPATCH_PLACED,	/* a task is on its way to the CPU */
	DISPATCH_EMPTY,		/* central_q ran dry */
	DISPATCH_NO_SLOTS,	/* the dispatch buffer is full: retry later */
};

/* Pops tasks until one is placed into @cpu's local DSQ. */
static enum dispatch_result dispatch_to_cpu(s32 cpu)
{
	bpf_repeat(MAX_QUEUED) {
		struct task_struct *p;
		s32 pid, home;

		if (!scx_bpf_dispatch_nr_slots())
			return DISPATCH_NO_SLOTS;
		if (bpf_map_pop_elem(&central_kq, &pid) &&
		    bpf_map_pop_elem(&central_q, &pid))
			return DISPATCH_EMPTY;
		__sync_fetch_and_sub(&queue_depth, 1);

		p = bpf_task_from_pid(pid);
		if (!p) {
			stat_inc(&stats.nr_lost_pids);
			continue;
		}

		home = scx_bpf_task_cpu(p);
		if (home != cpu && stays_home(p) &&
		    bpf_cpumask_test_cpu(home, p->cpus_ptr)) {
			/* Its own CPU's local DSQ: nothing moves. */
			stat_inc(&stats.nr_mismatches);
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | home, SCX_SLICE_INF, 0);
			if (home != central_cpu)
				scx_bpf_kick_cpu(home, SCX_KICK_IDLE);
			bpf_task_release(p);
			continue;
		}
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			/* The simple way out: someone allowed will take it. */
			stat_inc(&stats.nr_mismatches);
			scx_bpf_dsq_insert(p, FALLBACK_DSQ_ID, SCX_SLICE_INF, 0);
			bpf_task_release(p);
			continue;
		}

		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | cpu, SCX_SLICE_INF, 0);
		stat_inc(&stats.nr_dispatches);
		bpf_task_release(p);
		return DISPATCH_PLACED;
	}
	return DISPATCH_EMPTY;
}

/* The central CPU's round: one task for each CPU that asked. */
static bool dispatch_round(void)
{
	s32 cpu;

	bpf_for(cpu, 0, nr_cpu_ids) {
		u32 *gimme;

		if (cpu == central_cpu)
			continue;
		gimme = ARRAY_ELEM_PTR(cpu_gimme_task, cpu, nr_cpu_ids);
		if (!gimme || !READ_ONCE(*gimme))
			continue;

		switch (dispatch_to_cpu(cpu)) {
		case DISPATCH_PLACED:
			WRITE_ONCE(*gimme, 0);
			scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
			break;
		case DISPATCH_EMPTY:
			return true;
		case DISPATCH_NO_SLOTS:
			/* Come back once this batch has been flushed. */
			stat_inc(&stats.nr_retries);
			scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
			return false;
		}
	}
	return true;
}

/* Whether the task running on @cpu has run for a slice or more. */
static bool slice_used(s32 cpu)
{
	u64 *started_at = ARRAY_ELEM_PTR(cpu_started_at, cpu, nr_cpu_ids);
	u64 at;

	if (!started_at)
		return true;
	at = READ_ONCE(*started_at);
	return !at || !time_before(bpf_ktime_get_ns(), at + cur_slice());
}

/*
 * Let @prev, switched out still runnable, run on with a new infinite slice
 * (the kernel keeps a previous task that has slice left after ops.dispatch()).
 */
static bool keep_if_runnable(struct task_struct *prev)
{
	if (!prev || !(prev->scx.flags & SCX_TASK_QUEUED))
		return false;
	scx_bpf_task_set_slice(prev, SCX_SLICE_INF);
	return true;
}

void BPF_STRUCT_OPS(central_dispatch, s32 cpu, struct task_struct *prev)
{
	u32 *gimme;

	if (cpu == central_cpu) {
		if (!dispatch_round())
			return;
		/*
		 * Kicks preempt the central CPU's task only to get this round
		 * run. Unless it has had its slice (the timer's preemption), it
		 * goes on running rather than round-tripping through central_q.
		 */
		if (!slice_used(cpu) && keep_if_runnable(prev))
			return;
		/* Then itself: overflow first, it has waited longest. */
		if (scx_bpf_dsq_move_to_local(FALLBACK_DSQ_ID))
			return;
		if (dispatch_to_cpu(cpu) == DISPATCH_EMPTY)
			keep_if_runnable(prev);
		return;
	}

	if (scx_bpf_dsq_move_to_local(FALLBACK_DSQ_ID))
		return;
	/* Nothing waits (any more): go on rather than ask for it back. */
	if (!READ_ONCE(queue_depth) && keep_if_runnable(prev))
		return;

	gimme = ARRAY_ELEM_PTR(cpu_gimme_task, cpu, nr_cpu_ids);
	if (!gimme)
		return;
	/*
	 * Raise the flag with a full barrier before looking at the queue. An
	 * enqueue pushes, then counts, then kicks the central CPU: either we see
	 * its count and kick the central CPU ourselves, or its kick comes after
	 * our flag and the central CPU's round sees the flag.
	 */
	__sync_lock_test_and_set(gimme, 1);
	if (READ_ONCE(queue_depth))
		scx_bpf_kick_cpu(central_cpu, SCX_KICK_PREEMPT);
}

void BPF_STRUCT_OPS(central_running, struct task_struct *p)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u64 *started_at = ARRAY_ELEM_PTR(cpu_started_at, cpu, nr_cpu_ids);

	/* 0 means idle, so never store it. */
	if (started_at)
		WRITE_ONCE(*started_at, bpf_ktime_get_ns() ?: 1);
}

void BPF_STRUCT_OPS(central_stopping, struct task_struct *p, bool runnable)
{
	s32 cpu = scx_bpf_task_cpu(p);
	u64 *started_at = ARRAY_ELEM_PTR(cpu_started_at, cpu, nr_cpu_ids);

	if (started_at)
		WRITE_ONCE(*started_at, 0);
}

/*
 * Every TIMER_INTERVAL_NS on the central CPU: preempt each CPU whose task has
 * had its slice while tasks wait, in central_q, in FALLBACK_DSQ, or in that
 * CPU's own local DSQ (tasks sent home, kthreads do not wait: they preempt).
 */
static int central_timerfn(void *map, int *key, struct bpf_timer *timer)
{
	u64 now = bpf_ktime_get_ns(), slice = cur_slice();
	bool waiting = READ_ONCE(queue_depth) || scx_bpf_dsq_nr_queued(FALLBACK_DSQ_ID) > 0;
	s32 cpu;

	bpf_for(cpu, 0, nr_cpu_ids) {
		u64 *started_at = ARRAY_ELEM_PTR(cpu_started_at, cpu, nr_cpu_ids);
		u64 at;

		if (!started_at)
			continue;
		at = READ_ONCE(*started_at);
		if (!at || time_before(now, at + slice))
			continue;
		if (!waiting && scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu) <= 0)
			continue;
		scx_bpf_kick_cpu(cpu, SCX_KICK_PREEMPT);
		stat_inc(&stats.nr_preempts);
	}

	stat_inc(&stats.nr_timers);
	bpf_timer_start(timer, TIMER_INTERVAL_NS, READ_ONCE(timer_flags));
	return 0;
}

/*
 * Run by user space with BPF_PROG_TEST_RUN after attach, from a thread pinned
 * to the central CPU. Returns a timer_start_status, or a negative errno.
 */
SEC("syscall")
int start_timer(void *ctx)
{
	struct central_timer *ct;
	u32 key = 0;
	int status = TIMER_PINNED;
	int ret;

	ct = bpf_map_lookup_elem(&central_timer, &key);
	if (!ct)
		return -ENOENT;

	ret = bpf_timer_init(&ct->timer, &central_timer, CLOCK_MONOTONIC);
	if (ret)
		return ret;
	ret = bpf_timer_set_callback(&ct->timer, central_timerfn);
	if (ret)
		return ret;

	/* The callback re-arms with timer_flags: set them before it can run. */
	if (bpf_get_smp_processor_id() == central_cpu) {
		WRITE_ONCE(timer_flags, BPF_F_TIMER_CPU_PIN);
		ret = bpf_timer_start(&ct->timer, TIMER_INTERVAL_NS, BPF_F_TIMER_CPU_PIN);
		if (ret != -EINVAL)
			return ret ?: status;
		status = TIMER_PIN_UNSUPPORTED;
	} else {
		status = TIMER_NOT_ON_CENTRAL;
	}

	WRITE_ONCE(timer_flags, 0);
	ret = bpf_timer_start(&ct->timer, TIMER_INTERVAL_NS, 0);
	return ret ?: status;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(central_init)
{
	if (central_cpu < 0 || central_cpu >= nr_cpu_ids) {
		scx_bpf_error("central CPU %d is not below nr_cpu_ids %u", central_cpu, nr_cpu_ids);
		return -EINVAL;
	}
	return scx_bpf_create_dsq(FALLBACK_DSQ_ID, -1);
}

void BPF_STRUCT_OPS(central_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(central_ops,
	       .select_cpu	= (void *)central_select_cpu,
	       .enqueue		= (void *)central_enqueue,
	       .dispatch	= (void *)central_dispatch,
	       .running		= (void *)central_running,
	       .stopping	= (void *)central_stopping,
	       .init		= (void *)central_init,
	       .exit		= (void *)central_exit,
	       .flags		= SCX_OPS_ENQ_LAST,
	       .name		= "central");
