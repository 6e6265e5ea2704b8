/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What main.bpf.c shares with src/main.rs: the counters. The BPF side keeps
 * one struct central_stats in .bss and bumps its fields with atomic adds;
 * user space reads it typed, as bpf::types::central_stats, through the
 * skeleton's .bss. The fields keep the names of the kernel's scx_central
 * globals (the last two are ours); src/main.rs prints each under the name
 * given in its comment. The central-only ones (timer, dispatch, mismatch,
 * retry) are written by one CPU at a time.
 */
#ifndef __CENTRAL_INTF_H
#define __CENTRAL_INTF_H

struct central_stats {
	u64 nr_total;		/* total: tasks enqueued */
	u64 nr_locals;		/* local: kept on their own CPU at enqueue */
	u64 nr_queued;		/* queued: pushed into the central queue */
	u64 nr_lost_pids;	/* lost: popped pids whose task was gone */
	u64 nr_timers;		/* timer: timer firings */
	u64 nr_dispatches;	/* dispatch: placed on a CPU's local queue */
	u64 nr_mismatches;	/* mismatch: popped, but cannot run on the CPU */
	u64 nr_retries;		/* retry: rounds cut short by a full buffer */
	u64 nr_overflows;	/* overflow: central queue full, fallback queue */
	u64 nr_mig_disabled;	/* mig_disabled: migration disabled, sent home */
	u64 nr_preempts;	/* preempt: CPUs the timer preempted */
};

#endif /* __CENTRAL_INTF_H */
