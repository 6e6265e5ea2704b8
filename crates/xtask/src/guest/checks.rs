//! A scheduler's own behavioural checks: `scheds/<name>/tests/vm/*.sh`.

use std::fs;
use std::process::Command;
use std::time::{Duration, Instant};

use super::driver::{kill_leftovers, last_line_of, ops, spawn_logged, state};
use super::kernel_log::{dmesg_clear, dmesg_text};
use super::{check_dir, fail_result};
use crate::plan::{CheckPlan, CheckResult, Plan, SchedPlan, Status};
use crate::util;

// ---------------------------------------------------------------------------
// behavioural checks

pub(super) fn run_check(plan: &Plan, s: &SchedPlan, c: &CheckPlan, nr_cpus: usize) -> CheckResult {
    let t0 = Instant::now();
    let dir = match check_dir(plan, s, &c.name) {
        Ok(d) => d,
        Err(e) => return fail_result(&c.name, None, format!("{e:#}"), t0, None),
    };
    if state() != "disabled" && !kill_leftovers(plan) {
        return fail_result(
            &c.name,
            None,
            format!("another scheduler is enabled (ops `{}`)", ops()),
            t0,
            Some(dir),
        );
    }
    let _ = dmesg_clear();
    // lib.sh runs the driver's waits through this binary: `xtask sched-ctl`.
    let agent = std::env::current_exe().unwrap_or_else(|_| "xtask".into());
    let output = dir.join("output.txt");
    let mut cmd = Command::new("bash");
    cmd.arg(&c.script)
        .current_dir(&dir)
        .env("SCX_SCHED", &s.binary)
        .env("SCX_NAME", &s.name)
        .env("SCX_OPS", &s.ops)
        .env("SCX_OUT", &dir)
        .env("SCX_LIB", &plan.lib_sh)
        .env("SCX_AGENT", &agent)
        .env("SCX_NR_CPUS", nr_cpus.to_string())
        .env("SCX_KERNEL", &plan.kernel)
        .env("SCX_SCHED_DIR", &s.dir)
        .env("SCX_SOAK_SECS", plan.soak_secs.to_string());
    let (mut status, mut reason) = match spawn_logged(&mut cmd, &output) {
        Err(e) => (
            Status::Fail,
            format!("failed to start bash {}: {e:#}", c.script.display()),
        ),
        Ok(mut child) => {
            let pgid = child.id();
            let res = util::wait_timeout(&mut child, Duration::from_secs(c.timeout_secs));
            // Whatever the script left running in its group goes too.
            util::kill_group(pgid, libc::SIGKILL);
            // lib.sh's fail/skip prefix their message; the status already says it.
            let last = last_line_of(&output);
            let last = last
                .strip_prefix("FAIL: ")
                .or_else(|| last.strip_prefix("SKIP: "))
                .unwrap_or(&last)
                .to_string();
            match res {
                Ok(Some(st)) => match util::status_code(&st) {
                    // A passing check's last line is its measurement: keep it.
                    0 => (Status::Pass, last),
                    77 => (Status::Skip, last),
                    rc => {
                        let why = if last.is_empty() {
                            "(no output)".to_string()
                        } else {
                            last
                        };
                        (Status::Fail, format!("exit {rc}: {why}"))
                    }
                },
                _ => {
                    let _ = child.wait();
                    (
                        Status::Fail,
                        if last.is_empty() {
                            format!("timed out after {} s with no output", c.timeout_secs)
                        } else {
                            format!("timed out after {} s; last output: {last}", c.timeout_secs)
                        },
                    )
                }
            }
        }
    };
    if state() != "disabled" {
        let ops_left = ops();
        let cleaned = kill_leftovers(plan);
        let note = format!(
            "left scheduler `{ops_left}` enabled after the check{}",
            if cleaned {
                " (killed it)"
            } else {
                " and it could not be removed"
            }
        );
        reason = if status == Status::Fail {
            format!("{reason}; {note}")
        } else {
            note
        };
        status = Status::Fail;
    }
    let artifacts = if status == Status::Fail {
        let _ = fs::write(dir.join("dmesg.txt"), dmesg_text());
        Some(dir)
    } else {
        let _ = fs::remove_dir_all(&dir);
        None
    };
    CheckResult {
        name: c.name.clone(),
        status,
        step: None,
        reason,
        secs: t0.elapsed().as_secs_f64(),
        artifacts,
    }
}
