//! The common smoke scenario every scheduler runs, and the harness self-check
//! that a fixture must fail it.

use std::fs::{self};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use super::driver::{
    exit_desc, kill_leftovers, last_line_of, ops, spawn_logged, state, wait_disabled, Launch,
    Sched, Stdout, STOP_TIMEOUT,
};
use super::kernel_log::{
    dmesg_clear, dmesg_text, exit_reason_line, flagged_lines, tcg_hint, KERNEL_ERROR_REASONS,
};
use super::{bin_name, check_dir, fail_result, log_result};
use crate::plan::{CheckResult, Plan, SchedPlan, Status};
use crate::util;

// ---------------------------------------------------------------------------
// the smoke scenario

/// Each fork+exec of /bin/true from the 9p root costs about 70 ms under TCG.
pub(super) const FORKS: usize = 50;

pub(super) struct StepFail {
    step: &'static str,
    reason: String,
}

pub(super) fn step_err(step: &'static str, reason: impl Into<String>) -> StepFail {
    StepFail {
        step,
        reason: reason.into(),
    }
}
/// The common smoke scenario. The scheduler's stdout/stderr, the workload
/// output and the kernel log are kept in `<results>/<sched>/smoke/` on failure.
pub(super) fn smoke(plan: &Plan, s: &SchedPlan, nr_cpus: usize) -> CheckResult {
    let t0 = Instant::now();
    let dir = match check_dir(plan, s, "smoke") {
        Ok(d) => d,
        Err(e) => return fail_result("smoke", Some("preflight"), format!("{e:#}"), t0, None),
    };
    let outcome = smoke_steps(plan, s, nr_cpus, &dir);
    match outcome {
        Ok(()) => {
            if !s.expect_fail {
                let _ = fs::remove_dir_all(&dir);
            }
            CheckResult {
                name: "smoke".into(),
                status: Status::Pass,
                step: None,
                reason: String::new(),
                secs: t0.elapsed().as_secs_f64(),
                artifacts: None,
            }
        }
        Err(f) => {
            let _ = fs::write(dir.join("dmesg.txt"), dmesg_text());
            if state() != "disabled" {
                kill_leftovers(plan);
            }
            fail_result("smoke", Some(f.step), f.reason, t0, Some(dir))
        }
    }
}
pub(super) fn smoke_steps(
    plan: &Plan,
    s: &SchedPlan,
    nr_cpus: usize,
    dir: &Path,
) -> Result<(), StepFail> {
    // preflight: nothing else may be attached, and the kernel log starts empty.
    if state() != "disabled" && !kill_leftovers(plan) {
        return Err(step_err(
            "preflight",
            format!("another scheduler is enabled (ops `{}`)", ops()),
        ));
    }
    if !util::is_executable(&s.binary) {
        return Err(step_err(
            "preflight",
            format!("{} is missing or not executable", s.binary.display()),
        ));
    }
    dmesg_clear().map_err(|e| step_err("preflight", format!("{e:#}")))?;

    // load: start it and wait until the kernel reports it enabled under its name.
    let mut sched = Sched::spawn(&Launch {
        binary: &s.binary,
        ops: &s.ops,
        args: &s.args,
        stdout: Stdout::File(dir.join("sched.out")),
        stderr: dir.join("sched.err"),
        tee_stderr: false,
        cwd: Some(dir),
    })
    .map_err(|e| step_err("load", format!("{e:#}")))?;
    let bin = sched.bin.clone();
    sched.wait_enabled().map_err(|e| step_err("load", e))?;

    // workload: forks, then a stress-ng CPU + context-switch mix. A scheduler
    // that dies on the way fails the `alive` step at once.
    let exited = |sched: &mut Sched| -> Option<StepFail> {
        let st = sched.exited()?;
        Some(step_err(
            "alive",
            format!(
                "{bin} exited during the workload with {}: {}",
                exit_desc(st),
                sched.last_err()
            ),
        ))
    };

    let workload = (|| -> Result<(), StepFail> {
        for i in 1..=FORKS {
            let mut c = Command::new("/bin/true")
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| {
                    step_err(
                        "workload-forks",
                        format!("fork+exec #{i} of /bin/true failed: {e}"),
                    )
                })?;
            match util::wait_timeout(&mut c, Duration::from_secs(30)) {
                Ok(Some(st)) if st.success() => {}
                Ok(Some(st)) => {
                    return Err(step_err(
                        "workload-forks",
                        format!(
                            "/bin/true #{i} exited with {}",
                            exit_desc(util::status_code(&st))
                        ),
                    ))
                }
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return Err(step_err(
                        "workload-forks",
                        format!("/bin/true #{i} did not finish within 30 s"),
                    ));
                }
            }
            if let Some(f) = exited(&mut sched) {
                return Err(f);
            }
        }
        let n = nr_cpus.to_string();
        let secs = plan.stress_secs;
        let wl = dir.join("workload.txt");
        let mut st = spawn_logged(stress_ng(&n, secs).current_dir(dir), &wl).map_err(|e| {
            step_err(
                "workload-stress",
                format!("stress-ng: {e:#} (is stress-ng installed?)"),
            )
        })?;
        let limit = Duration::from_secs(secs + 90);
        let deadline = Instant::now() + limit;
        let stop_stress = |st: &mut Child| {
            util::kill_group(st.id(), libc::SIGKILL);
            let _ = st.wait();
        };
        loop {
            if let Ok(Some(x)) = st.try_wait() {
                if x.success() {
                    return Ok(());
                }
                return Err(step_err(
                    "workload-stress",
                    format!(
                        "stress-ng exited with {}: {}",
                        exit_desc(util::status_code(&x)),
                        last_line_of(&wl)
                    ),
                ));
            }
            if let Some(f) = exited(&mut sched) {
                stop_stress(&mut st);
                return Err(f);
            }
            if Instant::now() >= deadline {
                stop_stress(&mut st);
                return Err(step_err(
                    "workload-stress",
                    format!("stress-ng did not finish within {} s", limit.as_secs()),
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    })();
    workload?;

    // alive: the scheduler survived the workload and is still attached.
    if let Some(f) = exited(&mut sched) {
        return Err(f);
    }
    if !sched.attached() {
        return Err(step_err(
            "alive",
            format!(
                "the kernel no longer runs it after the workload (state `{}`, ops `{}`)",
                state(),
                ops()
            ),
        ));
    }

    // stop: SIGINT must detach it and end the process with status 0.
    let Some(code) = sched.stop(libc::SIGINT) else {
        return Err(step_err(
            "stop",
            format!(
                "{bin} did not exit within {} s of SIGINT",
                STOP_TIMEOUT.as_secs()
            ),
        ));
    };
    if code != 0 {
        return Err(step_err(
            "exit-status",
            format!(
                "{bin} exited with {} after SIGINT: {}",
                exit_desc(code),
                sched.last_err()
            ),
        ));
    }
    if !wait_disabled() {
        return Err(step_err(
            "state-disabled",
            format!("state reads `{}` after {bin} exited", state()),
        ));
    }

    // dmesg: the kernel log since the start must be free of errors and warnings.
    let log = dmesg_text();
    let bad = flagged_lines(&log);
    if let Some(first) = bad.first() {
        return Err(step_err(
            "dmesg",
            format!(
                "kernel log has {} flagged line(s), first: {}{}",
                bad.len(),
                first.trim(),
                tcg_hint(&log)
            ),
        ));
    }
    Ok(())
}
/// The harness self-check for a fixture: its smoke must fail, and its stderr
/// must carry the kernel's exit reason.
pub(super) fn self_check(plan: &Plan, s: &SchedPlan, smoke: CheckResult) -> CheckResult {
    let dir = plan.results_dir.join(&s.name).join("smoke");
    let stderr = util::read_lossy(&dir.join("sched.err")).unwrap_or_default();
    let reason_line = exit_reason_line(&stderr);
    let mut r = CheckResult {
        name: "self-check".into(),
        ..smoke.clone()
    };
    match (smoke.status, reason_line) {
        (Status::Fail, Some(line)) => {
            r.status = Status::Pass;
            r.reason = format!(
                "{} failed the smoke scenario as it must (step {}); it reported: {line}",
                bin_name(s),
                smoke.step.as_deref().unwrap_or("?"),
            );
            let _ = fs::remove_dir_all(plan.results_dir.join(&s.name));
            r.artifacts = None;
        }
        (Status::Fail, None) => {
            r.status = Status::Fail;
            r.reason = format!(
                "fixture {} failed the smoke scenario (step {}: {}) but its stderr names no kernel exit reason \
                 (looked for: {})",
                s.name,
                smoke.step.as_deref().unwrap_or("?"),
                smoke.reason,
                KERNEL_ERROR_REASONS.join(", ")
            );
            r.artifacts = Some(dir);
        }
        _ => {
            r.status = Status::Fail;
            r.step = None;
            r.reason = format!(
                "fixture {} passed the smoke scenario; the harness cannot detect its failure",
                s.name
            );
            r.artifacts = Some(dir);
        }
    }
    log_result(plan, s, &r);
    r
}

/// The stress-ng mix of the smoke scenario and the demo: `nr` CPU hogs and `nr`
/// context-switch pairs for `secs` seconds.
pub(super) fn stress_ng(nr: &str, secs: u64) -> Command {
    let mut cmd = Command::new("stress-ng");
    cmd.args([
        "--cpu",
        nr,
        "--switch",
        nr,
        "-t",
        &format!("{secs}s"),
        "--metrics-brief",
    ]);
    cmd
}
