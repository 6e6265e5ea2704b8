//! The kernel's side of a scheduler run: sched_ext state and ops name, the
//! kernel log and its filter, and process helpers shared by the agents.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::plan::Plan;
use crate::util;

pub(crate) const SCX_STATE: &str = "/sys/kernel/sched_ext/state";
pub(super) const SCX_OPS: &str = "/sys/kernel/sched_ext/root/ops";
/// TCG is slow: loading and verifying a BPF scheduler can take many seconds.
pub(super) const ENABLE_TIMEOUT: Duration = Duration::from_secs(30);
pub(super) const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Each fork+exec of /bin/true from the 9p root costs about 70 ms under TCG.
pub(super) const FORKS: usize = 50;
/// Exit reasons the kernel reports for a scheduler that it kicked out.
pub(super) const KERNEL_ERROR_REASONS: &[&str] =
    &["scx_bpf_error", "runtime error", "runnable task stall"];

// ---------------------------------------------------------------------------
// sysfs and process helpers (the bench agent uses them too)

pub(crate) fn read_trim(p: &str) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The kernel's sched_ext state (`enabled`, `disabled`, ...), or `unreadable`.
pub(crate) fn state() -> String {
    let s = read_trim(SCX_STATE);
    if s.is_empty() {
        "unreadable".to_string()
    } else {
        s
    }
}

/// The attached scheduler's ops name, empty when none.
pub(crate) fn ops() -> String {
    read_trim(SCX_OPS)
}

pub(super) fn enabled_as(ops_name: &str) -> bool {
    state() == "enabled" && ops().starts_with(ops_name)
}

/// Waits (polling every 100 ms) until the state reads `want`; false on timeout.
pub(crate) fn wait_state(want: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if state() == want {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

pub(super) fn dmesg_clear() -> Result<()> {
    util::run_capture(Command::new("dmesg").arg("-C"), "dmesg -C").map(|_| ())
}

pub(super) fn dmesg_text() -> String {
    util::run_capture(&mut Command::new("dmesg"), "dmesg")
        .unwrap_or_else(|e| format!("(dmesg failed: {e:#})\n"))
}

/// SIGKILL every process running one of the plan's scheduler binaries, then
/// wait for the kernel to report `disabled`.
pub(super) fn kill_leftovers(plan: &Plan) -> bool {
    let bins: Vec<&Path> = plan.scheds.iter().map(|s| s.binary.as_path()).collect();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.filter_map(|e| e.ok()) {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(exe) = fs::read_link(e.path().join("exe")) else {
                continue;
            };
            let exe = exe
                .to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string();
            if bins.iter().any(|b| Path::new(&exe) == *b) {
                util::kill_pid(pid, libc::SIGKILL);
            }
        }
    }
    wait_state("disabled", STOP_TIMEOUT)
}

pub(super) fn last_line_of(p: &Path) -> String {
    util::read_lossy(p)
        .ok()
        .and_then(|t| util::last_line(&t).map(|l| l.trim().to_string()))
        .unwrap_or_default()
}

pub(super) fn exit_desc(code: i32) -> String {
    if code > 128 {
        format!("signal {}", code - 128)
    } else {
        format!("status {code}")
    }
}

/// Spawn a command in its own process group with stdout+stderr into `out`.
pub(super) fn spawn_logged(cmd: &mut Command, out: &Path) -> Result<Child> {
    let f = File::create(out).with_context(|| format!("failed to create {}", out.display()))?;
    let f2 = f
        .try_clone()
        .context("failed to duplicate a log file handle")?;
    cmd.stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .process_group(0)
        .spawn()
        .context("failed to spawn")
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

/// Kernel log lines that fail the smoke scenario: `BUG` or `WARNING`
/// (as the kernel writes them), or `stall` / `error` in any case.
pub fn flagged_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| !DMESG_ALLOW.iter().any(|a| l.contains(a)))
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            l.contains("BUG")
                || l.contains("WARNING")
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
";
        let bad = flagged_lines(log);
        assert_eq!(bad.len(), 5, "{bad:#?}");
        assert!(bad[0].contains("WARNING: CPU"));
        assert!(bad[1].contains("BUG:"));
        assert!(bad[2].contains("stalls"));
        assert!(bad[3].contains("task stall"));
        assert!(bad[4].contains("I/O Error"));
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
