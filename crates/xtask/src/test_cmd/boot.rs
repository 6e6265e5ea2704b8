//! The boots of `test`: each kernel's VM, `--jobs` at a time, and the
//! outcomes read back from the guest agent's results.

use std::fs;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use anyhow::{Context, Result};

use super::{missing_check, outcome_for, vm_timeout, KernelRun, TestArgs};
use crate::kernels::Kernel;
use crate::plan::{GuestResults, Mode, Plan, SchedPlan, PLAN_FILE, RESULTS_FILE};
use crate::report::Outcome;
use crate::scheds::{SchedSource, Suite};
use crate::{guest, paths, util, vm};

/// What every boot of one run shares: the schedulers to run, where their
/// binaries are, the staged agent and the results root.
pub(super) struct Staged<'a> {
    /// The label of the run's newest kernel (the last of `--kernels`).
    pub newest: &'a str,
    pub planned: &'a [SchedSource],
    pub release: &'a Path,
    pub agent: &'a Path,
    pub xtask_dir: &'a Path,
}

/// Boot every kernel, `jobs` at a time; results come back in kernel order.
pub(super) fn run_kernels(
    a: &TestArgs,
    suite: &Suite,
    kernels: &[Kernel],
    jobs: usize,
    staged: &Staged,
) -> Vec<KernelRun> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<(usize, KernelRun)>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let Some(k) = kernels.get(i) else { break };
                if util::interrupted() {
                    break;
                }
                let r = run_kernel(a, suite, k, staged);
                if let Ok(mut all) = results.lock() {
                    all.push((i, r));
                }
            });
        }
    });
    let mut all = results.into_inner().unwrap_or_default();
    all.sort_by_key(|(i, _)| *i);
    all.into_iter().map(|(_, r)| r).collect()
}

/// One boot: run the agent over every planned scheduler on kernel `k`.
fn run_kernel(
    a: &TestArgs,
    suite: &Suite,
    k: &Kernel,
    staged: &Staged,
) -> Result<(Vec<Outcome>, String)> {
    let Staged {
        newest,
        planned,
        release,
        agent,
        xtask_dir,
    } = *staged;
    let results_dir = xtask_dir.join("test").join(&k.label);
    if results_dir.exists() {
        fs::remove_dir_all(&results_dir)
            .with_context(|| format!("failed to clear {}", results_dir.display()))?;
    }
    fs::create_dir_all(&results_dir)
        .with_context(|| format!("failed to create {}", results_dir.display()))?;
    let plan = Plan {
        mode: Mode::Test,
        kernel: k.label.clone(),
        results_dir: results_dir.clone(),
        lib_sh: paths::lib_sh(),
        scheds: planned
            .iter()
            .map(|s| {
                let mut p = s.plan(release, suite);
                p.checks
                    .retain(|c| !c.newest_kernel_only || k.label == newest);
                p
            })
            .collect::<Vec<SchedPlan>>(),
        stress_secs: a.stress_secs,
        soak_secs: suite.soak_secs.unwrap_or(0),
    };
    let plan_path = results_dir.join(PLAN_FILE);
    util::write_atomic(
        &plan_path,
        &serde_json::to_vec_pretty(&plan).context("failed to encode the plan")?,
    )?;
    let log = results_dir.join("vm.log");
    let cfg = vm::VmConfig {
        cpus: a.cpus,
        memory: a.memory.clone(),
        timeout: vm_timeout(&plan),
        capture: true,
        ..guest::agent_vm(k, &results_dir)
    };
    eprintln!(
        "xtask: booting {} ({} vCPUs, {} schedulers, hard timeout {})",
        k.label,
        a.cpus,
        plan.scheds.len(),
        util::fmt_duration(cfg.timeout)
    );
    let out = vm::run(&cfg, &guest::agent_cmd(agent, "guest", &plan_path))?;
    let boot = match out.marker_at {
        Some(b) => format!("boot {:.1} s", b.as_secs_f64()),
        None => "the agent never started".to_string(),
    };
    let line = format!(
        "kernel {}: VM {} after {} ({boot}, {})",
        k.label,
        out.status,
        util::fmt_duration(out.elapsed),
        out.accel
    );
    eprintln!("xtask: {line}");

    let res: Option<GuestResults> = fs::read_to_string(results_dir.join(RESULTS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let mut outcomes = Vec::new();
    for s in planned {
        let found = res
            .as_ref()
            .and_then(|r| r.scheds.iter().find(|x| x.name == s.name));
        match found {
            Some(r) => {
                for c in &r.checks {
                    outcomes.push(outcome_for(s, &k.label, c.clone()));
                }
                if !r.done {
                    // The VM died in the middle of this scheduler's checks.
                    let mut c = missing_check(
                        s,
                        "vm",
                        format!(
                            "the VM ended ({}) during this scheduler's checks; the guest console is in vm.log",
                            out.status
                        ),
                        Some(log.clone()),
                    );
                    c.name = "vm".into();
                    outcomes.push(outcome_for(s, &k.label, c));
                }
            }
            None => {
                let mut why = match &out.status {
                    vm::VmStatus::TimedOut => format!(
                        "the VM hit its hard timeout of {}",
                        util::fmt_duration(cfg.timeout)
                    ),
                    st => format!("the VM ended ({st}) before it ran"),
                };
                if let Some(last) = util::last_line(&out.captured) {
                    why = format!("{why} (last output: {})", last.trim());
                }
                let why = format!("{why}; the guest console and agent output are in vm.log");
                outcomes.push(outcome_for(
                    s,
                    &k.label,
                    missing_check(s, "vm", why, Some(log.clone())),
                ));
            }
        }
    }
    Ok((outcomes, line))
}
