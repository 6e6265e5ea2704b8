/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_pair: the two CPUs of a pair only ever run tasks of the same cgroup.
 *
 * Policy
 * ------
 * User space splits the CPUs into pairs (CPU i with (i + stride) mod
 * nr_cpu_ids, or real SMT siblings with --smt) and hands the table over in
 * read-only data. A pair serves one cgroup at a time, for a batch of
 * batch_ns: both of its CPUs take tasks from that cgroup only. When the batch
 * has expired, or the cgroup has nothing left for a CPU, the pair drains: no
 * new task of the cgroup starts, and once neither CPU is still running one
 * the pair takes the next cgroup from a global queue. This is core
 * scheduling done as a policy: a pair never runs two cgroups at once.
 *
 * Queues
 * ------
 * Every tracked cgroup owns a slot, and every slot a user DSQ (id = slot)
 * that holds the cgroup's runnable tasks in FIFO order. DSQs are lists
 * inside the kernel: they cannot overflow, however many tasks a cgroup has.
 * The global queue (cg_queue) holds slot numbers, each at most once (the
 * slot_queued flag), so MAX_CGRPS entries always suffice and a push cannot
 * fail either. This is why we use DSQs and not per-cgroup queues of pids:
 * a bounded pid queue fills up under a fork storm, and then the only choice
 * left is an error exit.
 *
 * Slots are handed out in ops.cgroup_init() (the lowest free one) and taken
 * back in ops.cgroup_exit(). At most max_cgroups (MAX_CGRPS = 4096 at most) cgroups
 * are tracked; ops.cgroup_init() of one more returns -EBUSY, so its mkdir
 * fails with "Device or resource busy" and the scheduler keeps running. The
 * DSQs are created once in ops.init() and never destroyed, so a task that
 * is enqueued while its cgroup is being removed can never hit a missing DSQ.
 *
 * The pair protocol
 * -----------------
 * struct pair_ctx, under a spin lock, holds the slot the pair serves, the
 * batch deadline, and per CPU whether it is running (or about to run) a task
 * of that slot ("busy"). A CPU sets its busy flag before it moves a task
 * from the slot's DSQ, and the pair changes slot only while the partner is
 * not busy: so both CPUs always run tasks of the slot the pair holds. The
 * move itself happens outside the lock (kfuncs cannot be called under it).
 *
 * SCX_OPS_ENQ_LAST stops the kernel from silently keeping a task that used
 * its slice when nothing else was dispatched: that task comes back through
 * ops.enqueue() with SCX_ENQ_LAST and keeps its CPU only if the pair still
 * serves its cgroup. ops.select_cpu() never inserts a task directly, so
 * every task passes through ops.enqueue() (without a select_cpu the kernel
 * would insert wakeups onto idle CPUs by itself, behind the pair's back).
 *
 * When a higher sched class takes a CPU, the partner is kicked off its task
 * and waits, for at most one batch, until the CPU comes back. Up to 7.0 the
 * kernel says so through ops.cpu_release() and ops.cpu_acquire(), and
 * cpu_release re-enqueues what waits on the CPU's local DSQ. From 7.1 (7.2
 * deprecates both callbacks) user space clears them before load and attaches
 * pair_sched_switch instead, a sched_switch tracepoint that sees the same
 * transitions; tasks are then moved to a CPU with SCX_ENQ_IMMED, so the
 * kernel itself re-enqueues one that cannot run there at once or that a
 * higher class preempts, and it comes back to its cgroup's DSQ.
 *
 * Exceptions and trade-offs
 * -------------------------
 * - Tasks that cannot run on every CPU (per-CPU kthreads, tasks pinned with
 *   taskset, migration-disabled tasks) run on the CPU they are queued on,
 *   outside the pair rule: a pinned task could otherwise wait forever for
 *   its own CPU's pair to pick its cgroup. They are counted as "bypass",
 *   and a per-CPU kthread goes to the head of that CPU's local DSQ. One
 *   queued on a CPU outside its mask (its affinity is being changed) goes
 *   to FALLBACK_DSQ instead: inserted there it would be re-enqueued, perhaps
 *   again and again.
 * - Other kernel threads (rcu_preempt, unbound kworkers) skip the pair rule
 *   too ("bypass"): they go to FALLBACK_DSQ, which every CPU serves first.
 * - A task whose cgroup has no slot (enqueued while the cgroup is being
 *   removed) goes to FALLBACK_DSQ as well ("missing").
 * - An idle CPU whose partner still runs the old cgroup stays idle: that is
 *   the price of the invariant, paid by every cgroup that cannot fill both
 *   CPUs of a pair.
 * - There are no weights: cgroups take turns in FIFO order, a batch each.
 *
 * Starvation bound
 * ----------------
 * A slice shrinks with the queue the task joins: s = slice * C' / n for n
 * tasks queued there, C' the CPUs serving it (C for a cgroup's DSQ or
 * FALLBACK_DSQ, 1 for a local DSQ), never below 1 ms (SLICE_MIN_NS); the
 * tick (4 ms on Debian) rounds it up for a spinner (s'). With K cgroups
 * holding runnable tasks and P = C / 2 pairs, a cgroup's slot waits in the
 * FIFO cg_queue behind at most K - 1 others, each served for a batch b plus
 * one slice to drain, plus one batch for a partner a higher class took; in
 * its own batch a pair runs at least 2 b / s' of its tasks. So a task with
 * n others ahead in its cgroup starts within about
 * (n s' / (2 b) + 1) * (ceil(K / P) + 1) * (b + s'); for one cgroup, which
 * every pair serves at once, within n s' / C + 2 (b + s'): 0.65 s for 600
 * tasks on 4 CPUs (faults/hostile.sh), 2 s for 2,000. Kernel threads and
 * tasks pinned to a CPU never wait for a pair: a per-CPU kthread waits at
 * most the slice running on its CPU, another kthread the next slice to end
 * anywhere, a pinned task the m slices of the m tasks ahead of it on its
 * CPU (about slice_ns in all). Shown by faults/hostile.sh (HOSTILE=1) with
 * xtask observe, beside EEVDF.
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

#define MAX_CPUS	1024	/* user space refuses more */
#define MAX_PAIRS	(MAX_CPUS / 2)
#define MAX_CGRPS	4096	/* a power of two; user space states it */
#define FALLBACK_DSQ	MAX_CGRPS
#define NO_SLOT		(-1)
#define POP_TRIES	8
#define SWEEP_EVERY	32
#define SLICE_MIN_NS	(1000 * 1000)	/* the floor of a shrunk slice */
#define PF_KTHREAD	0x00200000

#ifndef EBUSY
#define EBUSY		16
#endif


/* Set by user space before load. */
const volatile u32 nr_cpus = 1;
const volatile s32 pair_cpu[MAX_CPUS];
const volatile u32 pair_id[MAX_CPUS];
const volatile u8 pair_side[MAX_CPUS];
const volatile u32 max_cgroups = MAX_CGRPS;
const volatile u64 slice_ns = 20 * 1000 * 1000;	/* SCX_SLICE_DFL */
const volatile u64 batch_ns = 20 * 1000 * 1000;

UEI_DEFINE(uei);

struct pair_ctx {
	struct bpf_spin_lock lock;
	s32 slot;		/* the slot served, NO_SLOT when none */
	u8 draining;		/* no new task of the slot may start */
	u8 busy[2];		/* CPU runs (or is about to run) a task of slot */
	u8 preempted[2];	/* a higher class holds the CPU */
	u64 deadline;		/* end of the current batch */
	u64 preempt_at;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, MAX_PAIRS);
	__type(key, u32);
	__type(value, struct pair_ctx);
} pair_ctx SEC(".maps");

/* Cgroup id -> slot. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, MAX_CGRPS);
	__type(key, u64);
	__type(value, s32);
} cgrp_slot SEC(".maps");

/* Slots with queued tasks, in the order they became non-empty. */
struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, MAX_CGRPS);
	__type(value, s32);
} cg_queue SEC(".maps");

u32 slot_queued[MAX_CGRPS];	/* 1 while the slot is in cg_queue */
u64 slot_cgid[MAX_CGRPS];	/* the cgroup holding the slot, 0 if free */
u32 slot_hwm;			/* one above the highest slot handed out */
u32 sweep_cursor;
u64 nr_cgroups;			/* cgroups tracked now */
u64 nr_queue_full;		/* cg_queue pushes that failed (never expected) */

/* Read by user space through the skeleton's .bss: see intf.h. */
struct pair_stats stats;

static __always_inline void stat_inc(u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

static struct pair_ctx *pair_of(s32 cpu)
{
	u32 id;

	if (cpu < 0 || cpu >= MAX_CPUS)
		return NULL;
	id = pair_id[cpu];
	return bpf_map_lookup_elem(&pair_ctx, &id);
}

static u32 side_of(s32 cpu)
{
	if (cpu < 0 || cpu >= MAX_CPUS)
		return 0;
	return pair_side[cpu] & 1;
}

static s32 partner_of(s32 cpu)
{
	if (cpu < 0 || cpu >= MAX_CPUS)
		return -1;
	return pair_cpu[cpu];
}

/* Whether @p may only run on some CPUs (see "Exceptions" above). */
static bool is_restricted(struct task_struct *p)
{
	u16 md = p->migration_disabled;

	/* The BPF trampoline disables migration of the current task itself. */
	if (md == 1 && p == bpf_get_current_task_btf())
		md = 0;
	return md || (u32)p->nr_cpus_allowed < nr_cpus;
}

/*
 * The slice of a task joining a queue of @queued tasks that @cpus CPUs serve:
 * slice_ns shared among them, never below SLICE_MIN_NS.
 */
static u64 queue_slice(s32 queued, u32 cpus)
{
	u64 floor = slice_ns < SLICE_MIN_NS ? slice_ns : SLICE_MIN_NS;
	u64 slice;

	if (queued < (s32)cpus)
		return slice_ns;
	slice = slice_ns * cpus / (queued + 1);
	return slice < floor ? floor : slice;
}

/* The slice of a task joining @cpu's local DSQ, served by that CPU alone. */
static u64 local_slice(s32 cpu)
{
	return queue_slice(scx_bpf_dsq_nr_queued(SCX_DSQ_LOCAL_ON | cpu), 1);
}

static s32 task_slot(struct task_struct *p)
{
	struct cgroup *cgrp = scx_bpf_task_cgroup(p);
	s32 *slot;
	u64 cgid;

	if (!cgrp)
		return NO_SLOT;
	cgid = cgrp->kn->id;
	bpf_cgroup_release(cgrp);
	slot = bpf_map_lookup_elem(&cgrp_slot, &cgid);
	if (!slot || *slot < 0 || *slot >= MAX_CGRPS)
		return NO_SLOT;
	return *slot;
}

/*
 * A slot as an array index the verifier accepts: callers have checked the
 * range already, but on the 32-bit subregister only.
 */
static __always_inline u32 slot_idx(s32 slot)
{
	return (u32)slot & (MAX_CGRPS - 1);
}

/*
 * The slot of @prev in ops.dispatch(), where scx_bpf_task_cgroup() may not be
 * called (@prev is not a task that op operates on): the same cgroup, read
 * from the task group.
 */
static s32 prev_slot_of(struct task_struct *prev)
{
	u64 cgid = BPF_CORE_READ(prev, sched_task_group, css.cgroup, kn, id);
	s32 *slot;

	if (!cgid)
		return NO_SLOT;
	slot = bpf_map_lookup_elem(&cgrp_slot, &cgid);
	if (!slot || *slot < 0 || *slot >= MAX_CGRPS)
		return NO_SLOT;
	return *slot;
}

/* Puts @slot on the global queue unless it is there already. */
static void push_slot(s32 slot)
{
	u32 *queued;

	if (slot < 0 || slot >= MAX_CGRPS)
		return;
	queued = &slot_queued[slot_idx(slot)];
	if (__sync_val_compare_and_swap(queued, 0, 1) != 0)
		return;
	if (bpf_map_push_elem(&cg_queue, &slot, 0)) {
		/* Cannot happen (one entry per slot), but never fatal. */
		*queued = 0;
		__sync_fetch_and_add(&nr_queue_full, 1);
	}
}

static bool slot_has_tasks(s32 slot)
{
	return scx_bpf_dsq_nr_queued(slot) > 0;
}

/* The first non-empty slot from a round-robin cursor, or NO_SLOT. */
static s32 sweep(void)
{
	u32 hwm = slot_hwm, i;
	s32 slot;

	if (hwm > MAX_CGRPS)
		hwm = MAX_CGRPS;
	bpf_for(i, 0, hwm) {
		slot = (sweep_cursor + i) % hwm;
		if (slot_has_tasks(slot)) {
			sweep_cursor = slot + 1;
			return slot;
		}
	}
	return NO_SLOT;
}

/*
 * The next slot with queued tasks: the head of the global queue, or, if the
 * queue has none, the first non-empty slot found by a round-robin sweep. The
 * sweep catches a slot whose task landed in its DSQ just after a pair popped
 * it and found it empty (ops.enqueue() inserts only after it returns), so
 * that it is in no queue; one pick in SWEEP_EVERY sweeps first, so such a
 * slot waits a bounded time even when the queue never runs dry.
 */
static s32 next_slot(void)
{
	u32 i;
	s32 slot;

	if (bpf_get_prandom_u32() % SWEEP_EVERY == 0) {
		slot = sweep();
		if (slot != NO_SLOT)
			return slot;
	}

	bpf_for(i, 0, POP_TRIES) {
		if (bpf_map_pop_elem(&cg_queue, &slot))
			break;
		if (slot < 0 || slot >= MAX_CGRPS)
			continue;
		slot_queued[slot_idx(slot)] = 0;
		if (slot_has_tasks(slot))
			return slot;
		stat_inc(&stats.nr_cgrp_coll);
	}
	return sweep();
}

static void kick(s32 cpu, u64 flags)
{
	if (cpu < 0)
		return;
	scx_bpf_kick_cpu(cpu, flags);
	stat_inc(&stats.nr_kicks);
}

/* Wakes an idle CPU to pick up work just queued. */
static void kick_idle_cpu(struct task_struct *p)
{
	s32 cpu = scx_bpf_pick_idle_cpu(p->cpus_ptr, 0);

	if (cpu >= 0)
		scx_bpf_kick_cpu(cpu, SCX_KICK_IDLE);
}

s32 BPF_STRUCT_OPS(pair_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	/* Everything else must go through ops.enqueue() and the pair rule. */
	if (!is_restricted(p))
		return prev_cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		stat_inc(&stats.nr_bypass);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}
	return cpu;
}

/*
 * A task that used its slice with nothing else to run (SCX_ENQ_LAST) keeps
 * its CPU if the pair still serves its slot, or if the pair is free and can
 * take the slot right away.
 */
static __always_inline bool keep_running(s32 cpu, s32 slot)
{
	struct pair_ctx *pc = pair_of(cpu);
	u32 me = side_of(cpu), other = me ^ 1;
	bool keep = false, freed = false;
	u64 now = scx_bpf_now();

	if (!pc)
		return false;
	bpf_spin_lock(&pc->lock);
	if (pc->slot == slot && !pc->draining && !pc->preempted[other]) {
		keep = true;
	} else if (pc->slot == NO_SLOT && !pc->busy[other]) {
		pc->slot = slot;
		pc->deadline = now + batch_ns;
		pc->draining = 0;
		keep = true;
	}
	if (keep) {
		pc->busy[me] = 1;
	} else if (pc->busy[me]) {
		pc->busy[me] = 0;
		freed = true;
	}
	bpf_spin_unlock(&pc->lock);

	if (freed)
		kick(partner_of(cpu), SCX_KICK_IDLE);
	return keep;
}

void BPF_STRUCT_OPS(pair_enqueue, struct task_struct *p, u64 enq_flags)
{
	s32 slot, cpu;

	stat_inc(&stats.nr_total);

	/*
	 * Where it is queued, a per-CPU kthread at the head. Not if its CPU is
	 * outside its mask (the mask is being changed): inserted there it would
	 * be re-enqueued, perhaps again and again; FALLBACK_DSQ is served by
	 * every CPU first.
	 */
	if (is_restricted(p)) {
		cpu = scx_bpf_task_cpu(p);
		stat_inc(&stats.nr_bypass);
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr)) {
			scx_bpf_dsq_insert(p, FALLBACK_DSQ, slice_ns, enq_flags);
			kick_idle_cpu(p);
			return;
		}
		if (p->flags & PF_KTHREAD)
			enq_flags |= SCX_ENQ_HEAD;
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, local_slice(cpu), enq_flags);
		return;
	}

	/*
	 * Other kernel threads (rcu_preempt, unbound kworkers) and tasks of a
	 * cgroup without a slot skip the pair rule: FALLBACK_DSQ.
	 */
	slot = (p->flags & PF_KTHREAD) ? NO_SLOT : task_slot(p);
	if (slot == NO_SLOT) {
		stat_inc((p->flags & PF_KTHREAD) ? &stats.nr_bypass : &stats.nr_missing);
		scx_bpf_dsq_insert(p, FALLBACK_DSQ, queue_slice(scx_bpf_dsq_nr_queued(FALLBACK_DSQ), nr_cpus),
				   enq_flags);
		kick_idle_cpu(p);
		return;
	}

	if ((enq_flags & SCX_ENQ_LAST) && keep_running(scx_bpf_task_cpu(p), slot)) {
		stat_inc(&stats.nr_kept);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, queue_slice(scx_bpf_dsq_nr_queued(slot), nr_cpus),
				   enq_flags | SCX_ENQ_IMMED);
		return;
	}

	scx_bpf_dsq_insert(p, slot, queue_slice(scx_bpf_dsq_nr_queued(slot), nr_cpus), enq_flags);
	push_slot(slot);
	kick_idle_cpu(p);
}

/*
 * Decides, under the pair lock, which slot this CPU may take a task from,
 * and marks it busy for that slot. NO_SLOT: the pair is free, pick one.
 * -2: wait (the partner drains the old slot, or is preempted).
 */
#define WAIT (-2)

static __always_inline s32 claim(struct pair_ctx *pc, u32 me, u64 now, bool *expired, s32 *left)
{
	u32 other = me ^ 1;
	s32 ret;

	bpf_spin_lock(&pc->lock);
	pc->busy[me] = 0;
	if (pc->preempted[other] && now - pc->preempt_at < batch_ns) {
		bpf_spin_unlock(&pc->lock);
		return WAIT;
	}
	if (pc->slot != NO_SLOT && !pc->draining && (s64)(now - pc->deadline) >= 0) {
		pc->draining = 1;
		*expired = true;
	}
	if (pc->draining) {
		if (pc->busy[other]) {
			bpf_spin_unlock(&pc->lock);
			return WAIT;
		}
		*left = pc->slot;
		pc->slot = NO_SLOT;
		pc->draining = 0;
	}
	ret = pc->slot;
	if (ret != NO_SLOT)
		pc->busy[me] = 1;
	bpf_spin_unlock(&pc->lock);
	return ret;
}

/* Installs @slot for the pair if it is still free; returns the slot to serve. */
static __always_inline s32 install(struct pair_ctx *pc, u32 me, s32 slot, u64 now, bool *installed)
{
	u32 other = me ^ 1;
	s32 ret = NO_SLOT;

	bpf_spin_lock(&pc->lock);
	if (pc->slot == NO_SLOT && !pc->busy[other]) {
		pc->slot = slot;
		pc->deadline = now + batch_ns;
		pc->draining = 0;
		*installed = true;
	}
	if (pc->slot != NO_SLOT && !pc->draining) {
		pc->busy[me] = 1;
		ret = pc->slot;
	}
	bpf_spin_unlock(&pc->lock);
	return ret;
}

/* Nothing more in @slot for this CPU: the pair drains it. */
static __always_inline void release(struct pair_ctx *pc, u32 me, s32 slot)
{
	u32 other = me ^ 1;

	bpf_spin_lock(&pc->lock);
	pc->busy[me] = 0;
	if (pc->slot == slot) {
		if (pc->busy[other]) {
			pc->draining = 1;
		} else {
			pc->slot = NO_SLOT;
			pc->draining = 0;
		}
	}
	bpf_spin_unlock(&pc->lock);
}

/*
 * This CPU runs a task outside the pair rule: it no longer holds up a
 * partner that waits for it to leave the pair's slot.
 */
static __always_inline void step_aside(struct pair_ctx *pc, u32 me, s32 partner)
{
	bool was_busy;

	bpf_spin_lock(&pc->lock);
	was_busy = pc->busy[me];
	pc->busy[me] = 0;
	bpf_spin_unlock(&pc->lock);
	if (was_busy)
		kick(partner, SCX_KICK_IDLE);
}

void BPF_STRUCT_OPS(pair_dispatch, s32 cpu, struct task_struct *prev)
{
	struct pair_ctx *pc = pair_of(cpu);
	u32 me = side_of(cpu);
	s32 partner = partner_of(cpu);
	s32 prev_slot = NO_SLOT, slot;
	u64 now = scx_bpf_now();
	u32 round;

	if (!pc)
		return;

	/* Kernel threads and stragglers first, outside the pair rule. */
	if (scx_bpf_dsq_nr_queued(FALLBACK_DSQ) > 0 && scx_bpf_dsq_move_to_local(FALLBACK_DSQ)) {
		step_aside(pc, me, partner);
		return;
	}

	if (prev && (prev->scx.flags & SCX_TASK_QUEUED) && !is_restricted(prev))
		prev_slot = prev_slot_of(prev);

	/* Two rounds: the pair may free up in the first and take a slot in the second. */
	bpf_for(round, 0, 2) {
		bool expired = false, installed = false;
		s32 left = NO_SLOT, picked;

		slot = claim(pc, me, now, &expired, &left);
		if (expired)
			stat_inc(&stats.nr_exps);
		if (left != NO_SLOT && slot_has_tasks(left))
			push_slot(left);
		if (slot == WAIT) {
			stat_inc(&stats.nr_exp_waits);
			/* Hurry the partner off the expired slot. */
			if (expired)
				kick(partner, SCX_KICK_PREEMPT);
			break;
		}

		if (slot == NO_SLOT) {
			picked = next_slot();
			if (picked == NO_SLOT)
				break;
			slot = install(pc, me, picked, now, &installed);
			if (installed) {
				stat_inc(&stats.nr_cgrp_next);
				kick(partner, SCX_KICK_IDLE);
			} else {
				push_slot(picked);
			}
			if (slot == NO_SLOT)
				break;
		}

		/* IMMED (7.1+, 0 before): never left waiting on this CPU. */
		if (scx_bpf_dsq_move_to_local(slot, SCX_ENQ_IMMED)) {
			stat_inc(&stats.nr_dispatched);
			return;
		}
		/* @prev is the slot's last task: SCX_ENQ_LAST keeps it here. */
		if (prev_slot == slot)
			return;

		stat_inc(&stats.nr_exp_empty);
		release(pc, me, slot);
	}
}

/* A higher sched class took @cpu: the partner stops and waits. */
static __always_inline void cpu_taken(s32 cpu)
{
	struct pair_ctx *pc = pair_of(cpu);
	u32 me = side_of(cpu);
	u64 now = scx_bpf_now();

	if (!pc)
		return;
	bpf_spin_lock(&pc->lock);
	pc->busy[me] = 0;
	pc->preempted[me] = 1;
	pc->preempt_at = now;
	bpf_spin_unlock(&pc->lock);

	stat_inc(&stats.nr_preemptions);
	kick(partner_of(cpu), SCX_KICK_PREEMPT);
}

/* @cpu is back from the higher class: the partner may go on. */
static __always_inline void cpu_back(s32 cpu)
{
	struct pair_ctx *pc = pair_of(cpu);
	u32 me = side_of(cpu);

	if (!pc)
		return;
	bpf_spin_lock(&pc->lock);
	pc->preempted[me] = 0;
	bpf_spin_unlock(&pc->lock);
	kick(partner_of(cpu), SCX_KICK_IDLE);
}

/* Up to 7.0 (cleared by user space on 7.1+). */
void BPF_STRUCT_OPS(pair_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	cpu_taken(cpu);
	/* Our queued tasks go back to their cgroups, where the pair can see them. */
	scx_bpf_reenqueue_local();
}

void BPF_STRUCT_OPS(pair_cpu_acquire, s32 cpu, struct scx_cpu_acquire_args *args)
{
	cpu_back(cpu);
}

#define MAX_RT_PRIO	100

/*
 * 7.1+ (not loaded before): the same transitions, seen at each context
 * switch. A task below MAX_RT_PRIO is real-time, deadline or the stopper,
 * all of a higher class than sched_ext; pid 0 is the idle task.
 */
SEC("tp_btf/sched_switch")
int BPF_PROG(pair_sched_switch, bool preempt, struct task_struct *prev,
	     struct task_struct *next, unsigned int prev_state)
{
	s32 cpu = bpf_get_smp_processor_id();
	struct pair_ctx *pc = pair_of(cpu);
	bool higher = next->pid != 0 && next->prio < MAX_RT_PRIO;

	if (!pc)
		return 0;
	if (higher && !pc->preempted[side_of(cpu)])
		cpu_taken(cpu);
	else if (!higher && pc->preempted[side_of(cpu)])
		cpu_back(cpu);
	return 0;
}

/* The lowest free slot, or NO_SLOT. Cgroup creation is rare: a scan will do. */
static s32 free_slot(void)
{
	u32 i;

	bpf_for(i, 0, MAX_CGRPS) {
		if (!slot_cgid[i])
			return i;
	}
	return NO_SLOT;
}

/* ops.cgroup_init() and ops.cgroup_exit() are serialized by the cgroup core. */
s32 BPF_STRUCT_OPS_SLEEPABLE(pair_cgroup_init, struct cgroup *cgrp, struct scx_cgroup_init_args *args)
{
	u64 cgid = cgrp->kn->id;
	s32 slot = NO_SLOT;

	if (nr_cgroups < max_cgroups)
		slot = free_slot();
	if (slot < 0 || slot >= MAX_CGRPS ||
	    bpf_map_update_elem(&cgrp_slot, &cgid, &slot, BPF_NOEXIST)) {
		stat_inc(&stats.nr_refused);
		return -EBUSY;
	}
	slot_cgid[slot_idx(slot)] = cgid;
	if (slot + 1 > slot_hwm)
		slot_hwm = slot + 1;
	__sync_fetch_and_add(&nr_cgroups, 1);
	return 0;
}

void BPF_STRUCT_OPS(pair_cgroup_exit, struct cgroup *cgrp)
{
	u64 cgid = cgrp->kn->id;
	s32 *slotp, slot;

	slotp = bpf_map_lookup_elem(&cgrp_slot, &cgid);
	if (!slotp)
		return;
	slot = *slotp;
	bpf_map_delete_elem(&cgrp_slot, &cgid);
	if (slot < 0 || slot >= MAX_CGRPS)
		return;
	/*
	 * Tasks still in the slot's DSQ (exiting ones) are served as the slot's
	 * tasks until it is reused; its DSQ is never destroyed.
	 */
	slot_cgid[slot_idx(slot)] = 0;
	__sync_fetch_and_sub(&nr_cgroups, 1);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(pair_init)
{
	u32 i, p;
	s32 ret;

	bpf_for(p, 0, MAX_PAIRS) {
		struct pair_ctx *pc = bpf_map_lookup_elem(&pair_ctx, &p);

		if (pc)
			pc->slot = NO_SLOT;
	}

	ret = scx_bpf_create_dsq(FALLBACK_DSQ, -1);
	if (ret)
		return ret;
	bpf_for(i, 0, MAX_CGRPS) {
		ret = scx_bpf_create_dsq(i, -1);
		if (ret)
			return ret;
	}
	return 0;
}

void BPF_STRUCT_OPS(pair_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(pair_ops,
	       .select_cpu	= (void *)pair_select_cpu,
	       .enqueue		= (void *)pair_enqueue,
	       .dispatch	= (void *)pair_dispatch,
	       .cpu_acquire	= (void *)pair_cpu_acquire,
	       .cpu_release	= (void *)pair_cpu_release,
	       .cgroup_init	= (void *)pair_cgroup_init,
	       .cgroup_exit	= (void *)pair_cgroup_exit,
	       .init		= (void *)pair_init,
	       .exit		= (void *)pair_exit,
	       .flags		= SCX_OPS_ENQ_LAST,
	       .name		= "pair");
