//! The kernel log around a scheduler run: clearing and reading it, the one
//! filter every caller applies, and the exit reason a scheduler prints.

use std::process::Command;

use anyhow::Result;

use crate::util;

/// Exit reasons the kernel reports for a scheduler that it kicked out.
pub(crate) const KERNEL_ERROR_REASONS: &[&str] =
    &["scx_bpf_error", "runtime error", "runnable task stall"];

pub(crate) fn dmesg_clear() -> Result<()> {
    util::run_capture(Command::new("dmesg").arg("-C"), "dmesg -C").map(|_| ())
}

pub(crate) fn dmesg_text() -> String {
    util::run_capture(&mut Command::new("dmesg"), "dmesg")
        .unwrap_or_else(|e| format!("(dmesg failed: {e:#})\n"))
}

/// Lines that are harmless under QEMU and must not fail a run.
/// - "Invalid ELF header magic": the kernel first tries compressed modules as ELF.
/// - "virtio-fs: tag": vng probing virtio-fs before 9p.
/// - "clocksource" / "TSC unstable": the clocksource watchdog under TCG, whose
///   virtual time skews badly when one host thread emulates all vCPUs.
/// - "NOHZ tick-stop error": the kernel's rate-limited notice that a CPU stopped
///   its tick with a softirq still pending (it runs at the next interrupt). Seen
///   only on 6.16.12 under TCG, with scx_central, scx_userland and scx_qmap alike,
///   while a scheduler was enabled or torn down; never on 7.3.4. No task is lost
///   and the schedulers' own checks pass around it.
pub(super) const DMESG_ALLOW: &[&str] = &[
    "Invalid ELF header magic",
    "virtio-fs: tag",
    "clocksource",
    "TSC unstable",
    "NOHZ tick-stop error",
];

/// The one filter of the kernel log, for smoke, the demo, the bench agent and
/// the shell checks: lines with `BUG`, `WARNING`, `Oops` or `panic` (as the
/// kernel writes them), or `stall` / `error` in any case.
pub(crate) fn flagged_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| !DMESG_ALLOW.iter().any(|a| l.contains(a)))
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            l.contains("BUG")
                || l.contains("WARNING")
                || l.contains("Oops")
                || l.contains("panic")
                || lower.contains("stall")
                || lower.contains("error")
        })
        .collect()
}

/// Point at the emulator when the kernel log shows its known oops signature.
pub(super) fn tcg_hint(log: &str) -> &'static str {
    if log.contains("Oops: int3") {
        " (an `Oops: int3` at enable/disable is QEMU multi-threaded TCG's static-key race, not the scheduler; \
         run with thread=single)"
    } else {
        ""
    }
}

/// The line of a scheduler's stderr that carries the kernel's exit reason,
/// preferring the `EXIT: <reason> (<message>)` line.
pub fn exit_reason_line(stderr: &str) -> Option<String> {
    let has_reason = |l: &&str| KERNEL_ERROR_REASONS.iter().any(|r| l.contains(r));
    let lines: Vec<&str> = stderr.lines().filter(has_reason).collect();
    lines
        .iter()
        .find(|l| l.contains("EXIT:"))
        .or(lines.first())
        .map(|l| {
            let l = l.trim();
            let l = l.find("EXIT:").map_or(l, |i| &l[i..]);
            l.chars().take(300).collect()
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmesg_filter() {
        let log = "\
[   10.1] sched_ext: BPF scheduler \"simple\" enabled
[   12.0] sched_ext: BPF scheduler \"simple\" disabled (unregistered from user space)
[   12.1] WARNING: CPU: 1 PID: 42 at kernel/sched/ext.c:123 foo+0x1/0x2
[   12.2] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   12.3] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
[   12.4] sched_ext: simple: runnable task stall (kworker/0:1[7] failed to run for 30.1s)
[   12.5] some driver: I/O Error on device
[   12.6] clocksource: timekeeping watchdog on CPU2: Marking clocksource 'tsc' as unstable, error too big
[   12.7] module: x86/modules: Invalid ELF header magic: != \\x7fELF
[   12.8] a harmless warning in lower case
[   12.9] NOHZ tick-stop error: local softirq work is pending, handler #80!!!
[   13.0] Oops: int3: 0000 [#1] PREEMPT SMP
[   13.1] Kernel panic - not syncing: Fatal exception
";
        let bad = flagged_lines(log);
        assert_eq!(bad.len(), 7, "{bad:#?}");
        assert!(bad[0].contains("WARNING: CPU"));
        assert!(bad[1].contains("BUG:"));
        assert!(bad[2].contains("stalls"));
        assert!(bad[3].contains("task stall"));
        assert!(bad[4].contains("I/O Error"));
        assert!(bad[5].contains("Oops"));
        assert!(bad[6].contains("panic"));
        assert!(flagged_lines("").is_empty());
    }

    #[test]
    fn exit_reason_from_stderr() {
        let err = "\
scx_fixture_error: scheduler attached
DEBUG DUMP: scx_bpf_error in ops.dispatch
error: EXIT: scx_bpf_error (main.bpf.c:26: deliberate error) on CPU 3
";
        assert_eq!(
            exit_reason_line(err).as_deref(),
            Some("EXIT: scx_bpf_error (main.bpf.c:26: deliberate error) on CPU 3")
        );
        assert_eq!(
            exit_reason_line("runnable task stall (foo[1] failed to run)\n").as_deref(),
            Some("runnable task stall (foo[1] failed to run)")
        );
        assert_eq!(
            exit_reason_line("EXIT: unregistered from user space\n"),
            None
        );
    }

    #[test]
    fn tcg_oops_is_pointed_out() {
        assert!(tcg_hint("Oops: int3 in __schedule").contains("TCG"));
        assert_eq!(tcg_hint("BUG: something"), "");
    }
}
