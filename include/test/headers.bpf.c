/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Compile test for include/scx: a small but complete struct_ops scheduler
 * that calls every compat wrapper and uses every macro of common.bpf.h,
 * compat.bpf.h and user_exit_info.h at least once.
 *
 * The policy is deliberately plain (one vtime-ordered shared DSQ, an idle
 * CPU found at wakeup gets the task directly) so that the object can also be
 * loaded as a smoke test; every op stays legal in its calling context on
 * kernels 6.16 to 7.3. include/test/check.sh builds it with -Wall -Werror
 * and checks the sections the Rust loader relies on.
 */
#include <scx/common.bpf.h>

char _license[] SEC("license") = "GPL";

#define SHARED_DSQ	0
#define NR_STATS	4
#define TEST_ENOMEM	12

/* Set by the loader before load; ARRAY_ELEM_PTR bounds against it. */
const volatile u32 nr_cpus = 1;
const volatile u64 slice_ns = 5000000;

/*
 * Lets a loader check the message macros end to end: 1 makes the first tick
 * fail with scx_bpf_error(), 2 makes ops.init leave with scx_bpf_exit().
 */
const volatile u32 fail_mode;

UEI_DEFINE(uei);

/* Per-CPU counters, sized to nr_cpus at load time. */
u64 RESIZABLE_ARRAY(data, cpu_enqueues);

struct test_stats {
	u64 cnt[NR_STATS];
	u64 peeked;
	u64 events_seen;
	u64 init_state;
};

struct test_stats stats;
u64 vtime_now;

/* A BPF-owned cpumask and a small rbtree, both held as kptrs. */
private(MASK) struct bpf_cpumask __kptr *test_mask;

struct rb_elem {
	struct bpf_rb_node node;
	struct bpf_refcount ref;
	u64 key;
};

private(RB) struct bpf_spin_lock rb_lock;
private(RB) struct bpf_rb_root rb_root __contains(rb_elem, node);

static bool rb_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct rb_elem *ea = container_of(a, struct rb_elem, node);
	const struct rb_elem *eb = container_of(b, struct rb_elem, node);

	return ea->key < eb->key;
}

static void stat_inc(u32 idx)
{
	u64 *cnt = MEMBER_VPTR(stats, .cnt[idx]);

	if (cnt)
		__sync_fetch_and_add(cnt, 1);
}

s32 BPF_STRUCT_OPS(test_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	struct bpf_cpumask *mask;
	bool is_idle = false;
	s32 cpu;

	if (__COMPAT_HAS_scx_bpf_select_cpu_and) {
		cpu = scx_bpf_select_cpu_and(p, prev_cpu, wake_flags, p->cpus_ptr, 0);
		if (cpu >= 0) {
			stat_inc(0);
			scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
			return cpu;
		}
	}

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		stat_inc(0);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, slice_ns, 0);
	}

	/* Reading a kptr outside its map needs an RCU read-side section. */
	bpf_rcu_read_lock();
	mask = test_mask;
	if (mask && bpf_cpumask_test_cpu(cpu, cast_mask(mask)))
		stat_inc(3);
	bpf_rcu_read_unlock();

	return cpu;
}

void BPF_STRUCT_OPS(test_enqueue, struct task_struct *p, u64 enq_flags)
{
	u64 vtime = p->scx.dsq_vtime;
	u64 now = scx_bpf_now();
	s32 cpu = bpf_get_smp_processor_id();
	u64 *cnt;

	cnt = ARRAY_ELEM_PTR(cpu_enqueues, cpu, nr_cpus);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);

	/* A sleeper may bank at most one slice of credit. */
	if (vtime_before(vtime, READ_ONCE(vtime_now) - slice_ns))
		vtime = READ_ONCE(vtime_now) - slice_ns;

	if (time_before(now, (u64)1) || (enq_flags & SCX_ENQ_HEAD))
		stat_inc(1);

	if (enq_flags & SCX_ENQ_CPU_SELECTED)
		stat_inc(2);

	scx_bpf_dsq_insert_vtime(p, SHARED_DSQ, min(slice_ns, (u64)SCX_SLICE_DFL),
				 vtime, enq_flags);
}

void BPF_STRUCT_OPS(test_dispatch, s32 cpu, struct task_struct *prev)
{
	struct task_struct *p;
	int i, moved = 0;

	p = scx_bpf_dsq_peek(SHARED_DSQ);
	if (p)
		__sync_fetch_and_add(&stats.peeked, 1);

	if (scx_bpf_dsq_move_to_local(SHARED_DSQ, SCX_ENQ_IMMED))
		return;

	/* Walk the DSQ and move at most as many tasks as there are slots. */
	bpf_for_each(scx_dsq, p, SHARED_DSQ, 0) {
		if (moved >= (int)scx_bpf_dispatch_nr_slots())
			break;
		/* A task pinned elsewhere must not land on this CPU. */
		if (!bpf_cpumask_test_cpu(cpu, p->cpus_ptr))
			continue;
		scx_bpf_dsq_move_set_slice(BPF_FOR_EACH_ITER, slice_ns);
		if (scx_bpf_dsq_move(BPF_FOR_EACH_ITER, p, SCX_DSQ_LOCAL, 0))
			moved++;
	}

	bpf_for(i, 0, 2) {
		if (scx_bpf_dsq_move_to_local(SHARED_DSQ))
			break;
	}
}

void BPF_STRUCT_OPS(test_tick, struct task_struct *p)
{
	struct task_struct *curr = scx_bpf_cpu_curr(scx_bpf_task_cpu(p));

	/* The curr pointer may be untrusted (6.16/6.17): compare it only. */
	if (curr == p)
		scx_bpf_task_set_slice(p, max(p->scx.slice, (u64)1));

	/*
	 * A counter incremented in the loop would keep the verifier from ever
	 * seeing two equal states, so the body only touches memory.
	 */
	bpf_repeat(2)
		stat_inc(1);

	if (fail_mode == 1 || p->scx.weight > 10000)
		scx_bpf_error("weight %u of %s[%d]", p->scx.weight, p->comm, p->pid);
}

void BPF_STRUCT_OPS(test_running, struct task_struct *p)
{
	if (time_after(p->scx.dsq_vtime, READ_ONCE(vtime_now)))
		WRITE_ONCE(vtime_now, p->scx.dsq_vtime);
}

void BPF_STRUCT_OPS(test_stopping, struct task_struct *p, bool runnable)
{
	u64 used = slice_ns - clamp(p->scx.slice, (u64)0, slice_ns);

	if (unlikely(!p->scx.weight))
		return;
	if (likely(used))
		scx_bpf_task_set_dsq_vtime(p, p->scx.dsq_vtime + used * 100 / p->scx.weight);
}

void BPF_STRUCT_OPS(test_cpu_release, s32 cpu, struct scx_cpu_release_args *args)
{
	/* The one context where every form of this kfunc is legal. */
	scx_bpf_reenqueue_local();
}

void BPF_STRUCT_OPS(test_enable, struct task_struct *p)
{
	struct rb_elem *e, *extra;
	struct bpf_rb_node *n;
	struct task_struct *t;
	struct cgroup *cg, *anc;

	p->scx.dsq_vtime = READ_ONCE(vtime_now);

	cg = scx_bpf_task_cgroup(p);
	if (cg) {
		anc = bpf_cgroup_ancestor(cg, 0);
		if (anc)
			bpf_cgroup_release(anc);
		bpf_cgroup_release(cg);
	}

	cg = bpf_cgroup_from_id(1);
	if (cg)
		bpf_cgroup_release(cg);

	t = bpf_task_from_pid(1);
	if (t)
		bpf_task_release(t);

	/* Allocated object through an rbtree and back, with a second ref. */
	e = bpf_obj_new(struct rb_elem);
	if (!e)
		return;
	e->key = p->pid;
	extra = bpf_refcount_acquire(e);

	bpf_spin_lock(&rb_lock);
	bpf_rbtree_add(&rb_root, &e->node, rb_less);
	n = bpf_rbtree_first(&rb_root);
	if (n)
		n = bpf_rbtree_remove(&rb_root, n);
	bpf_spin_unlock(&rb_lock);

	if (n)
		bpf_obj_drop(container_of(n, struct rb_elem, node));
	if (extra)
		bpf_obj_drop(extra);
}

s32 BPF_STRUCT_OPS(test_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (scx_task_state(p) == SCX_TASK_INIT || scx_task_state(p) == SCX_TASK_INIT_BEGIN)
		WRITE_ONCE(stats.init_state, scx_task_state(p));
	return 0;
}

void BPF_STRUCT_OPS(test_dump, struct scx_dump_ctx *dctx)
{
	struct scx_event_stats events;

	scx_bpf_events(&events, sizeof(events));
	stats.events_seen = scx_read_event(&events, SCX_EV_SELECT_CPU_FALLBACK);
	scx_bpf_dump("test: peeked=%llu fallback=%lld rescue=%lld",
		     stats.peeked, scx_read_event(&events, SCX_EV_SELECT_CPU_FALLBACK),
		     scx_read_event(&events, SCX_EV_SUB_RESCUE));
}

s32 BPF_STRUCT_OPS_SLEEPABLE(test_init)
{
	struct bpf_cpumask *mask;
	s32 ret;

	ret = scx_bpf_create_dsq(SHARED_DSQ, -1);
	if (ret) {
		scx_bpf_error("failed to create DSQ %d (%d)", SHARED_DSQ, ret);
		return ret;
	}

	mask = bpf_cpumask_create();
	if (!mask)
		return -TEST_ENOMEM;
	bpf_cpumask_setall(mask);
	mask = bpf_kptr_xchg(&test_mask, mask);
	if (mask)
		bpf_cpumask_release(mask);

	if (fail_mode == 2 || nr_cpus > 8192)
		scx_bpf_exit(SCX_ECODE_ACT_RESTART | 1, "nr_cpus %u, max %d", nr_cpus, 8192);
	return 0;
}

void BPF_STRUCT_OPS(test_exit, struct scx_exit_info *ei)
{
	if (scx_exit_initialized(ei))
		stats.init_state |= 1ULL << 32;
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(test_ops,
	       .select_cpu	= (void *)test_select_cpu,
	       .enqueue		= (void *)test_enqueue,
	       .dispatch	= (void *)test_dispatch,
	       .tick		= (void *)test_tick,
	       .running		= (void *)test_running,
	       .stopping	= (void *)test_stopping,
	       .cpu_release	= (void *)test_cpu_release,
	       .enable		= (void *)test_enable,
	       .init_task	= (void *)test_init_task,
	       .dump		= (void *)test_dump,
	       .init		= (void *)test_init,
	       .exit		= (void *)test_exit,
	       .name		= "scx_hdrtest");
