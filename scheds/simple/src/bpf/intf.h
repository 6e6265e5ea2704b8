/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What main.bpf.c shares with src/main.rs: the counters. The BPF side keeps
 * one struct simple_stats in .bss and bumps its fields with atomic adds;
 * user space reads it typed, as bpf::types::simple_stats, through the
 * skeleton's .bss. Every field is printed under its own name.
 */
#ifndef __SIMPLE_INTF_H
#define __SIMPLE_INTF_H

struct simple_stats {
	u64 local;	/* woken onto an idle CPU, straight into its local queue */
	u64 global;	/* inserted into SHARED_DSQ */
	u64 kthread;	/* per-CPU kernel threads, at the head of their local queue */
};

#endif /* __SIMPLE_INTF_H */
