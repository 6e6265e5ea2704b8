/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The two records that cross between the BPF side and the user-space
 * scheduler, and the counters. src/intf.rs mirrors the two records byte for
 * byte (its unit tests check the sizes and offsets); change both together.
 */
#ifndef __USERLAND_INTF_H
#define __USERLAND_INTF_H

/*
 * Kernel -> user space, one per task handed over (ring buffer "enqueued").
 * vruntime and charged are what user space stored for the task the last time
 * it dispatched it; for a task it never saw, vruntime is 0 and charged is the
 * task's run time when the scheduler first met it, so nothing from before
 * the scheduler was loaded is charged.
 */
struct enqueued_task {
	s32 pid;
	u32 weight;		/* p->scx.weight: 100 at nice 0, 1..10000 */
	u64 start_time;		/* the task's identity together with pid */
	u64 sum_exec_runtime;	/* ns run in total, as the kernel counts it */
	u64 vruntime;		/* stored by user space at the last dispatch */
	u64 charged;		/* sum_exec_runtime already charged into vruntime */
	u32 flags;		/* ENQUEUED_* */
	u32 __pad;
};

/* The task woke up (or is new): a sleeper, raised to the minimum vruntime. */
#define ENQUEUED_WAKEUP	(1U << 0)
/* Not a task: "you are needed" (the CPUs are running out of decisions). */
#define ENQUEUED_KICK	(1U << 1)

/*
 * User space -> kernel, in vruntime order (user ring buffer "dispatched"):
 * run this task for slice_ns, ordered by vruntime among everything user
 * space sent. The BPF side also stores vruntime and charged in the task's
 * local storage, so user space keeps no state for tasks it does not hold.
 */
struct dispatched_task {
	s32 pid;
	u32 __pad;
	u64 start_time;
	u64 vruntime;
	u64 charged;
	u64 slice_ns;
};

/*
 * The BPF side's counters: one struct in .bss, bumped with atomic adds and
 * read by src/main.rs typed, as bpf::types::userland_stats, through the
 * skeleton's .bss (not through src/intf.rs). The kernel's C scx_userland
 * names are kept where they exist; src/main.rs prints each under the name
 * given in its comment.
 */
struct userland_stats {
	u64 nr_kernel_enqueues;		/* kern: tasks kept in the kernel path */
	u64 nr_user_enqueues;		/* user: tasks handed to user space */
	u64 nr_failed_enqueues;		/* failed: handoffs refused, ring buffer full */
	u64 nr_dispatched;		/* dispatched: in the order user space sent */
	u64 nr_lost;			/* lost: sent back after the task had exited */
	u64 nr_usersched_dispatches;	/* usersched: the scheduler thread was served */
	u64 nr_usersched_preempts;	/* preempts: CPUs preempted to serve it */
	u64 nr_kicks;			/* kicks: woken because the CPUs ran short */
	u64 nr_kept;			/* kept: slices extended, nothing else ready */
};

_Static_assert(sizeof(struct enqueued_task) == 48, "src/intf.rs expects 48 bytes");
_Static_assert(sizeof(struct dispatched_task) == 40, "src/intf.rs expects 40 bytes");

#endif /* __USERLAND_INTF_H */
