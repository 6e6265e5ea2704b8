/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Load-time compatibility for kernels 6.16 to 7.3.
 *
 * We compile against the 7.3 vmlinux.h and settle every difference when the
 * object is loaded, in two ways:
 *
 * 1. Kfuncs. Schedulers call the newest names with their natural spelling
 *    (scx_bpf_dsq_insert(), scx_bpf_now(), ...). Here those names are static
 *    inline wrappers over the "___compat" externs that common.bpf.h declares
 *    __weak. Each wrapper tests one ksym per if-statement with
 *    bpf_ksym_exists() and falls back in order from the newest form to the
 *    oldest. libbpf turns a missing ksym into zero, so the verifier sees a
 *    constant condition and never walks the branches that do not apply: a
 *    fallback is dead code on any kernel that has the newer kfunc. Never
 *    combine two ksym tests with || or &&: clang may evaluate that as one
 *    arithmetic expression over both addresses, which the verifier rejects.
 *
 * 2. Enum values that differ between kernels. The affected constants are
 *    redefined here under their own names as CO-RE relocations, so
 *    "enq_flags & SCX_ENQ_HEAD" reads the running kernel's value. The price:
 *    these names are no longer compile-time constants (no case labels, no
 *    static initialisers). A value the running kernel lacks reads as zero,
 *    except task states, which read as SCX_TASK_STATE_ABSENT so that a
 *    comparison with a state the kernel does not have is always false.
 *
 * Wrappers never reach a kfunc that the running kernel would reject in the
 * calling context, with one documented exception: scx_bpf_reenqueue_local()
 * on 6.16 to 6.18, where the only form is legal in ops.cpu_release() alone.
 */
#ifndef __SCX_COMPAT_BPF_H
#define __SCX_COMPAT_BPF_H

#include "common.bpf.h"

/*
 * ---------------------------------------------------------------------------
 * Enum values resolved at load time.
 * ---------------------------------------------------------------------------
 */

/* The running kernel's value of enumerator NAME of enum type, or 0 if absent. */
#define __COMPAT_ENUM_OR_ZERO(type, name)					\
	(bpf_core_enum_value_exists(type, name) ?				\
	 bpf_core_enum_value(type, name) : 0)

/*
 * Enqueue flags. HEAD moved from 0x10 to 0x10000 and CPU_SELECTED from 0x400
 * to 0x100000 when the core ENQUEUE_* flags were renumbered (6.19/7.0).
 * IMMED (7.1) and RESCUE (7.3) read as zero on older kernels, where passing
 * them would be rejected as unknown bits anyway.
 */
#undef SCX_ENQ_HEAD
#define SCX_ENQ_HEAD __COMPAT_ENUM_OR_ZERO(enum scx_enq_flags, SCX_ENQ_HEAD)
#undef SCX_ENQ_CPU_SELECTED
#define SCX_ENQ_CPU_SELECTED __COMPAT_ENUM_OR_ZERO(enum scx_enq_flags, SCX_ENQ_CPU_SELECTED)
#undef SCX_ENQ_IMMED
#define SCX_ENQ_IMMED __COMPAT_ENUM_OR_ZERO(enum scx_enq_flags, SCX_ENQ_IMMED)
#undef SCX_ENQ_RESCUE
#define SCX_ENQ_RESCUE __COMPAT_ENUM_OR_ZERO(enum scx_enq_flags, SCX_ENQ_RESCUE)

/* Dequeue reason for a property change (custody semantics, 6.19-7.1). */
#undef SCX_DEQ_SCHED_CHANGE
#define SCX_DEQ_SCHED_CHANGE __COMPAT_ENUM_OR_ZERO(enum scx_deq_flags, SCX_DEQ_SCHED_CHANGE)

/*
 * scx_exit_info.flags: INITIALIZED is 0 on 6.18 and absent (like the flags
 * field) on 6.16/6.17. Use scx_exit_initialized() rather than the raw flag.
 */
#undef SCX_EFLAG_INITIALIZED
#define SCX_EFLAG_INITIALIZED __COMPAT_ENUM_OR_ZERO(enum scx_exit_flags, SCX_EFLAG_INITIALIZED)

/*
 * Task states, as stored in p->scx.flags & SCX_TASK_STATE_MASK.
 *
 * Up to 7.0 they were "enum scx_task_state" {NONE, INIT, READY, ENABLED}
 * shifted left by SCX_TASK_STATE_SHIFT (8) when stored. 7.1 inserted
 * INIT_BEGIN and moved them into enum scx_ent_flags already shifted, and the
 * state field grew from 2 to 3 bits. The local enum below matches the old
 * kernel enum by name (libbpf ignores the "___compat" suffixes), which is
 * how we read the old values without clashing with vmlinux.h.
 */
enum scx_task_state___compat {
	SCX_TASK_NONE___compat,
	SCX_TASK_INIT___compat,
	SCX_TASK_READY___compat,
	SCX_TASK_ENABLED___compat,
};

/* A state the running kernel does not have: never equal to a real one. */
#define SCX_TASK_STATE_ABSENT 0xffffffffU

#define __COMPAT_TASK_STATE(name)						\
	(bpf_core_enum_value_exists(enum scx_ent_flags, name) ?			\
	 (u32)bpf_core_enum_value(enum scx_ent_flags, name) :			\
	 bpf_core_enum_value_exists(enum scx_task_state___compat, name##___compat) ? \
	 (u32)bpf_core_enum_value(enum scx_task_state___compat, name##___compat) << 8 : \
	 SCX_TASK_STATE_ABSENT)

#undef SCX_TASK_STATE_BITS
#define SCX_TASK_STATE_BITS __COMPAT_ENUM_OR_ZERO(enum scx_ent_flags, SCX_TASK_STATE_BITS)
#undef SCX_TASK_STATE_MASK
#define SCX_TASK_STATE_MASK __COMPAT_ENUM_OR_ZERO(enum scx_ent_flags, SCX_TASK_STATE_MASK)
#undef SCX_TASK_INIT
#define SCX_TASK_INIT __COMPAT_TASK_STATE(SCX_TASK_INIT)
#undef SCX_TASK_READY
#define SCX_TASK_READY __COMPAT_TASK_STATE(SCX_TASK_READY)
#undef SCX_TASK_ENABLED
#define SCX_TASK_ENABLED __COMPAT_TASK_STATE(SCX_TASK_ENABLED)
/* 7.1+ only: SCX_TASK_STATE_ABSENT before. */
#undef SCX_TASK_INIT_BEGIN
#define SCX_TASK_INIT_BEGIN								\
	(bpf_core_enum_value_exists(enum scx_ent_flags, SCX_TASK_INIT_BEGIN) ?		\
	 (u32)bpf_core_enum_value(enum scx_ent_flags, SCX_TASK_INIT_BEGIN) :		\
	 SCX_TASK_STATE_ABSENT)
#undef SCX_TASK_DEAD
#define SCX_TASK_DEAD									\
	(bpf_core_enum_value_exists(enum scx_ent_flags, SCX_TASK_DEAD) ?		\
	 (u32)bpf_core_enum_value(enum scx_ent_flags, SCX_TASK_DEAD) :			\
	 SCX_TASK_STATE_ABSENT)

/* Re-enqueue reasons (7.1+; the field grew from 2 to 3 bits in 7.3). */
#undef SCX_TASK_REENQ_REASON_BITS
#define SCX_TASK_REENQ_REASON_BITS __COMPAT_ENUM_OR_ZERO(enum scx_ent_flags, SCX_TASK_REENQ_REASON_BITS)
#undef SCX_TASK_REENQ_REASON_MASK
#define SCX_TASK_REENQ_REASON_MASK __COMPAT_ENUM_OR_ZERO(enum scx_ent_flags, SCX_TASK_REENQ_REASON_MASK)

/* The task's state, comparable with SCX_TASK_INIT, _READY, _ENABLED... */
static __always_inline u32 scx_task_state(const struct task_struct *p)
{
	return p->scx.flags & SCX_TASK_STATE_MASK;
}

/* Whether ops.init() succeeded, when the kernel says so (6.18+; 7.1+ reliably). */
static __always_inline bool scx_exit_initialized(const struct scx_exit_info *ei)
{
	if (!bpf_core_field_exists(ei->flags))
		return false;
	return ei->flags & SCX_EFLAG_INITIALIZED;
}

/*
 * ---------------------------------------------------------------------------
 * Kfunc wrappers, newest form first.
 * ---------------------------------------------------------------------------
 */

/*
 * FIFO insert. Returns false only when the 6.19+ kernel refused the insert
 * (on the root scheduler that also aborts it); older kernels report nothing.
 */
static __always_inline bool
scx_bpf_dsq_insert(struct task_struct *p, u64 dsq_id, u64 slice, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_insert___v2___compat))
		return scx_bpf_dsq_insert___v2___compat(p, dsq_id, slice, enq_flags);
	scx_bpf_dsq_insert___compat(p, dsq_id, slice, enq_flags);
	return true;
}

/*
 * Vtime-ordered insert. 6.19 packed the arguments into a struct to stay
 * under the five-argument limit of kfuncs; the 5-argument form remains only
 * for compatibility and is scheduled for removal.
 */
static __always_inline bool
scx_bpf_dsq_insert_vtime(struct task_struct *p, u64 dsq_id, u64 slice, u64 vtime, u64 enq_flags)
{
	if (bpf_ksym_exists(__scx_bpf_dsq_insert_vtime___compat)) {
		struct scx_bpf_dsq_insert_vtime_args args = {
			.dsq_id = dsq_id,
			.slice = slice,
			.vtime = vtime,
			.enq_flags = enq_flags,
		};

		return __scx_bpf_dsq_insert_vtime___compat(p, &args);
	}
	scx_bpf_dsq_insert_vtime___compat(p, dsq_id, slice, vtime, enq_flags);
	return true;
}

/*
 * Move the first task of dsq_id to the local DSQ. enq_flags (e.g.
 * SCX_ENQ_IMMED) need 7.1; before that they are dropped, which is harmless
 * because no flag worth passing existed. Callable with one or two arguments:
 * scx_bpf_dsq_move_to_local(dsq) or scx_bpf_dsq_move_to_local(dsq, flags).
 */
static __always_inline bool __scx_compat_dsq_move_to_local(u64 dsq_id, u64 enq_flags)
{
	if (bpf_ksym_exists(scx_bpf_dsq_move_to_local___v2___compat))
		return scx_bpf_dsq_move_to_local___v2___compat(dsq_id, enq_flags);
	return scx_bpf_dsq_move_to_local___compat(dsq_id);
}

#define ___scx_move_to_local1(dsq_id) __scx_compat_dsq_move_to_local(dsq_id, 0)
#define ___scx_move_to_local2(dsq_id, enq_flags) __scx_compat_dsq_move_to_local(dsq_id, enq_flags)
#define scx_bpf_dsq_move_to_local(args...)					\
	___bpf_apply(___scx_move_to_local, ___bpf_narg(args))(args)

/*
 * Whether scx_bpf_select_cpu_and() reaches a kernel kfunc in one form or the
 * other (6.16+). The first answer is pinned in a register by barrier_var()
 * so that clang cannot merge the two ksym tests into one expression over
 * both addresses, which the verifier would reject.
 */
static __always_inline bool __scx_compat_has_select_cpu_and(void)
{
	bool has = bpf_ksym_exists(__scx_bpf_select_cpu_and___compat);

	barrier_var(has);
	if (has)
		return true;
	return bpf_ksym_exists(scx_bpf_select_cpu_and___compat);
}

#define __COMPAT_HAS_scx_bpf_select_cpu_and __scx_compat_has_select_cpu_and()

/*
 * The built-in idle CPU selection restricted to cpus_allowed; returns a CPU
 * it claimed as idle, or a negative value. 6.19 added the struct-argument
 * form; both exist from then on, and the 5-argument one is the one due for
 * removal, so the struct form is preferred whenever the kernel has its type.
 * The final fallback only matters below 6.16 and claims prev_cpu or any idle
 * CPU in the mask, without the built-in topology awareness.
 */
static __always_inline s32
scx_bpf_select_cpu_and(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
		       const struct cpumask *cpus_allowed, u64 flags)
{
	if (bpf_core_type_exists(struct scx_bpf_select_cpu_and_args)) {
		if (bpf_ksym_exists(__scx_bpf_select_cpu_and___compat)) {
			struct scx_bpf_select_cpu_and_args args = {
				.prev_cpu = prev_cpu,
				.wake_flags = wake_flags,
				.flags = flags,
			};

			return __scx_bpf_select_cpu_and___compat(p, cpus_allowed, &args);
		}
	}
	if (bpf_ksym_exists(scx_bpf_select_cpu_and___compat))
		return scx_bpf_select_cpu_and___compat(p, prev_cpu, wake_flags,
						       cpus_allowed, flags);
	if (bpf_cpumask_test_cpu(prev_cpu, cpus_allowed) &&
	    scx_bpf_test_and_clear_cpu_idle(prev_cpu))
		return prev_cpu;
	return scx_bpf_pick_idle_cpu(cpus_allowed, flags);
}

/*
 * Re-enqueue every task on this CPU's local DSQ. 7.1+ uses
 * scx_bpf_dsq_reenq(SCX_DSQ_LOCAL, 0) (flags 0 means "any task"), 6.19/7.0
 * the ___v2 kfunc; both are legal in any op. On 6.16 to 6.18 only the first
 * version exists and it is legal ONLY in ops.cpu_release(): called from
 * anywhere else there, the kernel aborts the scheduler with an error. So on
 * those kernels call this from ops.cpu_release() or not at all.
 */
static __always_inline void scx_bpf_reenqueue_local(void)
{
	if (bpf_ksym_exists(scx_bpf_dsq_reenq)) {
		scx_bpf_dsq_reenq(SCX_DSQ_LOCAL, 0);
		return;
	}
	if (bpf_ksym_exists(scx_bpf_reenqueue_local___v2___compat)) {
		scx_bpf_reenqueue_local___v2___compat();
		return;
	}
	scx_bpf_reenqueue_local___compat();
}

/* The rq clock (6.14+), cheaper than bpf_ktime_get_ns() and monotonic. */
static __always_inline u64 scx_bpf_now(void)
{
	if (bpf_ksym_exists(scx_bpf_now___compat))
		return scx_bpf_now___compat();
	return bpf_ktime_get_ns();
}

/*
 * Checked setters (6.19+). Before that, BPF wrote p->scx.slice and
 * p->scx.dsq_vtime directly, which cpu-form schedulers may still do.
 */
static __always_inline bool scx_bpf_task_set_slice(struct task_struct *p, u64 slice)
{
	if (bpf_ksym_exists(scx_bpf_task_set_slice___compat))
		return scx_bpf_task_set_slice___compat(p, slice);
	p->scx.slice = slice;
	return true;
}

static __always_inline bool scx_bpf_task_set_dsq_vtime(struct task_struct *p, u64 vtime)
{
	if (bpf_ksym_exists(scx_bpf_task_set_dsq_vtime___compat))
		return scx_bpf_task_set_dsq_vtime___compat(p, vtime);
	p->scx.dsq_vtime = vtime;
	return true;
}

/*
 * The task at the head of dsq_id, or NULL if empty. The kfunc appeared in
 * 6.19 but could miss the head of a non-empty FIFO until 7.1, so it is used
 * only when a 7.1 kfunc (scx_bpf_dsq_reenq) is present too; otherwise the
 * DSQ iterator is asked for its first task. The pointer is RCU-protected:
 * valid for the rest of the current op, not for storing.
 */
static __always_inline struct task_struct *scx_bpf_dsq_peek(u64 dsq_id)
{
	struct bpf_iter_scx_dsq it;
	struct task_struct *p = NULL;

	if (bpf_ksym_exists(scx_bpf_dsq_reenq)) {
		if (bpf_ksym_exists(scx_bpf_dsq_peek___compat))
			return scx_bpf_dsq_peek___compat(dsq_id);
	}
	if (!bpf_iter_scx_dsq_new(&it, dsq_id, 0))
		p = bpf_iter_scx_dsq_next(&it);
	bpf_iter_scx_dsq_destroy(&it);
	return p;
}

/*
 * The task running on cpu (6.18+, RCU-protected). On 6.16/6.17 it is read
 * from scx_bpf_cpu_rq(cpu)->curr, which gives an untrusted pointer: good for
 * reading fields, not for passing to kfuncs. The cpu_rq kfunc is dead code
 * on 6.18+ and absent on 7.3.
 */
static __always_inline struct task_struct *scx_bpf_cpu_curr(s32 cpu)
{
	struct rq *rq;

	if (bpf_ksym_exists(scx_bpf_cpu_curr___compat))
		return scx_bpf_cpu_curr___compat(cpu);
	if (bpf_ksym_exists(scx_bpf_cpu_rq___compat)) {
		rq = scx_bpf_cpu_rq___compat(cpu);
		if (rq)
			return rq->curr;
	}
	return NULL;
}

/*
 * Copy the SCX_EV_* counters (6.15+). The kernel copies as much as both
 * sides know; without the kfunc every counter reads zero. Read single
 * counters with scx_read_event(), which also yields zero for a counter the
 * running kernel does not have.
 */
static __always_inline void scx_bpf_events(struct scx_event_stats *events, size_t events__sz)
{
	if (bpf_ksym_exists(scx_bpf_events___compat)) {
		scx_bpf_events___compat(events, events__sz);
		return;
	}
	if (events__sz == sizeof(*events))
		__builtin_memset(events, 0, sizeof(*events));
}

#define scx_read_event(e, name)							\
	(bpf_core_field_exists((e)->name) ? (e)->name : 0)

#endif /* __SCX_COMPAT_BPF_H */
