/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * scx_flatcg: hierarchical cgroup weights, scheduled on one flat level.
 *
 * Policy
 * ------
 * The default scheduler honours nested cgroup weights by nesting runqueues:
 * every level adds a queue and a pick. flatcg computes instead, for each
 * cgroup, its share of the whole machine, the "hierarchical weight" (hweight,
 * in 1/65536 units), and schedules all cgroups side by side on one level.
 *
 * hweight is the product of the cgroup's share at every level on the way up,
 * counting only *active* siblings (those with runnable tasks somewhere below
 * them): A (100) holding A1 (100) and A2 (300), next to B (100), gives A1
 * 1/2 * 1/4 = 12.5%, A2 37.5% and B 50% while all three are busy. Each cgroup
 * keeps the sum of the weights of its active children; the sums change only
 * when a cgroup goes active or idle (its first task becomes runnable or its
 * last one stops being runnable), which bumps the global hweight_gen. Each
 * cgroup caches its hweight with the generation it was computed in and
 * recomputes it lazily, walking its ancestors, when the generation moved on.
 *
 * A cgroup's own tasks count as one more child of weight 100 (SELF_WEIGHT).
 * cgroup v2 allows tasks next to cpu-enabled child cgroups only at the root,
 * so in practice this is how root's tasks compete with the top-level cgroups,
 * as a nice-0 task does in the default scheduler.
 *
 * Cgroups with queued tasks sit in one red-black tree (bpf_rbtree under
 * cgv_tree_lock) ordered by cgroup virtual time, cvtime. Running for t ns
 * costs a cgroup t * 65536 / hweight of cvtime, so equal progress in cvtime
 * means CPU time in proportion to hweight. Each cgroup's tasks wait in a
 * DSQ of its own whose id is the cgroup id, ordered by task vtime (weighted
 * by nice, as in scx_simple) or FIFO with -f. A task's vtime never runs more
 * than MAX_LAG_SLICES slices ahead of its cgroup's vtime clock: see the
 * trade-offs below.
 *
 * A CPU that needs work takes the cgroup with the lowest cvtime and stays on
 * it for one cgroup slice (-s), taking that cgroup's tasks one after another.
 * At the pick the cgroup is charged a whole slice in advance and put back in
 * the tree at once, so that the other CPUs see it move back by as much and
 * can also serve it; when the CPU leaves the cgroup the estimate is refunded.
 * The real usage, each task's sum_exec_runtime delta, is charged when the
 * task stops running (ops.stopping). So the charge is exact, and the tree
 * order is right even before a slice has been accounted.
 *
 * Tasks whose affinity does not cover every CPU bypass the cgroup layer: a
 * cgroup's DSQ is shared by all CPUs and one pinned task at its head would
 * hold up the cgroup everywhere. They go to FALLBACK_DSQ, which every CPU
 * serves first, and pinned kthreads straight to their CPU. A task waking up
 * with an idle CPU available is also placed on it directly: nothing else
 * wants that CPU. Both are still charged to their cgroup.
 *
 * Cgroup tree nodes are allocated objects (bpf_obj_new); while a cgroup has
 * no queued tasks its node is kept, as a kptr, in cgv_node_stash, a hash map
 * indexed by cgroup id.
 *
 * Races handled on purpose
 * ------------------------
 * - A task inserted from ops.enqueue() lands in its DSQ only after enqueue
 *   returns. A CPU that just found the cgroup's DSQ empty may stash the node
 *   at that very moment, after the enqueuing CPU saw the cgroup as queued.
 *   The picker re-checks the DSQ after stashing, and at most every
 *   RESCUE_NS one CPU scans the stash for nodes whose DSQ is not empty
 *   ("rescue" in the stats; it should stay near 0).
 * - The kernel treats moving from a DSQ that no longer exists as an error.
 *   A cgroup that goes away is marked dead at once, and its DSQ destroyed only
 *   GRAVE_NS later, long after any CPU could still be using it.
 *
 * Trade-offs
 * ----------
 * One flat level makes the cost of a pick independent of the nesting depth:
 * one tree lookup instead of one per level. The price is accuracy when many
 * cgroups wake at once. A cgroup that becomes queued is placed no further
 * back than one slice behind the current cvtime (cvtime_now), so each one of
 * a herd of low-weight cgroups waking together is picked ahead of busy
 * cgroups and runs for up to a whole cgroup slice before its charge sends it
 * back: N such cgroups take up to N slices of CPU time regardless of their
 * weights. Their debt is remembered, so over time the shares come out right,
 * but a busy high-weight cgroup loses that much in the short term (see the
 * README for the bound). There is no preemption, no load balancing and
 * no locality: all CPUs share one tree and one lock.
 *
 * Nice weights are exact only down to weight 10 (nice 10; sched_ext weights
 * run from 1 to 10000, nice 0 is 100). Running t ns costs a task t * 100 /
 * weight of vtime, so a nice-19 task (weight 1) that ran one 20 ms slice owes
 * 2 s, and with N busy nice-0 tasks in its cgroup on C CPUs it waits about
 * 2 s * N / C for its turn: past the kernel's 30 s watchdog with 70 of them on
 * 4 CPUs, which the soak produced (khugepaged, nice 19, waited 32.7 s and the
 * kernel ejected the scheduler). So a task is queued no further than
 * MAX_LAG_SLICES (10) slices ahead of its cgroup's vtime clock: its wait is at
 * most what a nice-10 task's is after a full slice, and continuously busy
 * tasks below weight 10 get more than their weight but at most about the
 * share of weight 10 (low-weight.sh measured 0.06-0.07 of a nice-0 task;
 * 0.21 since slices shrink with the queue: ten shorter slices of debt).
 *
 * Starvation bound
 * ----------------
 * n runnable tasks, C CPUs, S the cgroup slice (-s, 20 ms), k cgroups with
 * queued tasks, m tasks queued in p's cgroup:
 *  - A task's slice shrinks with n: s = max(1 ms, S * C / n). Its vtime is
 *    clamped at enqueue to at most one s below and L = 10 s above its
 *    cgroup's clock, so each task ahead of p in the cgroup's DSQ runs at
 *    most about L + 2s (weights <= 100) before p: p waits at most
 *    m * (L + 2s) = 12 * m * s of its cgroup's CPU time.
 *  - A cgroup's cvtime is clamped, whenever its node goes into the tree,
 *    to MAX_CG_LAG_SLICES (16) cgroup slices of cvtime_now both ways,
 *    whatever its hweight: a queued cgroup is picked within about k * (32 +
 *    2) * S / C, and then served for S. So a cgroup of weight 1 next to
 *    ones of 10,000 is not starved; below about 1/16 of its siblings' share
 *    it gets more than its weight (as low nice weights do).
 *  - FALLBACK_DSQ (tasks of restricted affinity) and the cgroups take turns
 *    on every CPU; before, FALLBACK_DSQ was served first, and a steady flow
 *    of affinity-changing tasks kept every CPU from ever picking a cgroup
 *    (no dispatch from the tree at all, as in the wedged stress run).
 *    Per-CPU kernel threads go to the head of their CPU's local queue and
 *    wait for one slice at most. Preempted or re-enqueued tasks
 *    (SCX_ENQ_PREEMPT, SCX_ENQ_REENQ) go to the head of FALLBACK_DSQ or
 *    keep their vtime in their cgroup.
 * With one busy cgroup (k = 1, as in the hostile check) T <= 2 * 12 * m * s
 * / C: 480 ms while n <= 20 C, 6 ms * n / C beyond (3.6 s for 600 tasks on 4
 * CPUs, 12 s for 2,000). With k cgroups a cgroup gets at least S of every
 * 34 * k * S / C, which multiplies the in-cgroup term by up to 34 * k / C
 * (but never beyond the cgroup's wait for its own picks). A task pinned to one CPU
 * waits for that CPU only, up to C times as long. faults/hostile.sh
 * (HOSTILE=1) measures it with xtask observe and holds it to
 * HOSTILE_MAX_WAIT_MS in tests/faults.env.
 *
 * Re-enqueue cannot loop: a per-CPU kthread is inserted into the local queue
 * of the CPU in its mask (SCX_DSQ_LOCAL_ON), not the one it was enqueued on;
 * every other task goes to a DSQ that any CPU in its mask serves.
 */
#include <scx/common.bpf.h>
#include "intf.h"

char _license[] SEC("license") = "GPL";

/* Set by user space before load. */
const volatile u64 cgrp_slice_ns = 20 * 1000 * 1000;	/* SCX_SLICE_DFL */
const volatile bool fifo_sched;

#define FALLBACK_DSQ		0	/* cgroup ids start at 1 (the root) */
#define HWEIGHT_ONE		(1LLU << 16)
#define SELF_WEIGHT		100	/* a cgroup's own tasks, as one child */
#define MAX_LAG_SLICES		10	/* vtime a task may owe, in slices */
#define MAX_CG_LAG_SLICES	16	/* cvtime a cgroup may owe or bank */
#define SLICE_MIN_NS		(1000 * 1000LLU)	/* floor of a shrunk task slice */
#define MAX_CPUS		1024
#define MAX_LEVELS		32
#define PICK_RETRIES		8
#define RESCUE_NS		(50 * 1000 * 1000LLU)
#define RESCUE_MAX		16
#define GRAVE_NS		(2 * 1000 * 1000 * 1000LLU)

/* From the kernel's headers, which vmlinux.h does not carry. */
#define PF_KTHREAD		0x00200000
#define ENOMEM			12

UEI_DEFINE(uei);

/* Counters, read by user space through the skeleton's .bss: see intf.h. */
struct fcg_stats stats;

static __always_inline void stat_inc(u64 *counter)
{
	__sync_fetch_and_add(counter, 1);
}

/* Per-cgroup state, in cgroup local storage. */
struct fcg_cgrp_ctx {
	u32 nr_runnable;	/* runnable tasks of this cgroup (atomic) */
	s32 nr_active;		/* active children, self included (hier_lock) */
	s32 in_parent;		/* our weight's count in parent's sum (hier_lock) */
	u32 weight;		/* cpu.weight (hier_lock) */
	u32 queued;		/* node in the tree or held by a picker */
	u32 dead;		/* the cgroup is gone; its DSQ soon will be */
	u32 hweight;		/* cached share of the machine for our tasks */
	u32 slept;		/* no runnable task since the node was queued */
	s64 child_weight_sum;	/* weights of the active children (hier_lock) */
	u64 hweight_gen;	/* generation the cached hweight belongs to */
	s64 cvtime_delta;	/* charges not applied to the node yet (atomic) */
	u64 tvtime_now;		/* task vtime clock of this cgroup */
};

struct {
	__uint(type, BPF_MAP_TYPE_CGRP_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fcg_cgrp_ctx);
} cgrp_ctx SEC(".maps");

/* Per-task state, in task local storage. */
struct fcg_task_ctx {
	u64 exec_at_run;	/* p->se.sum_exec_runtime when it started running */
	u64 counted_cgid;	/* cgroup whose nr_runnable counts this task */
};

struct {
	__uint(type, BPF_MAP_TYPE_TASK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct fcg_task_ctx);
} task_ctx SEC(".maps");

/* Per-CPU state: the cgroup the CPU is serving. */
struct fcg_cpu_ctx {
	u64 cur_cgid;
	u64 cur_at;		/* when the CPU picked it */
	u64 precharge;		/* cvtime charged in advance at the pick */
	u64 dead_seq;		/* dead_seq when cur_cgid was last checked */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(key_size, sizeof(u32));
	__uint(value_size, sizeof(struct fcg_cpu_ctx));
	__uint(max_entries, 1);
} cpu_ctx SEC(".maps");

/* The tree of queued cgroups, ordered by cvtime. */
struct cgv_node {
	struct bpf_rb_node rb_node;
	u64 cvtime;
	u64 cgid;
};

private(CGV_TREE) struct bpf_spin_lock cgv_tree_lock;
private(CGV_TREE) struct bpf_rb_root cgv_tree __contains(cgv_node, rb_node);

/* Guards the active counts and weight sums across levels. */
private(HIER) struct bpf_spin_lock hier_lock;

struct cgv_node_stash {
	struct cgv_node __kptr *node;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, u64);
	__type(value, struct cgv_node_stash);
} cgv_node_stash SEC(".maps");

/* Removed cgroups whose DSQ is still to be destroyed. */
struct fcg_grave {
	u64 cgid;
	u64 at;
};

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 16384);
	__type(value, struct fcg_grave);
} graves SEC(".maps");

u64 hweight_gen = 1;		/* bumped when any active weight sum changes */
u64 dead_seq;			/* bumped when a cgroup is removed */
u64 cvtime_now;			/* cvtime of the most recently picked cgroup */
static u64 nr_runnable_all;	/* runnable tasks counted in any cgroup */
static u8 took_fallback[MAX_CPUS];	/* per CPU: last task came from FALLBACK_DSQ */
static u64 last_rescue_at;
static u64 rescue_ids[RESCUE_MAX];
static u32 nr_rescue;

static struct fcg_cgrp_ctx *cgrp_ctx_of(struct cgroup *cgrp)
{
	return bpf_cgrp_storage_get(&cgrp_ctx, cgrp, 0, 0);
}

/*
 * The slice of a task about to be queued: the cgroup slice shared by the
 * runnable tasks over the CPUs, never below SLICE_MIN_NS (see the bound).
 */
static u64 task_slice(void)
{
	u64 n = READ_ONCE(nr_runnable_all), cpus = scx_bpf_nr_cpu_ids();
	u64 floor = cgrp_slice_ns < SLICE_MIN_NS ? cgrp_slice_ns : SLICE_MIN_NS;
	u64 slice;

	if (n <= cpus)
		return cgrp_slice_ns;
	slice = cgrp_slice_ns * cpus / n;
	return slice < floor ? floor : slice;
}

/* @cv kept within MAX_CG_LAG_SLICES cgroup slices of cvtime_now, both ways. */
static u64 clamp_cvtime(u64 cv)
{
	u64 now = READ_ONCE(cvtime_now), lag = MAX_CG_LAG_SLICES * cgrp_slice_ns;

	if (vtime_before(cv, now - lag))
		return now - lag;
	if (vtime_before(now + lag, cv))
		return now + lag;
	return cv;
}

static struct fcg_cpu_ctx *this_cpu_ctx(void)
{
	u32 idx = 0;

	return bpf_map_lookup_elem(&cpu_ctx, &idx);
}

static bool cgv_node_less(struct bpf_rb_node *a, const struct bpf_rb_node *b)
{
	struct cgv_node *na = container_of(a, struct cgv_node, rb_node);
	struct cgv_node *nb = container_of(b, struct cgv_node, rb_node);

	return vtime_before(na->cvtime, nb->cvtime);
}

/*
 * The cgroup's own tasks (@self) or the cgroup itself became active or idle:
 * update the counts and weight sums from @cgrp upwards, as far as the change
 * goes. Each level is one step under hier_lock that changes a node's active
 * count and its parent's weight sum together; two CPUs can interleave their
 * steps, but the counts and sums come out right once both are done, since
 * every transition through zero is seen by exactly one step.
 */
static void update_active(struct cgroup *cgrp, struct fcg_cgrp_ctx *cgc, bool act)
{
	struct fcg_cgrp_ctx *child = cgc, *parent;
	struct cgroup *anc;
	s32 level = cgrp->level, i;
	bool up;

	bpf_spin_lock(&hier_lock);
	if (act) {
		cgc->child_weight_sum += SELF_WEIGHT;
		up = cgc->nr_active++ == 0;
	} else {
		cgc->child_weight_sum -= SELF_WEIGHT;
		up = --cgc->nr_active == 0;
		cgc->slept = 1;
	}
	bpf_spin_unlock(&hier_lock);
	stat_inc(act ? &stats.act : &stats.deact);

	if (level > MAX_LEVELS)
		level = MAX_LEVELS;
	bpf_for(i, 0, level) {
		if (!up)
			break;
		anc = bpf_cgroup_ancestor(cgrp, level - 1 - i);
		if (!anc)
			break;
		parent = cgrp_ctx_of(anc);
		bpf_cgroup_release(anc);
		if (!parent)
			break;

		bpf_spin_lock(&hier_lock);
		if (act) {
			parent->child_weight_sum += child->weight;
			child->in_parent++;
			up = parent->nr_active++ == 0;
		} else {
			parent->child_weight_sum -= child->weight;
			child->in_parent--;
			up = --parent->nr_active == 0;
		}
		bpf_spin_unlock(&hier_lock);
		stat_inc(act ? &stats.act : &stats.deact);
		child = parent;
	}

	__sync_fetch_and_add(&hweight_gen, 1);
}

/*
 * The share of the machine @cgrp's own tasks are entitled to, from the cache
 * or walked down from the root. Sums are read without the lock: a racing
 * update only makes one computation approximate, and it bumps the generation,
 * so the next one is exact again.
 */
static u32 cgrp_hweight(struct cgroup *cgrp, struct fcg_cgrp_ctx *cgc)
{
	u64 gen = READ_ONCE(hweight_gen), hw = HWEIGHT_ONE;
	struct fcg_cgrp_ctx *c;
	struct cgroup *anc;
	s64 sum = 0, w;
	s32 level = cgrp->level, i;

	if (cgc->hweight_gen == gen && cgc->hweight) {
		stat_inc(&stats.hwt_cache);
		return cgc->hweight;
	}
	stat_inc(&stats.hwt_update);

	if (level > MAX_LEVELS)
		level = MAX_LEVELS;
	bpf_for(i, 0, level + 1) {
		anc = bpf_cgroup_ancestor(cgrp, i);
		if (!anc)
			break;
		c = cgrp_ctx_of(anc);
		bpf_cgroup_release(anc);
		if (!c)
			break;
		if (i > 0) {
			w = READ_ONCE(c->weight);
			hw = hw * w / (sum > w ? sum : w);
		}
		sum = READ_ONCE(c->child_weight_sum);
	}
	/* Our own tasks' part among our active children. */
	hw = hw * SELF_WEIGHT / (sum > SELF_WEIGHT ? sum : SELF_WEIGHT);
	if (!hw)
		hw = 1;

	cgc->hweight = hw;
	cgc->hweight_gen = gen;
	return hw;
}

/* Puts @node back into the stash of @cgid; frees it if the cgroup is gone. */
static __always_inline void stash_node(u64 cgid, struct cgv_node *node)
{
	struct cgv_node_stash *stash;

	stash = bpf_map_lookup_elem(&cgv_node_stash, &cgid);
	if (!stash) {
		bpf_obj_drop(node);
		return;
	}
	node = bpf_kptr_xchg(&stash->node, node);
	if (node)
		bpf_obj_drop(node);
}

/*
 * @cgc has queued tasks: make sure its node is in the tree. queued == 0
 * means the node is in the stash (a picker stashes before it clears queued).
 */
static void cgrp_make_queued(struct fcg_cgrp_ctx *cgc, u64 cgid)
{
	struct cgv_node_stash *stash;
	struct cgv_node *node;
	u64 cv, floor;

	if (READ_ONCE(cgc->queued) ||
	    __sync_val_compare_and_swap(&cgc->queued, 0, 1) != 0) {
		stat_inc(&stats.enq_skip);
		return;
	}

	stash = bpf_map_lookup_elem(&cgv_node_stash, &cgid);
	if (!stash) {
		/* Being removed; cgroup_exit() deleted the stash entry. */
		stat_inc(&stats.enq_race);
		return;
	}
	node = bpf_kptr_xchg(&stash->node, NULL);
	if (!node) {
		stat_inc(&stats.enq_race);
		WRITE_ONCE(cgc->queued, 0);
		return;
	}

	/*
	 * Apply what was charged meanwhile. A cgroup that slept must not bank
	 * time: forgive any credit beyond one slice. One that only had all its
	 * tasks running (its DSQ empty at a pick) keeps its credit, or it would
	 * lose it at every pick that finds it empty and fall below its share.
	 */
	cv = node->cvtime + __sync_lock_test_and_set(&cgc->cvtime_delta, 0);
	floor = READ_ONCE(cvtime_now) - cgrp_slice_ns;
	if (__sync_lock_test_and_set(&cgc->slept, 0) && vtime_before(cv, floor))
		cv = floor;
	node->cvtime = clamp_cvtime(cv);

	bpf_spin_lock(&cgv_tree_lock);
	bpf_rbtree_add(&cgv_tree, &node->rb_node, cgv_node_less);
	bpf_spin_unlock(&cgv_tree_lock);
}

static int rescue_cb(struct bpf_map *map, u64 *key, struct cgv_node_stash *stash, void *data)
{
	u32 n = nr_rescue;

	if (n >= RESCUE_MAX)
		return 1;
	if (stash->node && scx_bpf_dsq_nr_queued(*key) > 0) {
		rescue_ids[n & (RESCUE_MAX - 1)] = *key;
		nr_rescue = n + 1;
	}
	return 0;
}

/* See "Races handled on purpose" at the top. */
static void maybe_rescue(u64 now)
{
	u64 last = READ_ONCE(last_rescue_at);
	struct fcg_cgrp_ctx *cgc;
	struct cgroup *cgrp;
	u32 i, n;

	if (now - last < RESCUE_NS ||
	    __sync_val_compare_and_swap(&last_rescue_at, last, now) != last)
		return;

	nr_rescue = 0;
	bpf_for_each_map_elem(&cgv_node_stash, rescue_cb, NULL, 0);
	n = nr_rescue;
	bpf_for(i, 0, RESCUE_MAX) {
		if (i >= n)
			break;
		cgrp = bpf_cgroup_from_id(rescue_ids[i & (RESCUE_MAX - 1)]);
		if (!cgrp)
			continue;
		cgc = cgrp_ctx_of(cgrp);
		if (cgc && !cgc->dead && !READ_ONCE(cgc->queued)) {
			stat_inc(&stats.rescue);
			cgrp_make_queued(cgc, cgrp->kn->id);
		}
		bpf_cgroup_release(cgrp);
	}
}

s32 BPF_STRUCT_OPS(fcg_select_cpu, struct task_struct *p, s32 prev_cpu, u64 wake_flags)
{
	bool is_idle = false;
	s32 cpu;

	cpu = scx_bpf_select_cpu_dfl(p, prev_cpu, wake_flags, &is_idle);
	if (is_idle) {
		stat_inc(&stats.local);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL, task_slice(), 0);
	}
	return cpu;
}

void BPF_STRUCT_OPS(fcg_enqueue, struct task_struct *p, u64 enq_flags)
{
	struct fcg_cgrp_ctx *cgc;
	struct cgroup *cgrp;
	u64 cgid, vtime, floor, now, slice = task_slice();

	/*
	 * A per-CPU kernel thread goes to the head of its CPU's local queue,
	 * named explicitly: the CPU it was enqueued on may be one it may no
	 * longer use (an affinity change), and a task inserted there would be
	 * re-enqueued again and again.
	 */
	if ((p->flags & PF_KTHREAD) && p->nr_cpus_allowed == 1) {
		stat_inc(&stats.local);
		scx_bpf_dsq_insert(p, SCX_DSQ_LOCAL_ON | bpf_cpumask_first(p->cpus_ptr),
				   slice, enq_flags | SCX_ENQ_HEAD);
		return;
	}
	/* Pushed off a CPU (preempted, re-enqueued): not behind everyone. */
	if (enq_flags & (SCX_ENQ_PREEMPT | SCX_ENQ_REENQ))
		enq_flags |= SCX_ENQ_HEAD;
	if (p->nr_cpus_allowed < scx_bpf_nr_cpu_ids()) {
		stat_inc(&stats.global);
		scx_bpf_dsq_insert(p, FALLBACK_DSQ, slice, enq_flags);
		return;
	}

	cgrp = scx_bpf_task_cgroup(p);
	cgc = cgrp_ctx_of(cgrp);
	if (!cgc || cgc->dead) {
		stat_inc(&stats.global);
		scx_bpf_dsq_insert(p, FALLBACK_DSQ, slice, enq_flags);
		goto out;
	}
	cgid = cgrp->kn->id;

	if (fifo_sched) {
		scx_bpf_dsq_insert(p, cgid, slice, enq_flags & ~SCX_ENQ_HEAD);
	} else {
		/*
		 * As in scx_simple: bank at most one slice while sleeping. And
		 * owe at most MAX_LAG_SLICES, so that a low-weight task's wait
		 * stays bounded (see the trade-offs at the top).
		 */
		vtime = p->scx.dsq_vtime;
		now = READ_ONCE(cgc->tvtime_now);
		floor = now - slice;
		if (vtime_before(vtime, floor))
			vtime = floor;
		if (vtime_before(now + MAX_LAG_SLICES * slice, vtime))
			vtime = now + MAX_LAG_SLICES * slice;
		/* Ordered by vtime: no HEAD, a preempted task keeps its place anyway. */
		scx_bpf_dsq_insert_vtime(p, cgid, slice, vtime, enq_flags & ~SCX_ENQ_HEAD);
	}
	cgrp_make_queued(cgc, cgid);
out:
	bpf_cgroup_release(cgrp);
}

/* nr_runnable of the cgroup with id @cgid (or @cgrp) goes up or down by one. */
static void count_runnable(struct cgroup *cgrp, bool up)
{
	struct fcg_cgrp_ctx *cgc = cgrp_ctx_of(cgrp);

	if (!cgc)
		return;
	if (up) {
		__sync_fetch_and_add(&nr_runnable_all, 1);
		if (__sync_fetch_and_add(&cgc->nr_runnable, 1) == 0)
			update_active(cgrp, cgc, true);
	} else {
		__sync_fetch_and_sub(&nr_runnable_all, 1);
		if (__sync_sub_and_fetch(&cgc->nr_runnable, 1) == 0)
			update_active(cgrp, cgc, false);
	}
}

static void uncount_task(struct fcg_task_ctx *taskc, struct cgroup *cur)
{
	struct cgroup *cgrp;
	u64 cgid = taskc->counted_cgid;

	taskc->counted_cgid = 0;
	if (cur && cur->kn->id == cgid) {
		count_runnable(cur, false);
		return;
	}
	/* Counted in a cgroup the task has left since. */
	cgrp = bpf_cgroup_from_id(cgid);
	if (cgrp) {
		count_runnable(cgrp, false);
		bpf_cgroup_release(cgrp);
	}
}

void BPF_STRUCT_OPS(fcg_runnable, struct task_struct *p, u64 enq_flags)
{
	struct fcg_task_ctx *taskc;
	struct cgroup *cgrp;

	taskc = bpf_task_storage_get(&task_ctx, p, 0, 0);
	if (!taskc || taskc->counted_cgid)
		return;
	cgrp = scx_bpf_task_cgroup(p);
	count_runnable(cgrp, true);
	taskc->counted_cgid = cgrp->kn->id;
	bpf_cgroup_release(cgrp);
}

void BPF_STRUCT_OPS(fcg_quiescent, struct task_struct *p, u64 deq_flags)
{
	struct fcg_task_ctx *taskc;
	struct cgroup *cgrp;

	taskc = bpf_task_storage_get(&task_ctx, p, 0, 0);
	if (!taskc || !taskc->counted_cgid)
		return;
	cgrp = scx_bpf_task_cgroup(p);
	uncount_task(taskc, cgrp);
	bpf_cgroup_release(cgrp);
}

void BPF_STRUCT_OPS(fcg_running, struct task_struct *p)
{
	struct fcg_task_ctx *taskc;
	struct fcg_cgrp_ctx *cgc;
	struct cgroup *cgrp;

	taskc = bpf_task_storage_get(&task_ctx, p, 0, 0);
	if (taskc)
		taskc->exec_at_run = p->se.sum_exec_runtime;

	if (fifo_sched)
		return;
	cgrp = scx_bpf_task_cgroup(p);
	cgc = cgrp_ctx_of(cgrp);
	if (cgc && vtime_before(cgc->tvtime_now, p->scx.dsq_vtime))
		WRITE_ONCE(cgc->tvtime_now, p->scx.dsq_vtime);
	bpf_cgroup_release(cgrp);
}

void BPF_STRUCT_OPS(fcg_stopping, struct task_struct *p, bool runnable)
{
	struct fcg_task_ctx *taskc;
	struct fcg_cgrp_ctx *cgc;
	struct cgroup *cgrp;
	u64 used;

	taskc = bpf_task_storage_get(&task_ctx, p, 0, 0);
	if (!taskc)
		return;
	used = p->se.sum_exec_runtime - taskc->exec_at_run;
	taskc->exec_at_run = p->se.sum_exec_runtime;

	if (!fifo_sched)
		scx_bpf_task_set_dsq_vtime(p, p->scx.dsq_vtime + used * 100 / p->scx.weight);

	/* The real usage, in this cgroup's cvtime. */
	cgrp = scx_bpf_task_cgroup(p);
	cgc = cgrp_ctx_of(cgrp);
	if (cgc)
		__sync_fetch_and_add(&cgc->cvtime_delta,
				     (s64)(used * HWEIGHT_ONE / cgrp_hweight(cgrp, cgc)));
	bpf_cgroup_release(cgrp);
}

/* The CPU stops serving its cgroup: refund what the pick charged ahead. */
static void leave_cgroup(struct fcg_cpu_ctx *cpuc)
{
	struct fcg_cgrp_ctx *cgc;
	struct cgroup *cgrp;

	cgrp = bpf_cgroup_from_id(cpuc->cur_cgid);
	cpuc->cur_cgid = 0;
	if (!cgrp)
		return;
	cgc = cgrp_ctx_of(cgrp);
	if (cgc)
		__sync_fetch_and_add(&cgc->cvtime_delta, -(s64)cpuc->precharge);
	bpf_cgroup_release(cgrp);
}

/* Whether the CPU's current cgroup still exists (cheap unless one was removed). */
static bool cur_cgroup_alive(struct fcg_cpu_ctx *cpuc)
{
	u64 seq = READ_ONCE(dead_seq);
	struct fcg_cgrp_ctx *cgc;
	struct cgroup *cgrp;
	bool alive = false;

	if (cpuc->dead_seq == seq)
		return true;
	cgrp = bpf_cgroup_from_id(cpuc->cur_cgid);
	if (!cgrp)
		return false;
	cgc = cgrp_ctx_of(cgrp);
	if (cgc && !cgc->dead) {
		alive = true;
		cpuc->dead_seq = seq;
	}
	bpf_cgroup_release(cgrp);
	return alive;
}

/*
 * Takes the cgroup with the lowest cvtime and moves one of its tasks here.
 * Returns false when the caller should try again with the next cgroup.
 */
static bool try_pick_next_cgroup(struct fcg_cpu_ctx *cpuc, u64 now)
{
	struct fcg_cgrp_ctx *cgc;
	struct bpf_rb_node *rb;
	struct cgv_node *node;
	struct cgroup *cgrp;
	u64 cgid, pre;

	bpf_spin_lock(&cgv_tree_lock);
	rb = bpf_rbtree_first(&cgv_tree);
	if (!rb) {
		bpf_spin_unlock(&cgv_tree_lock);
		stat_inc(&stats.pnc_empty);
		return true;
	}
	rb = bpf_rbtree_remove(&cgv_tree, rb);
	bpf_spin_unlock(&cgv_tree_lock);
	if (!rb) {
		stat_inc(&stats.pnc_race);
		return false;
	}

	node = container_of(rb, struct cgv_node, rb_node);
	cgid = node->cgid;
	if (vtime_before(READ_ONCE(cvtime_now), node->cvtime))
		WRITE_ONCE(cvtime_now, node->cvtime);

	cgrp = bpf_cgroup_from_id(cgid);
	if (!cgrp) {
		stat_inc(&stats.pnc_gone);
		bpf_obj_drop(node);
		return false;
	}
	cgc = cgrp_ctx_of(cgrp);
	if (!cgc || cgc->dead) {
		stat_inc(&stats.pnc_gone);
		bpf_obj_drop(node);
		bpf_cgroup_release(cgrp);
		return false;
	}

	if (!scx_bpf_dsq_move_to_local(cgid)) {
		/*
		 * Nothing queued: stash first, then clear queued, then look
		 * again, so an enqueue that saw queued set is not lost.
		 */
		stat_inc(&stats.pnc_idle);
		stash_node(cgid, node);
		__sync_lock_test_and_set(&cgc->queued, 0);
		if (scx_bpf_dsq_nr_queued(cgid) > 0)
			cgrp_make_queued(cgc, cgid);
		bpf_cgroup_release(cgrp);
		return false;
	}

	/* Charge a whole slice now, refunded in leave_cgroup(). */
	pre = cgrp_slice_ns * HWEIGHT_ONE / cgrp_hweight(cgrp, cgc);
	node->cvtime = clamp_cvtime(node->cvtime + pre +
				    __sync_lock_test_and_set(&cgc->cvtime_delta, 0));
	bpf_cgroup_release(cgrp);

	bpf_spin_lock(&cgv_tree_lock);
	bpf_rbtree_add(&cgv_tree, &node->rb_node, cgv_node_less);
	bpf_spin_unlock(&cgv_tree_lock);

	cpuc->cur_cgid = cgid;
	cpuc->cur_at = now;
	cpuc->precharge = pre;
	cpuc->dead_seq = READ_ONCE(dead_seq);
	stat_inc(&stats.pnc_next);
	return true;
}

/* One task from a cgroup to this CPU; false if there was none. */
static bool dispatch_cgroups(struct fcg_cpu_ctx *cpuc, u64 now)
{
	u32 i;

	if (cpuc->cur_cgid) {
		if (!cur_cgroup_alive(cpuc)) {
			stat_inc(&stats.cns_gone);
			cpuc->cur_cgid = 0;
		} else if (time_before(now, cpuc->cur_at + cgrp_slice_ns)) {
			if (scx_bpf_dsq_move_to_local(cpuc->cur_cgid)) {
				stat_inc(&stats.cns_keep);
				return true;
			}
			stat_inc(&stats.cns_empty);
			leave_cgroup(cpuc);
		} else {
			stat_inc(&stats.cns_expire);
			leave_cgroup(cpuc);
		}
	}

	bpf_for(i, 0, PICK_RETRIES) {
		if (try_pick_next_cgroup(cpuc, now))
			break;
	}
	/* Only a successful pick leaves a current cgroup behind. */
	return cpuc->cur_cgid != 0;
}


void BPF_STRUCT_OPS(fcg_dispatch, s32 cpu, struct task_struct *prev)
{
	struct fcg_cpu_ctx *cpuc = this_cpu_ctx();
	u64 now = scx_bpf_now();
	bool fallback_turn;

	if (!cpuc)
		return;
	maybe_rescue(now);

	/*
	 * FALLBACK_DSQ and the cgroups take turns on each CPU, so that neither
	 * can starve the other: see the starvation bound.
	 */
	fallback_turn = !took_fallback[cpu & (MAX_CPUS - 1)];
	if (fallback_turn && scx_bpf_dsq_move_to_local(FALLBACK_DSQ)) {
		took_fallback[cpu & (MAX_CPUS - 1)] = 1;
		return;
	}
	took_fallback[cpu & (MAX_CPUS - 1)] = 0;
	if (dispatch_cgroups(cpuc, now))
		return;
	if (!fallback_turn && scx_bpf_dsq_move_to_local(FALLBACK_DSQ))
		took_fallback[cpu & (MAX_CPUS - 1)] = 1;
}

s32 BPF_STRUCT_OPS_SLEEPABLE(fcg_init_task, struct task_struct *p, struct scx_init_task_args *args)
{
	if (!bpf_task_storage_get(&task_ctx, p, 0, BPF_LOCAL_STORAGE_GET_F_CREATE))
		return -ENOMEM;
	return 0;
}

/* Destroys the DSQs of cgroups removed more than GRAVE_NS ago. */
static void reap_graves(u64 now)
{
	struct fcg_grave g;
	u32 i;

	bpf_for(i, 0, 64) {
		if (bpf_map_peek_elem(&graves, &g) || now - g.at < GRAVE_NS)
			break;
		if (bpf_map_pop_elem(&graves, &g))
			break;
		scx_bpf_destroy_dsq(g.cgid);
	}
}

s32 BPF_STRUCT_OPS_SLEEPABLE(fcg_cgroup_init, struct cgroup *cgrp, struct scx_cgroup_init_args *args)
{
	struct cgv_node_stash empty = {}, *stash;
	struct fcg_cgrp_ctx *cgc;
	struct cgv_node *node;
	u64 cgid = cgrp->kn->id;
	s32 ret;

	reap_graves(scx_bpf_now());

	cgc = bpf_cgrp_storage_get(&cgrp_ctx, cgrp, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
	if (!cgc)
		return -ENOMEM;
	cgc->weight = args->weight;
	cgc->hweight = HWEIGHT_ONE;
	cgc->slept = 1;		/* its node's cvtime is from now: clamp it */

	ret = scx_bpf_create_dsq(cgid, -1);
	if (ret)
		return ret;

	ret = bpf_map_update_elem(&cgv_node_stash, &cgid, &empty, BPF_NOEXIST);
	if (ret) {
		scx_bpf_destroy_dsq(cgid);
		return ret;
	}
	stash = bpf_map_lookup_elem(&cgv_node_stash, &cgid);
	node = bpf_obj_new(struct cgv_node);
	if (!stash || !node) {
		if (node)
			bpf_obj_drop(node);
		bpf_map_delete_elem(&cgv_node_stash, &cgid);
		scx_bpf_destroy_dsq(cgid);
		return -ENOMEM;
	}
	node->cgid = cgid;
	node->cvtime = READ_ONCE(cvtime_now);
	node = bpf_kptr_xchg(&stash->node, node);
	if (node)
		bpf_obj_drop(node);
	return 0;
}

void BPF_STRUCT_OPS(fcg_cgroup_exit, struct cgroup *cgrp)
{
	struct fcg_grave g = { .cgid = cgrp->kn->id, .at = scx_bpf_now() };
	struct fcg_cgrp_ctx *cgc = cgrp_ctx_of(cgrp);

	if (cgc)
		WRITE_ONCE(cgc->dead, 1);
	__sync_fetch_and_add(&dead_seq, 1);
	/* Frees the node if stashed; a picker holding it drops it. */
	bpf_map_delete_elem(&cgv_node_stash, &g.cgid);
	if (bpf_map_push_elem(&graves, &g, 0))
		scx_bpf_destroy_dsq(g.cgid);	/* no room: the race is rarer than the leak */
	reap_graves(g.at);
}

void BPF_STRUCT_OPS(fcg_cgroup_move, struct task_struct *p, struct cgroup *from, struct cgroup *to)
{
	struct fcg_task_ctx *taskc;

	/*
	 * The kernel moves a runnable task between ops.quiescent() and
	 * ops.runnable(), so it is normally not counted here; if it is, move
	 * the count along.
	 */
	taskc = bpf_task_storage_get(&task_ctx, p, 0, 0);
	if (!taskc || !taskc->counted_cgid)
		return;
	uncount_task(taskc, from);
	count_runnable(to, true);
	taskc->counted_cgid = to->kn->id;
}

void BPF_STRUCT_OPS(fcg_cgroup_set_weight, struct cgroup *cgrp, u32 weight)
{
	struct fcg_cgrp_ctx *cgc, *parent = NULL;
	struct cgroup *anc;

	cgc = cgrp_ctx_of(cgrp);
	if (!cgc)
		return;
	if (cgrp->level > 0) {
		anc = bpf_cgroup_ancestor(cgrp, cgrp->level - 1);
		if (anc) {
			parent = cgrp_ctx_of(anc);
			bpf_cgroup_release(anc);
		}
	}

	bpf_spin_lock(&hier_lock);
	if (parent)
		parent->child_weight_sum += (s64)cgc->in_parent * ((s64)weight - (s64)cgc->weight);
	cgc->weight = weight;
	bpf_spin_unlock(&hier_lock);

	__sync_fetch_and_add(&hweight_gen, 1);
}

s32 BPF_STRUCT_OPS_SLEEPABLE(fcg_init)
{
	return scx_bpf_create_dsq(FALLBACK_DSQ, -1);
}

void BPF_STRUCT_OPS(fcg_exit, struct scx_exit_info *ei)
{
	UEI_RECORD(uei, ei);
}

SCX_OPS_DEFINE(flatcg_ops,
	       .select_cpu		= (void *)fcg_select_cpu,
	       .enqueue			= (void *)fcg_enqueue,
	       .dispatch		= (void *)fcg_dispatch,
	       .runnable		= (void *)fcg_runnable,
	       .running			= (void *)fcg_running,
	       .stopping		= (void *)fcg_stopping,
	       .quiescent		= (void *)fcg_quiescent,
	       .init_task		= (void *)fcg_init_task,
	       .cgroup_set_weight	= (void *)fcg_cgroup_set_weight,
	       .cgroup_init		= (void *)fcg_cgroup_init,
	       .cgroup_exit		= (void *)fcg_cgroup_exit,
	       .cgroup_move		= (void *)fcg_cgroup_move,
	       .init			= (void *)fcg_init,
	       .exit			= (void *)fcg_exit,
	       .flags			= SCX_OPS_ENQ_EXITING,
	       .name			= "flatcg");
