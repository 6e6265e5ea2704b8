//! The guest agent: `xtask guest --plan FILE`, run as root inside the VM.
//!
//! For each scheduler of the plan, in turn:
//! 1. the common smoke scenario (load, workload, SIGINT, clean detach, clean
//!    kernel log), see [`smoke`];
//! 2. the scheduler's own checks, `scheds/<name>/tests/vm/*.sh`, see [`run_check`].
//!
//! Fixtures (`expect_fail`) must fail the smoke scenario and print the kernel's
//! exit reason; that turns into the "harness self-check" row. Results are
//! rewritten to `results.json` after every check, so a guest crash still
//! leaves the earlier ones. Artifacts are kept only for failures.

mod checks;
pub mod ctl;
mod demo;
pub(crate) mod driver;
pub(crate) mod kernel_log;
mod smoke;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::Instant;

use anyhow::{bail, Context, Result};

use crate::plan::{
    CheckResult, GuestResults, Mode, Plan, SchedPlan, SchedResult, Status, RESULTS_FILE,
};
use crate::util;
use checks::run_check;
use demo::demo;
// The sysfs helpers and the kernel log filter, also at their old paths.
#[allow(unused_imports)]
pub(crate) use driver::{ops, read_trim, state, wait_state, SCX_STATE};
#[allow(unused_imports)]
pub(crate) use kernel_log::{exit_reason_line, flagged_lines};
use smoke::{self_check, smoke};

/// Printed once the agent runs; the host times the boot by it.
pub const AGENT_MARKER: &str = "xtask-guest: agent started";

/// The VM settings every run of the agent shares: `dir` is the results directory
/// (writable in the guest, and its working directory), the guest console goes only
/// to `dir/vm.log`, and the boot is timed to the agent's first line. Callers set
/// vCPUs, memory, timeout and where the live output goes.
pub fn agent_vm(kernel: &crate::kernels::Kernel, dir: &Path) -> crate::vm::VmConfig {
    crate::vm::VmConfig {
        rwdirs: vec![dir.to_path_buf()],
        cwd: Some(dir.to_path_buf()),
        log: Some(dir.join("vm.log")),
        marker: Some(AGENT_MARKER.to_string()),
        console: crate::vm::Console::LogOnly,
        ..crate::vm::VmConfig::new(kernel)
    }
}

/// Copies the running xtask binary into `dir` and returns the copy, the agent the
/// guest runs: a rebuild during the run (cargo test may relink target/debug/xtask)
/// cannot change the agent under the guest.
pub fn stage_agent(dir: &Path) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("failed to find the running xtask binary")?;
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let dest = dir.join("xtask");
    let tmp = dir.join(format!(".xtask.{}", std::process::id()));
    fs::copy(&exe, &tmp)
        .with_context(|| format!("failed to copy {} to {}", exe.display(), tmp.display()))?;
    fs::rename(&tmp, &dest).with_context(|| format!("failed to install {}", dest.display()))?;
    Ok(dest)
}

/// The guest command line: `agent SUBCOMMAND --plan PLAN`.
pub fn agent_cmd(agent: &Path, subcommand: &str, plan: &Path) -> Vec<String> {
    vec![
        agent.display().to_string(),
        subcommand.to_string(),
        "--plan".to_string(),
        plan.display().to_string(),
    ]
}

#[derive(clap::Args)]
pub struct GuestArgs {
    /// The plan written by `xtask test` or `xtask demo`
    #[arg(long)]
    plan: PathBuf,
}

pub fn run(a: GuestArgs) -> Result<ExitCode> {
    let text = util::read_lossy(&a.plan)?;
    let plan: Plan = serde_json::from_str(&text).context("failed to parse the plan")?;
    let uptime = fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0);
    let uname = fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let nr_cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    eprintln!("{AGENT_MARKER} on {uname} ({nr_cpus} CPUs, booted in {uptime:.1} s of guest time)");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the guest agent must run as root inside the VM");
    }
    if !Path::new(SCX_STATE).exists() {
        bail!("kernel {uname} has no sched_ext (/sys/kernel/sched_ext is missing)");
    }
    let mut res = GuestResults {
        kernel: plan.kernel.clone(),
        uname,
        nr_cpus,
        boot_secs: uptime,
        ..GuestResults::default()
    };
    let out = plan.results_dir.join(RESULTS_FILE);
    save(&out, &res)?;
    match plan.mode {
        Mode::Test => {
            for s in &plan.scheds {
                test_sched(&plan, s, nr_cpus, &mut res, &out)?;
            }
        }
        Mode::Demo => {
            let s = plan
                .scheds
                .first()
                .context("the demo plan names no scheduler")?;
            res.demo = Some(demo(&plan, s, nr_cpus));
        }
    }
    res.complete = true;
    save(&out, &res)?;
    Ok(ExitCode::SUCCESS)
}

/// The binary's file name, e.g. `scx_simple`, for messages.
pub(super) fn bin_name(s: &SchedPlan) -> String {
    s.binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.name.clone())
}

pub(super) fn save(path: &Path, res: &GuestResults) -> Result<()> {
    let json = serde_json::to_vec_pretty(res).context("failed to encode results")?;
    util::write_atomic(path, &json)
}

/// Run one scheduler's smoke scenario and checks, saving the results after
/// each, so that a guest crash keeps what was done.
pub(super) fn test_sched(
    plan: &Plan,
    s: &SchedPlan,
    nr_cpus: usize,
    res: &mut GuestResults,
    out: &Path,
) -> Result<()> {
    res.scheds.push(SchedResult {
        name: s.name.clone(),
        expect_fail: s.expect_fail,
        checks: Vec::new(),
        done: false,
    });
    save(out, res)?;
    let idx = res.scheds.len() - 1;
    let record = |res: &mut GuestResults, c: CheckResult| {
        res.scheds[idx].checks.push(c);
        save(out, res)
    };
    if s.expect_fail {
        eprintln!("xtask-guest: [{}] {}: smoke scenario", plan.kernel, s.name);
        let smoke = smoke(plan, s, nr_cpus);
        record(res, self_check(plan, s, smoke))?;
    } else {
        if s.smoke {
            eprintln!("xtask-guest: [{}] {}: smoke scenario", plan.kernel, s.name);
            let smoke = smoke(plan, s, nr_cpus);
            log_result(plan, s, &smoke);
            record(res, smoke)?;
        }
        for c in &s.checks {
            eprintln!(
                "xtask-guest: [{}] {}: check {} (timeout {} s)",
                plan.kernel, s.name, c.name, c.timeout_secs
            );
            let r = run_check(plan, s, c, nr_cpus);
            log_result(plan, s, &r);
            record(res, r)?;
        }
    }
    res.scheds[idx].done = true;
    save(out, res)
}

pub(super) fn log_result(plan: &Plan, s: &SchedPlan, r: &CheckResult) {
    let st = match r.status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
    };
    let why = if r.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", r.reason)
    };
    eprintln!(
        "xtask-guest: [{}] {}: {} {st} ({:.1} s){why}",
        plan.kernel, s.name, r.name, r.secs
    );
}

pub(super) fn check_dir(plan: &Plan, s: &SchedPlan, check: &str) -> Result<PathBuf> {
    let dir = plan.results_dir.join(&s.name).join(check);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("failed to clear {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    Ok(dir)
}

pub(super) fn fail_result(
    name: &str,
    step: Option<&str>,
    reason: String,
    t0: Instant,
    dir: Option<PathBuf>,
) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        status: Status::Fail,
        step: step.map(str::to_string),
        reason,
        secs: t0.elapsed().as_secs_f64(),
        artifacts: dir,
    }
}
