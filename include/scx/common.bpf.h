/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Everything a sched_ext scheduler of this suite needs on the BPF side:
 * kernel types, libbpf's helpers, the sched_ext kfuncs, and the macros that
 * make struct_ops programs, formatted exits and bounded loops short to write.
 *
 * One object has to load on every kernel from 6.16 to 7.3, so every kfunc is
 * declared __weak: libbpf resolves a missing one to zero instead of failing
 * the load, and a call that the verifier can prove unreachable is dropped.
 * A kfunc that is missing on some of those kernels must only be called behind
 * bpf_ksym_exists(); the ones schedulers need most are wrapped for them in
 * compat.bpf.h, which this header includes at its end.
 *
 * Build with: -I include -I include/vmlinux/x86 -D__TARGET_ARCH_x86 and the
 * libbpf headers of the vendored libbpf (libbpf-sys).
 */
#ifndef __SCX_COMMON_BPF_H
#define __SCX_COMMON_BPF_H

/*
 * A vmlinux.h made by a newer bpftool carries kfunc prototypes of its own.
 * Ours are declared below (weak, and without the arena address-space
 * qualifiers some of theirs have), so theirs must stay out.
 */
#ifndef BPF_NO_KFUNC_PROTOTYPES
#define BPF_NO_KFUNC_PROTOTYPES
#endif

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>

#include "user_exit_info.h"

/*
 * A vmlinux.h taken from BTF that pahole < 1.24 produced has its 64-bit enums
 * cut to 32 bits, which silently breaks every built-in DSQ id.
 */
_Static_assert(SCX_DSQ_FLAG_BUILTIN, "vmlinux.h lost the high bits of 64-bit enums");

/* bpf_for(), bpf_repeat() and bpf_for_each() come from libbpf >= 1.2. */
#if !defined(bpf_for) || !defined(bpf_repeat) || !defined(bpf_for_each)
#error "libbpf's bpf_helpers.h is too old: bpf_for/bpf_repeat/bpf_for_each missing"
#endif

/*
 * Inside bpf_for_each(scx_dsq, p, ...), the iterator itself, for the
 * scx_bpf_dsq_move*() kfuncs. libbpf's macro names its iterator ___it.
 */
#define BPF_FOR_EACH_ITER (&___it)

/*
 * ---------------------------------------------------------------------------
 * sched_ext kfuncs, under the kernel's names.
 *
 * Present on every kernel from 6.16 to 7.3 unless a comment says otherwise.
 * The kfuncs whose name or signature changed in that range (dsq_insert,
 * dsq_insert_vtime, dsq_move_to_local, select_cpu_and, reenqueue_local,
 * now, task_set_slice/dsq_vtime, dsq_peek, cpu_curr, events) are declared
 * further down under "___compat" aliases, so that compat.bpf.h can give
 * schedulers static inline wrappers under the natural names.
 * ---------------------------------------------------------------------------
 */

/* Dispatch. */
extern u32 scx_bpf_dispatch_nr_slots(void) __ksym __weak;
extern void scx_bpf_dispatch_cancel(void) __ksym __weak;

/* Moving tasks found by the DSQ iterator (from ops.dispatch or unlocked). */
extern bool scx_bpf_dsq_move(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
			     u64 dsq_id, u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_move_vtime(struct bpf_iter_scx_dsq *it__iter, struct task_struct *p,
				   u64 dsq_id, u64 enq_flags) __ksym __weak;
extern void scx_bpf_dsq_move_set_slice(struct bpf_iter_scx_dsq *it__iter, u64 slice) __ksym __weak;
extern void scx_bpf_dsq_move_set_vtime(struct bpf_iter_scx_dsq *it__iter, u64 vtime) __ksym __weak;

/* Re-enqueue any DSQ (7.1+: guard with bpf_ksym_exists()). */
extern void scx_bpf_dsq_reenq(u64 dsq_id, u64 reenq_flags) __ksym __weak;

/* Run a child scheduler's dispatch (7.1+: guard with bpf_ksym_exists()). */
extern bool scx_bpf_sub_dispatch(u64 cgroup_id) __ksym __weak;

/* DSQ lifetime and size; create_dsq is sleepable (ops.init, ops.init_task). */
extern s32 scx_bpf_create_dsq(u64 dsq_id, s32 node) __ksym __weak;
extern void scx_bpf_destroy_dsq(u64 dsq_id) __ksym __weak;
extern s32 scx_bpf_dsq_nr_queued(u64 dsq_id) __ksym __weak;

/* The open-coded DSQ iterator; use it through bpf_for_each(scx_dsq, ...). */
extern int bpf_iter_scx_dsq_new(struct bpf_iter_scx_dsq *it, u64 dsq_id, u64 flags) __ksym __weak;
extern struct task_struct *bpf_iter_scx_dsq_next(struct bpf_iter_scx_dsq *it) __ksym __weak;
extern void bpf_iter_scx_dsq_destroy(struct bpf_iter_scx_dsq *it) __ksym __weak;

/* CPUs and tasks. */
extern void scx_bpf_kick_cpu(s32 cpu, u64 flags) __ksym __weak;
extern bool scx_bpf_task_running(const struct task_struct *p) __ksym __weak;
extern s32 scx_bpf_task_cpu(const struct task_struct *p) __ksym __weak;
extern struct cgroup *scx_bpf_task_cgroup(struct task_struct *p) __ksym __weak;
extern struct rq *scx_bpf_locked_rq(void) __ksym __weak;		/* 6.18+ */
extern struct task_struct *scx_bpf_tid_to_task(u64 tid) __ksym __weak;	/* 7.2+ */

/* Topology. */
extern u32 scx_bpf_nr_cpu_ids(void) __ksym __weak;
extern u32 scx_bpf_nr_node_ids(void) __ksym __weak;
extern s32 scx_bpf_cpu_node(s32 cpu) __ksym __weak;
extern const struct cpumask *scx_bpf_get_possible_cpumask(void) __ksym __weak;
extern const struct cpumask *scx_bpf_get_online_cpumask(void) __ksym __weak;
extern void scx_bpf_put_cpumask(const struct cpumask *cpumask) __ksym __weak;

/* cpufreq: capacity, current level and target, on a 1024 scale. */
extern u32 scx_bpf_cpuperf_cap(s32 cpu) __ksym __weak;
extern u32 scx_bpf_cpuperf_cur(s32 cpu) __ksym __weak;
extern void scx_bpf_cpuperf_set(s32 cpu, u32 perf) __ksym __weak;

/* The built-in idle tracking. */
extern s32 scx_bpf_select_cpu_dfl(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
				  bool *is_idle) __ksym __weak;
extern const struct cpumask *scx_bpf_get_idle_cpumask(void) __ksym __weak;
extern const struct cpumask *scx_bpf_get_idle_smtmask(void) __ksym __weak;
extern const struct cpumask *scx_bpf_get_idle_cpumask_node(s32 node) __ksym __weak;
extern const struct cpumask *scx_bpf_get_idle_smtmask_node(s32 node) __ksym __weak;
extern void scx_bpf_put_idle_cpumask(const struct cpumask *idle_mask) __ksym __weak;
extern bool scx_bpf_test_and_clear_cpu_idle(s32 cpu) __ksym __weak;
extern s32 scx_bpf_pick_idle_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym __weak;
extern s32 scx_bpf_pick_any_cpu(const struct cpumask *cpus_allowed, u64 flags) __ksym __weak;
extern s32 scx_bpf_pick_idle_cpu_node(const struct cpumask *cpus_allowed, s32 node,
				      u64 flags) __ksym __weak;
extern s32 scx_bpf_pick_any_cpu_node(const struct cpumask *cpus_allowed, s32 node,
				     u64 flags) __ksym __weak;

/* Backends of scx_bpf_exit(), scx_bpf_error() and scx_bpf_dump() below. */
extern void scx_bpf_exit_bstr(s64 exit_code, char *fmt, unsigned long long *data,
			      u32 data__sz) __ksym __weak;
extern void scx_bpf_error_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym __weak;
extern void scx_bpf_dump_bstr(char *fmt, unsigned long long *data, u32 data__sz) __ksym __weak;

/*
 * Kfuncs that compat.bpf.h wraps. The "___compat" suffix is dropped by libbpf
 * when it looks the name up in the kernel (it strips the last "___suffix"),
 * so each of these resolves to the kernel kfunc named before the suffix, or
 * to zero when the running kernel lacks it. Call the wrappers, not these.
 */
extern void scx_bpf_dsq_insert___compat(struct task_struct *p, u64 dsq_id, u64 slice,
					u64 enq_flags) __ksym __weak;
extern bool scx_bpf_dsq_insert___v2___compat(struct task_struct *p, u64 dsq_id, u64 slice,
					     u64 enq_flags) __ksym __weak;	/* 6.19+ */
extern void scx_bpf_dsq_insert_vtime___compat(struct task_struct *p, u64 dsq_id, u64 slice,
					      u64 vtime, u64 enq_flags) __ksym __weak;
extern bool __scx_bpf_dsq_insert_vtime___compat(struct task_struct *p,
						struct scx_bpf_dsq_insert_vtime_args *args)
	__ksym __weak;								/* 6.19+ */
extern bool scx_bpf_dsq_move_to_local___compat(u64 dsq_id) __ksym __weak;
extern bool scx_bpf_dsq_move_to_local___v2___compat(u64 dsq_id, u64 enq_flags)
	__ksym __weak;								/* 7.1+ */
extern s32 scx_bpf_select_cpu_and___compat(struct task_struct *p, s32 prev_cpu, u64 wake_flags,
					   const struct cpumask *cpus_allowed, u64 flags)
	__ksym __weak;
extern s32 __scx_bpf_select_cpu_and___compat(struct task_struct *p,
					     const struct cpumask *cpus_allowed,
					     struct scx_bpf_select_cpu_and_args *args)
	__ksym __weak;								/* 6.19+ */
extern u32 scx_bpf_reenqueue_local___compat(void) __ksym __weak;	/* ops.cpu_release only */
extern void scx_bpf_reenqueue_local___v2___compat(void) __ksym __weak;	/* 6.19+ */
extern u64 scx_bpf_now___compat(void) __ksym __weak;
extern bool scx_bpf_task_set_slice___compat(struct task_struct *p, u64 slice)
	__ksym __weak;								/* 6.19+ */
extern bool scx_bpf_task_set_dsq_vtime___compat(struct task_struct *p, u64 vtime)
	__ksym __weak;								/* 6.19+ */
extern struct task_struct *scx_bpf_dsq_peek___compat(u64 dsq_id) __ksym __weak;	/* 6.19+ */
extern struct task_struct *scx_bpf_cpu_curr___compat(s32 cpu) __ksym __weak;	/* 6.18+ */
extern void scx_bpf_events___compat(struct scx_event_stats *events, size_t events__sz)
	__ksym __weak;

/*
 * scx_bpf_cpu_rq() is gone in 7.3 and deprecated from 6.18. It is declared
 * only under the alias, weak, for the scx_bpf_cpu_curr() fallback on
 * 6.16/6.17; a strong or natural-name declaration would invite a call that
 * fails the load on 7.3.
 */
extern struct rq *scx_bpf_cpu_rq___compat(s32 cpu) __ksym __weak;

/*
 * ---------------------------------------------------------------------------
 * Generic BPF kfuncs used by our schedulers.
 * ---------------------------------------------------------------------------
 */

/* Tasks and RCU. */
extern struct task_struct *bpf_task_from_pid(s32 pid) __ksym __weak;
extern struct task_struct *bpf_task_acquire(struct task_struct *p) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;
extern void bpf_rcu_read_lock(void) __ksym __weak;
extern void bpf_rcu_read_unlock(void) __ksym __weak;

/* cgroups. */
extern struct cgroup *bpf_cgroup_from_id(u64 cgid) __ksym __weak;
extern struct cgroup *bpf_cgroup_acquire(struct cgroup *cgrp) __ksym __weak;
extern struct cgroup *bpf_cgroup_ancestor(struct cgroup *cgrp, int level) __ksym __weak;
extern void bpf_cgroup_release(struct cgroup *cgrp) __ksym __weak;

/* Allocated objects, red-black trees and refcounted kptrs. */
extern void *bpf_obj_new_impl(u64 local_type_id__k, void *meta__ign) __ksym __weak;
extern void bpf_obj_drop_impl(void *p__alloc, void *meta__ign) __ksym __weak;
extern void *bpf_refcount_acquire_impl(void *p__refcounted_kptr, void *meta__ign) __ksym __weak;
extern int bpf_rbtree_add_impl(struct bpf_rb_root *root, struct bpf_rb_node *node,
			       bool (less)(struct bpf_rb_node *a, const struct bpf_rb_node *b),
			       void *meta__ign, u64 off) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_first(struct bpf_rb_root *root) __ksym __weak;
extern struct bpf_rb_node *bpf_rbtree_remove(struct bpf_rb_root *root,
					     struct bpf_rb_node *node) __ksym __weak;

/* BPF-owned cpumasks. */
extern struct bpf_cpumask *bpf_cpumask_create(void) __ksym __weak;
extern struct bpf_cpumask *bpf_cpumask_acquire(struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_release(struct bpf_cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_first(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_first_zero(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_first_and(const struct cpumask *src1,
				 const struct cpumask *src2) __ksym __weak;
extern void bpf_cpumask_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_test_cpu(u32 cpu, const struct cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_test_and_set_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_test_and_clear_cpu(u32 cpu, struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_setall(struct bpf_cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_clear(struct bpf_cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_and(struct bpf_cpumask *dst, const struct cpumask *src1,
			    const struct cpumask *src2) __ksym __weak;
extern void bpf_cpumask_or(struct bpf_cpumask *dst, const struct cpumask *src1,
			   const struct cpumask *src2) __ksym __weak;
extern void bpf_cpumask_xor(struct bpf_cpumask *dst, const struct cpumask *src1,
			    const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_equal(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_intersects(const struct cpumask *src1,
				   const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_subset(const struct cpumask *src1, const struct cpumask *src2) __ksym __weak;
extern bool bpf_cpumask_empty(const struct cpumask *cpumask) __ksym __weak;
extern bool bpf_cpumask_full(const struct cpumask *cpumask) __ksym __weak;
extern void bpf_cpumask_copy(struct bpf_cpumask *dst, const struct cpumask *src) __ksym __weak;
extern u32 bpf_cpumask_any_distribute(const struct cpumask *cpumask) __ksym __weak;
extern u32 bpf_cpumask_any_and_distribute(const struct cpumask *src1,
					  const struct cpumask *src2) __ksym __weak;
extern u32 bpf_cpumask_weight(const struct cpumask *cpumask) __ksym __weak;

/*
 * A struct bpf_cpumask starts with the struct cpumask it wraps, so the cast
 * is how a BPF-owned mask is passed to kfuncs that only read a cpumask.
 */
static __always_inline const struct cpumask *cast_mask(struct bpf_cpumask *mask)
{
	return (const struct cpumask *)mask;
}

/*
 * ---------------------------------------------------------------------------
 * struct_ops plumbing.
 * ---------------------------------------------------------------------------
 */

/* One sched_ext_ops callback; args are typed, as in BPF_PROG(). */
#define BPF_STRUCT_OPS(name, args...)						\
	SEC("struct_ops/" #name) BPF_PROG(name, ##args)

/* The same for the callbacks the kernel allows to sleep (init, init_task...). */
#define BPF_STRUCT_OPS_SLEEPABLE(name, args...)					\
	SEC("struct_ops.s/" #name) BPF_PROG(name, ##args)

/*
 * The scheduler object itself. The ".struct_ops.link" section makes libbpf
 * create a link on attach, so the scheduler goes away with its process.
 * Usage: SCX_OPS_DEFINE(simple_ops, .enqueue = (void *)simple_enqueue, ...);
 */
#define SCX_OPS_DEFINE(__name, ...)						\
	SEC(".struct_ops.link")							\
	struct sched_ext_ops __name = {						\
		__VA_ARGS__,							\
	}

/*
 * ---------------------------------------------------------------------------
 * Formatted exit, error and dump.
 *
 * The *_bstr kfuncs take a format string and the arguments already packed as
 * an array of u64, like bpf_snprintf(). The format must live in writable
 * memory because the verifier checks kfunc memory arguments for both read and
 * write access, so it is a static (non-const) array in .data. At most 12
 * arguments; the message is cut at 1024 bytes.
 * ---------------------------------------------------------------------------
 */

#define ___scx_str(x) #x
#define __scx_str(x) ___scx_str(x)

/* Store each argument, cast to u64 so that pointers and signed values pack. */
#define ___scx_pack0(arr, i, x...) do {} while (0)
#define ___scx_pack1(arr, i, x) arr[i] = (unsigned long long)(x)
#define ___scx_pack2(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack1(arr, i + 1, args)
#define ___scx_pack3(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack2(arr, i + 1, args)
#define ___scx_pack4(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack3(arr, i + 1, args)
#define ___scx_pack5(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack4(arr, i + 1, args)
#define ___scx_pack6(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack5(arr, i + 1, args)
#define ___scx_pack7(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack6(arr, i + 1, args)
#define ___scx_pack8(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack7(arr, i + 1, args)
#define ___scx_pack9(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack8(arr, i + 1, args)
#define ___scx_pack10(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack9(arr, i + 1, args)
#define ___scx_pack11(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack10(arr, i + 1, args)
#define ___scx_pack12(arr, i, x, args...) arr[i] = (unsigned long long)(x); ___scx_pack11(arr, i + 1, args)
#define ___scx_pack(arr, args...)						\
	___bpf_apply(___scx_pack, ___bpf_narg(args))(arr, 0, ##args)

/*
 * Declares ___fmt and ___data in the caller's block. A call with more than
 * 12 arguments fails to compile (___scx_pack13 does not exist).
 */
#define ___scx_bstr_prep(fmt, args...)						\
	static char ___fmt[] = fmt;						\
	unsigned long long ___data[___bpf_narg(args)];				\
	___scx_pack(___data, ##args)

/* Leave with the given exit code (kind UNREG_BPF); user space sees the code. */
#define scx_bpf_exit(code, fmt, args...)					\
({										\
	___scx_bstr_prep(fmt, ##args);						\
	scx_bpf_exit_bstr(code, ___fmt, ___data, sizeof(___data));		\
})

/*
 * Abort the scheduler (kind ERROR_BPF), prefixing "file:line: ". The kfunc
 * returns: the caller must still return by itself.
 */
#define scx_bpf_error(fmt, args...)						\
({										\
	___scx_bstr_prep(__FILE__ ":" __scx_str(__LINE__) ": " fmt, ##args);	\
	scx_bpf_error_bstr(___fmt, ___data, sizeof(___data));			\
})

/* Add a line to the debug dump; only meaningful from ops.dump*(). */
#define scx_bpf_dump(fmt, args...)						\
({										\
	___scx_bstr_prep(fmt, ##args);						\
	scx_bpf_dump_bstr(___fmt, ___data, sizeof(___data));			\
})

/*
 * ---------------------------------------------------------------------------
 * Globals sized at load time, and bounds-checked pointers.
 * ---------------------------------------------------------------------------
 */

/*
 * A one-element array in its own ELF section ("." #elfsec "." #arr, e.g.
 * ".data.cpu_ctx"), so that libbpf gives it its own map and user space can
 * grow it with bpf_map__set_value_size() before load.
 * Usage: struct cpu_ctx RESIZABLE_ARRAY(data, cpu_ctxs);
 */
#define RESIZABLE_ARRAY(elfsec, arr) arr[1] SEC("." #elfsec "." #arr)

/*
 * Pointer to element i of a RESIZABLE_ARRAY that holds n elements, or NULL
 * when i is out of range. The compiler cannot know the real size, so the
 * check must happen on the very register used for the address; barrier_var()
 * keeps clang from deriving the offset from a copy taken before the check.
 */
#define ARRAY_ELEM_PTR(arr, i, n)						\
((typeof(&(arr)[0]))({								\
	u64 ___i = (u64)(i);							\
	u64 ___p = 0;								\
	if (___i < (u64)(n)) {							\
		barrier_var(___i);						\
		___p = (u64)(&(arr)[0]) + ___i * sizeof((arr)[0]);		\
	}									\
	(void *)___p;								\
}))

/*
 * Pointer to a member of a global (e.g. MEMBER_VPTR(ctxs, [cpu].nr)) whose
 * index is only known at run time. The offset is checked against the size of
 * the whole object in inline assembly, so the verifier sees the bound on the
 * register that forms the pointer; out of range yields NULL.
 */
#define MEMBER_VPTR(base, member)						\
((typeof((base) member) *)({							\
	u64 ___base = (u64)&(base);						\
	u64 ___off = (u64)&((base) member) - ___base;				\
	_Static_assert(sizeof(base) >= sizeof((base) member),			\
		       "MEMBER_VPTR: member larger than its base");		\
	asm volatile(								\
		"if %[off] <= %[lim] goto +2\n\t"				\
		"%[off] = 0\n\t"						\
		"goto +1\n\t"							\
		"%[off] += %[b]\n\t"						\
		: [off] "+r"(___off)						\
		: [b] "r"(___base),						\
		  [lim] "i"(sizeof(base) - sizeof((base) member)));		\
	(void *)___off;								\
}))

/*
 * ---------------------------------------------------------------------------
 * Small helpers.
 * ---------------------------------------------------------------------------
 */

/* libbpf defines likely()/unlikely() already; keep ours only as a fallback. */
#ifndef likely
#define likely(x) __builtin_expect(!!(x), 1)
#endif
#ifndef unlikely
#define unlikely(x) __builtin_expect(!!(x), 0)
#endif

/* Wrap-safe comparisons of u64 clocks (jiffies-style). */
#define time_after(a, b) ((s64)((b) - (a)) < 0)
#define time_before(a, b) time_after(b, a)
#define time_after_eq(a, b) ((s64)((a) - (b)) >= 0)
#define time_before_eq(a, b) time_after_eq(b, a)

/* Virtual time wraps too; compare by signed distance. */
static __always_inline bool vtime_before(u64 a, u64 b)
{
	return (s64)(a - b) < 0;
}

/* Type-checked min/max that evaluate each argument once. */
#define min(x, y)								\
({										\
	typeof(x) ___x = (x);							\
	typeof(y) ___y = (y);							\
	(void)(&___x == &___y);							\
	___x < ___y ? ___x : ___y;						\
})
#define max(x, y)								\
({										\
	typeof(x) ___x = (x);							\
	typeof(y) ___y = (y);							\
	(void)(&___x == &___y);							\
	___x > ___y ? ___x : ___y;						\
})
#define clamp(v, lo, hi) min(max(v, lo), hi)

/*
 * One load or store that the compiler may neither tear, merge nor repeat;
 * for globals shared with user space or other CPUs.
 */
#define READ_ONCE(x) (*(const volatile typeof(x) *)&(x))
#define WRITE_ONCE(x, val) ((*(volatile typeof(x) *)&(x)) = (val))

/*
 * Kptrs (bpf_cpumask, allocated objects) may only be stored in maps or in a
 * global section of their own; each "private" name becomes one such map.
 * Usage: private(SHARED) struct bpf_cpumask __kptr *shared_mask;
 */
#define private(name) SEC(".data.private_" #name) __hidden __attribute__((aligned(8)))

/*
 * Tells the verifier which type, through which member, a bpf_rb_root or
 * bpf_list_head holds: struct bpf_rb_root root __contains(node_t, rb);
 */
#define __contains(name, node) __attribute__((btf_decl_tag("contains:" #name ":" #node)))

/* Allocated objects: the _impl kfuncs exist on every kernel we support. */
#define bpf_obj_new(type) ((type *)bpf_obj_new_impl(bpf_core_type_id_local(type), NULL))
#define bpf_obj_drop(kptr) bpf_obj_drop_impl(kptr, NULL)
#define bpf_refcount_acquire(kptr) bpf_refcount_acquire_impl(kptr, NULL)
#define bpf_rbtree_add(head, node, less) bpf_rbtree_add_impl(head, node, less, NULL, 0)

#include "compat.bpf.h"

#endif /* __SCX_COMMON_BPF_H */
