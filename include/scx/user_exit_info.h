/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The exit record a scheduler leaves for user space when it is disabled.
 *
 * Shared by the BPF side and user space: the layout of struct
 * user_exit_info is fixed, because the Rust loader (scx-core) decodes it
 * byte for byte from the ".data.uei" map. Change it only together with the
 * decoder.
 *
 * BPF side:
 *	UEI_DEFINE(uei);			at file scope, once per object
 *	void BPF_STRUCT_OPS(x_exit, struct scx_exit_info *ei)
 *	{
 *		UEI_RECORD(uei, ei);
 *	}
 *
 * User space: before load, sets <name>_dump_len in ".rodata.uei" and resizes
 * the ".data.uei_dump" map to that many bytes; after the scheduler exits
 * (kind != 0) it reads the record and the dump.
 */
#ifndef __SCX_USER_EXIT_INFO_H
#define __SCX_USER_EXIT_INFO_H

#define UEI_REASON_LEN 128
#define UEI_MSG_LEN 1024

struct user_exit_info {
	int kind;			/* enum scx_exit_kind; 0 until the exit is recorded */
	int exit_cpu;			/* CPU that triggered the exit, -1 if unknown (< 7.2) */
	long long exit_code;		/* scx_bpf_exit() code or SCX_ECODE_* bits */
	char reason[UEI_REASON_LEN];
	char msg[UEI_MSG_LEN];
};

#ifdef __bpf__

/*
 * Three globals, each alone in its section, so that the loader finds them by
 * map name without knowing the scheduler:
 * - the record itself, in ".data.uei";
 * - the debug dump, in ".data.uei_dump": declared one byte long and grown by
 *   user space before load, which only works for the sole variable of a map;
 * - the dump length user space chose, in ".rodata.uei": frozen at load, so
 *   the verifier knows it as a constant when checking UEI_RECORD's copy.
 */
#define UEI_DEFINE(__name)							\
	struct user_exit_info __name SEC(".data.uei");				\
	char __name##_dump[1] SEC(".data.uei_dump");				\
	const volatile u32 __name##_dump_len SEC(".rodata.uei")

/*
 * Copy the kernel's struct scx_exit_info into the record; call it from
 * ops.exit(). Strings go through bpf_probe_read_kernel_str(), which always
 * NUL-terminates. exit_cpu exists from 7.2 only, hence the CO-RE test. kind
 * is written last, with a compare-and-swap that doubles as a full barrier:
 * user space polls kind, and once it reads non-zero everything else is in
 * place. The swap also keeps the first exit if ops.exit ran twice.
 */
#define UEI_RECORD(__name, __ei)						\
({										\
	bpf_probe_read_kernel_str(__name.reason, sizeof(__name.reason),		\
				  (__ei)->reason);				\
	bpf_probe_read_kernel_str(__name.msg, sizeof(__name.msg), (__ei)->msg);	\
	bpf_probe_read_kernel_str(__name##_dump, __name##_dump_len,		\
				  (__ei)->dump);				\
	__name.exit_code = (__ei)->exit_code;					\
	if (bpf_core_field_exists((__ei)->exit_cpu))				\
		__name.exit_cpu = (__ei)->exit_cpu;				\
	else									\
		__name.exit_cpu = -1;						\
	__sync_val_compare_and_swap(&__name.kind, 0, (__ei)->kind);		\
})

#endif /* __bpf__ */

#endif /* __SCX_USER_EXIT_INFO_H */
