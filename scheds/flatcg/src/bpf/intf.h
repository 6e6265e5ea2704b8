/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What main.bpf.c shares with src/main.rs: the counters. The BPF side keeps
 * one struct fcg_stats in .bss and bumps its fields with atomic adds; user
 * space reads it typed, as bpf::types::fcg_stats, through the skeleton's
 * .bss, and prints per-interval deltas under the field names. Each field is
 * the kernel's FCG_STAT_<NAME> counter, named <name>.
 */
#ifndef __FLATCG_INTF_H
#define __FLATCG_INTF_H

struct fcg_stats {
	u64 act;	/* a cgroup (or a cgroup's own tasks) became active */
	u64 deact;	/* ... became idle */
	u64 local;	/* task inserted straight into a local DSQ */
	u64 global;	/* task inserted into FALLBACK_DSQ (cgroup bypassed) */

	u64 hwt_cache;	/* hweight taken from the cache */
	u64 hwt_update;	/* hweight recomputed after a generation change */

	u64 enq_skip;	/* cgroup already queued when a task was enqueued */
	u64 enq_race;	/* cgroup's node not in the stash when needed */

	u64 cns_keep;	/* CPU took another task of its current cgroup */
	u64 cns_expire;	/* CPU's cgroup slice ran out */
	u64 cns_empty;	/* CPU's current cgroup had no queued task */
	u64 cns_gone;	/* CPU's current cgroup was removed */

	u64 pnc_next;	/* picked a cgroup from the tree and ran its task */
	u64 pnc_empty;	/* the tree was empty */
	u64 pnc_idle;	/* picked a cgroup whose DSQ was empty */
	u64 pnc_gone;	/* picked a cgroup that was removed */
	u64 pnc_race;	/* lost the node between first and remove */

	u64 rescue;	/* stashed cgroup with queued tasks put back */
};

#endif /* __FLATCG_INTF_H */
