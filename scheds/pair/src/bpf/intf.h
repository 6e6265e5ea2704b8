/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What main.bpf.c shares with src/main.rs: the counters. The BPF side keeps
 * one struct pair_stats in .bss and bumps its fields with atomic adds; user
 * space reads it typed, as bpf::types::pair_stats, through the skeleton's
 * .bss. A counter the kernel's scx_pair also has keeps its name there
 * (nr_total ... nr_cgrp_coll); src/main.rs prints each under the name given
 * in its comment.
 */
#ifndef __PAIR_INTF_H
#define __PAIR_INTF_H

struct pair_stats {
	u64 nr_total;		/* total: tasks enqueued */
	u64 nr_dispatched;	/* dispatched: moved from a slot's DSQ to a CPU */
	u64 nr_missing;		/* missing: no slot for the cgroup, FALLBACK_DSQ */
	u64 nr_bypass;		/* bypass: affinity-restricted, run where queued */
	u64 nr_kept;		/* kept: an SCX_ENQ_LAST task kept its CPU */
	u64 nr_kicks;		/* kicks: partner kicks */
	u64 nr_preemptions;	/* preemptions: a higher class took a CPU */
	u64 nr_exps;		/* expirations: batch ended by time */
	u64 nr_exp_empty;	/* exp_empty: batch ended, the slot had no more */
	u64 nr_exp_waits;	/* waits: a CPU idled while its partner drained */
	u64 nr_cgrp_next;	/* cgroup_switches: a pair took a new cgroup */
	u64 nr_cgrp_coll;	/* collisions: popped cgroup already drained */
	u64 nr_refused;		/* refused: cgroup_init refused, limit reached */
};

#endif /* __PAIR_INTF_H */
