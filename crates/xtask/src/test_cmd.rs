//! `test`, README command 2.
//!
//! 1. `cargo test --workspace --locked` (a failure is reported, but the VM
//!    tests still run);
//! 2. `cargo build --release --locked --workspace --bins`;
//! 3. one boot per kernel, in which the guest agent runs every scheduler's
//!    smoke scenario and checks, then every fixture's harness self-check;
//! 4. a scheduler × kernel table, the failures with their artifacts under
//!    `target/xtask/test/<kernel>/<sched>/<check>/`, and `N passed, N failed`.

mod boot;

use boot::{run_kernels, Staged};

use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::kernels::{self, Kernel};
use crate::plan::{CheckResult, Plan, Status};
use crate::report::{self, Outcome, SELF_CHECK_ROW, UNIT_ROW};
use crate::scheds::{self, SchedSource, Suite};
use crate::{guest, paths, setup, util};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Kernels: `ci` (6.16.12 and 7.3.4), `all`, a list `V1,V2`, or a PATH to a vmlinuz
    #[arg(long, default_value = "ci")]
    kernels: String,
    /// Only this scheduler (repeatable; fixtures always run)
    #[arg(long = "sched", value_name = "NAME")]
    scheds: Vec<String>,
    /// Skip `cargo test --workspace`
    #[arg(long)]
    no_unit: bool,
    /// vCPUs of each VM
    #[arg(long, default_value_t = 4)]
    cpus: u32,
    /// Guest memory (QEMU -m syntax)
    #[arg(long, default_value = "2G")]
    memory: String,
    /// Seconds of stress-ng in each smoke scenario
    #[arg(long, default_value_t = 10)]
    stress_secs: u64,
    /// Kernels booted at the same time (default: two, or one per two host CPUs when more)
    #[arg(long, short)]
    jobs: Option<usize>,
    /// Install missing host packages first (needs root)
    #[arg(long, alias = "yes", short = 'y')]
    install: bool,
    /// Only the checks whose name contains PATTERN (repeatable; `smoke` selects
    /// the smoke scenario, `fault-` the fault suite)
    #[arg(long = "check", value_name = "PATTERN")]
    checks: Vec<String>,
}

#[derive(clap::Args)]
pub struct SoakArgs {
    /// Kernels, as for `test`
    #[arg(long, default_value = "7.3.4")]
    kernels: String,
    /// Only this scheduler (repeatable)
    #[arg(long = "sched", value_name = "NAME")]
    scheds: Vec<String>,
    /// Minutes of soak per scheduler
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=120))]
    minutes: u64,
    /// vCPUs of each VM
    #[arg(long, default_value_t = 4)]
    cpus: u32,
    /// Guest memory (QEMU -m syntax)
    #[arg(long, default_value = "2G")]
    memory: String,
    /// Install missing host packages first (needs root)
    #[arg(long, alias = "yes", short = 'y')]
    install: bool,
}

/// Guest-side allowance for booting before the agent starts (TCG, loaded host).
const BOOT_ALLOWANCE_SECS: u64 = 300;

/// The hard timeout of one VM: boot, then the worst case of every smoke
/// scenario and check, each with room for cleanup.
pub fn vm_timeout(plan: &Plan) -> Duration {
    let smoke = 30 + 60 + plan.stress_secs + 90 + 15 + 30;
    let per_sched: u64 = plan
        .scheds
        .iter()
        .map(|s| {
            let smoke = if s.smoke { smoke } else { 0 };
            smoke + s.checks.iter().map(|c| c.timeout_secs + 30).sum::<u64>()
        })
        .sum();
    Duration::from_secs(BOOT_ALLOWANCE_SECS + per_sched)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(paths::workspace_root());
    c
}

fn host_result(name: &str, status: Status, reason: String, t0: Instant) -> CheckResult {
    CheckResult {
        name: name.into(),
        status,
        step: None,
        reason,
        secs: t0.elapsed().as_secs_f64(),
        artifacts: None,
    }
}

pub fn run(a: TestArgs) -> Result<ExitCode> {
    let suite = Suite {
        soak_secs: None,
        only: a.checks.clone(),
    };
    run_suite(a, suite)
}

/// `xtask soak`: the soak check alone, every scheduler, one kernel at a time.
pub fn soak(a: SoakArgs) -> Result<ExitCode> {
    let suite = Suite {
        soak_secs: Some(a.minutes * 60),
        only: Vec::new(),
    };
    let t = TestArgs {
        kernels: a.kernels,
        scheds: a.scheds,
        no_unit: true,
        cpus: a.cpus,
        memory: a.memory,
        stress_secs: 10,
        jobs: Some(1),
        install: a.install,
        checks: Vec::new(),
    };
    run_suite(t, suite)
}

fn run_suite(a: TestArgs, suite: Suite) -> Result<ExitCode> {
    let started = Instant::now();
    let root = paths::workspace_root();
    // Refuse bad input before doing anything slow.
    let kernel_sels = kernels::parse_kernels_list(&a.kernels)?;
    let all = scheds::schedulers(&root);
    let chosen = scheds::select(&all, &a.scheds)?;
    let fixtures = scheds::fixtures(&root);
    setup::ensure(a.install)?;
    util::install_interrupt_handler();

    let mut outcomes: Vec<Outcome> = Vec::new();
    // (phase, duration) for the report's last lines, which .ci/run collects.
    let mut phases: Vec<(String, Duration)> = Vec::new();
    if !a.no_unit {
        eprintln!("xtask: cargo test --workspace --locked");
        let t0 = Instant::now();
        // Test output goes to stderr with the rest of the progress; stdout
        // carries only the report.
        let to_stderr = std::io::stderr()
            .as_fd()
            .try_clone_to_owned()
            .context("failed to duplicate stderr")?;
        let st = cargo()
            .args(["test", "--workspace", "--locked"])
            .stdout(to_stderr)
            .status()
            .context("failed to run cargo test")?;
        let (status, reason) = if st.success() {
            (Status::Pass, String::new())
        } else {
            (
                Status::Fail,
                format!(
                    "cargo test --workspace --locked exited with status {}",
                    util::status_code(&st)
                ),
            )
        };
        phases.push(("unit tests".into(), t0.elapsed()));
        outcomes.push(Outcome {
            row: UNIT_ROW.into(),
            subject: "unit tests".into(),
            kernel: None,
            check: host_result("cargo test", status, reason, t0),
        });
    }
    if util::interrupted() {
        bail!("interrupted");
    }

    // Only the binaries the VMs run: with `--sched`, the others are not built
    // (the guide check runs one scheduler and would rebuild the whole suite).
    let build_args = release_build_args(
        !a.scheds.is_empty(),
        chosen.iter().chain(&fixtures).map(|s| s.bin.as_str()),
    );
    eprintln!("xtask: cargo {}", build_args.join(" "));
    let t0 = Instant::now();
    util::run_inherit(cargo().args(&build_args), "cargo build --release")?;
    phases.push(("release build".into(), t0.elapsed()));
    let target = paths::target_dir()?;
    let release = target.join("release");
    let xtask_dir = paths::xtask_dir()?;
    let agent = guest::stage_agent(&xtask_dir.join("bin"))?;

    // Every kernel is fetched up front, so a download problem shows early. A
    // kernel that cannot be had fails its column; the others still run.
    let mut kernels_ok: Vec<Kernel> = Vec::new();
    let mut kernel_errors: Vec<(String, String)> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    for sel in &kernel_sels {
        match kernels::resolve(sel) {
            Ok(k) => {
                labels.push(k.label.clone());
                kernels_ok.push(k);
            }
            Err(e) => {
                let label = match sel {
                    kernels::KernelSel::Pinned(v) => v.clone(),
                    kernels::KernelSel::Path(p) => kernels::path_label(p),
                };
                eprintln!("xtask: {e:#}");
                labels.push(label.clone());
                kernel_errors.push((label, format!("{e:#}")));
            }
        }
    }
    for (label, err) in &kernel_errors {
        for s in chosen.iter().chain(&fixtures) {
            outcomes.push(outcome_for(
                s,
                label,
                missing_check(s, "kernel", err.clone(), None),
            ));
        }
    }

    // Schedulers whose binary is missing fail on every kernel without a boot.
    let mut planned: Vec<SchedSource> = Vec::new();
    for s in chosen.iter().chain(&fixtures) {
        if s.binary(&release).is_file() {
            planned.push(s.clone());
            continue;
        }
        let why = format!(
            "{} was not built (is {} a workspace member?)",
            s.binary(&release).display(),
            s.dir.display()
        );
        for k in &kernels_ok {
            outcomes.push(outcome_for(
                s,
                &k.label,
                missing_check(s, "build", why.clone(), None),
            ));
        }
    }

    let mut boots = Vec::new();
    if planned.is_empty() {
        eprintln!("xtask: no scheduler to boot a VM for");
    } else {
        let jobs = a
            .jobs
            .unwrap_or_else(default_jobs)
            .clamp(1, kernels_ok.len().max(1));
        let staged = Staged {
            newest: kernels_ok.last().map_or("", |k| k.label.as_str()),
            planned: &planned,
            release: &release,
            agent: &agent,
            xtask_dir: &xtask_dir,
        };
        for r in run_kernels(&a, &suite, &kernels_ok, jobs, &staged) {
            let (outs, boot) = r?;
            outcomes.extend(outs);
            boots.push(boot);
        }
        if util::interrupted() {
            bail!("interrupted");
        }
    }

    // The report goes to stdout.
    let names: Vec<String> = chosen.iter().map(|s| s.name.clone()).collect();
    println!();
    for b in &boots {
        println!("{b}");
    }
    println!();
    print!("{}", report::table(&outcomes, &labels, &names));
    let notes = report::notes(&outcomes);
    if !notes.is_empty() {
        println!();
        print!("{notes}");
    }
    let fails = report::failures(&outcomes, &root);
    if !fails.is_empty() {
        println!();
        print!("{fails}");
    }
    let c = report::counts(&outcomes);
    println!();
    if c.skipped > 0 {
        println!("{} skipped", c.skipped);
    }
    for (name, d) in &phases {
        println!("phase {name}: {}", util::fmt_duration(*d));
    }
    println!("total time {}", util::fmt_duration(started.elapsed()));
    println!("{}", report::summary_line(&c));
    Ok(if c.failed == 0 && c.passed > 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// The first check of a scheduler that could not run at all.
fn missing_check(
    s: &SchedSource,
    step: &str,
    reason: String,
    artifacts: Option<PathBuf>,
) -> CheckResult {
    CheckResult {
        name: if s.expect_fail {
            "self-check".into()
        } else {
            "smoke".into()
        },
        status: Status::Fail,
        step: Some(step.into()),
        reason,
        secs: 0.0,
        artifacts,
    }
}

fn outcome_for(s: &SchedSource, kernel: &str, check: CheckResult) -> Outcome {
    Outcome {
        row: if s.expect_fail {
            SELF_CHECK_ROW.into()
        } else {
            s.name.clone()
        },
        subject: s.name.clone(),
        kernel: Some(kernel.to_string()),
        check,
    }
}

/// Two VMs on a 2- or 3-core host, else one per two host CPUs. With
/// `thread=single` each QEMU emulates all its vCPUs on one host thread, and its
/// main loop (9p I/O, timers) needs a little more. Two VMs on two cores slow
/// each other down, but the checks measure shares and orders inside one guest,
/// not speed, and the CI kernels' two boots take half the time side by side.
/// Under heavy foreign load (about 10 on two cores) scx_simple's weights check
/// has drifted outside its tolerance: `--jobs 1` then.
fn default_jobs() -> usize {
    default_jobs_for(std::thread::available_parallelism().map_or(1, |n| n.get()))
}

fn default_jobs_for(cpus: usize) -> usize {
    if cpus < 2 {
        1
    } else {
        (cpus / 2).max(2)
    }
}

/// `cargo` arguments of the release build: the whole workspace's binaries, or
/// with `only` just `bins` (the schedulers chosen and the fixtures).
fn release_build_args<'a>(only: bool, bins: impl Iterator<Item = &'a str>) -> Vec<String> {
    let mut args: Vec<String> = ["build", "--release", "--locked", "--workspace"]
        .map(String::from)
        .to_vec();
    if only {
        for b in bins {
            args.push("--bin".into());
            args.push(b.into());
        }
    } else {
        args.push("--bins".into());
    }
    args
}

type KernelRun = Result<(Vec<Outcome>, String)>;

#[cfg(test)]
mod tests;
