/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What main.bpf.c shares with src/main.rs: the counters. The BPF side keeps
 * one struct qmap_stats in .bss and bumps its fields with atomic adds; user
 * space reads it typed, as bpf::types::qmap_stats, through the skeleton's
 * .bss. The fields keep the names of the kernel's scx_qmap globals; src/main.rs
 * prints each under the name given in its comment.
 */
#ifndef __QMAP_INTF_H
#define __QMAP_INTF_H

struct qmap_stats {
	u64 nr_enqueued;		/* enq: queued on a FIFO */
	u64 nr_dispatched;		/* dsp: taken from a FIFO */
	u64 nr_reenqueued;		/* reenq: handed back, a higher class took the CPU */
	u64 nr_dequeued;		/* deq: left qmap's custody */
	u64 nr_ddsp_from_enq;		/* enq_ddsp: direct dispatch from ops.enqueue() */
	u64 nr_core_sched_execed;	/* core: picked by core scheduling */
	u64 nr_expedited_local;		/* exp_local: -H, boosted onto this CPU */
	u64 nr_expedited_remote;	/* exp_remote: -H, boosted onto another CPU */
	u64 nr_expedited_lost;		/* exp_lost: -H, gone before it could move */
	u64 nr_expedited_from_timer;	/* exp_timer: -H, boosted by the timer */
	u64 nr_cpu_online;		/* hotplug=+N */
	u64 nr_cpu_offline;		/* hotplug=-N */
};

#endif /* __QMAP_INTF_H */
