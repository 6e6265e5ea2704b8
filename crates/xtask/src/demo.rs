//! `demo`, README command 1: build one scheduler, boot the default kernel,
//! run the scheduler under a short mixed workload with its stats shown live,
//! detach it with SIGINT, and summarise what happened.

use std::fs;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::kernels::{self, KernelSel};
use crate::plan::{GuestResults, Mode, Plan, PLAN_FILE, RESULTS_FILE};
use crate::{guest, paths, scheds, setup, util, vm};

#[derive(clap::Args)]
pub struct DemoArgs {
    /// Scheduler to run (a directory under scheds/)
    #[arg(default_value = "simple")]
    sched: String,
    /// Kernel: a pinned version or a PATH to any vmlinuz (default: the newest pinned)
    #[arg(long, short)]
    kernel: Option<String>,
    /// vCPUs of the VM
    #[arg(long, default_value_t = 4)]
    cpus: u32,
    /// Seconds of stress-ng in the workload
    #[arg(long, default_value_t = 10)]
    secs: u64,
    /// Stop instead of installing missing host packages
    #[arg(long)]
    no_install: bool,
    /// Arguments for the scheduler (after `--`)
    #[arg(last = true)]
    args: Vec<String>,
}

pub fn run(a: DemoArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let root = paths::workspace_root();
    let all = scheds::schedulers(&root);
    let chosen = scheds::select(&all, std::slice::from_ref(&a.sched))?;
    let s = chosen.first().context("no scheduler chosen")?;
    let sel = match &a.kernel {
        Some(k) => kernels::parse_kernel_arg(k)?,
        None => KernelSel::Pinned(kernels::default_version().to_string()),
    };
    setup::ensure(!a.no_install)?;

    let bin = s.bin.clone();
    eprintln!("xtask: cargo build --release --locked --workspace --bin {bin}");
    util::run_inherit(
        Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .current_dir(&root)
            .args([
                "build",
                "--release",
                "--locked",
                "--workspace",
                "--bin",
                &bin,
            ]),
        "cargo build --release",
    )?;
    let release = paths::target_dir()?.join("release");
    if !s.binary(&release).is_file() {
        bail!(
            "{} was not built (is {} a workspace member?)",
            s.binary(&release).display(),
            s.dir.display()
        );
    }
    let kernel = kernels::resolve(&sel)?;

    let dir = paths::xtask_dir()?.join("demo");
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("failed to clear {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let mut sp = s.plan(&release, &scheds::Suite::default());
    sp.args = a.args.clone();
    sp.checks.clear();
    let plan = Plan {
        mode: Mode::Demo,
        kernel: kernel.label.clone(),
        results_dir: dir.clone(),
        lib_sh: paths::lib_sh(),
        scheds: vec![sp],
        stress_secs: a.secs,
        soak_secs: 0,
    };
    let plan_path = dir.join(PLAN_FILE);
    util::write_atomic(
        &plan_path,
        &serde_json::to_vec_pretty(&plan).context("failed to encode the plan")?,
    )?;
    let agent = std::env::current_exe().context("failed to find the running xtask binary")?;
    let cfg = vm::VmConfig {
        cpus: a.cpus,
        timeout: Duration::from_secs(600 + a.secs),
        // The scheduler's stats arrive on the guest's stdout: show them live.
        stdout: vm::Sink::Stdout,
        ..guest::agent_vm(&kernel, &dir)
    };
    eprintln!(
        "xtask: booting kernel {} with {} vCPUs (this takes about half a minute under TCG)",
        kernel.label, a.cpus
    );
    let out = vm::run(&cfg, &guest::agent_cmd(&agent, "guest", &plan_path))?;
    let res: Option<GuestResults> = fs::read_to_string(dir.join(RESULTS_FILE))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok());
    let Some(sum) = res.and_then(|r| r.demo) else {
        bail!(
            "the demo VM ended ({}) without a summary; the guest console is in {}",
            out.status,
            dir.join("vm.log").display()
        );
    };

    println!();
    println!(
        "== demo: {bin} on kernel {} ({} vCPUs, {}) ==",
        kernel.label, a.cpus, out.accel
    );
    println!(
        "{:<22} {}",
        "enabled",
        if sum.enabled { "yes" } else { "no" }
    );
    println!(
        "{:<22} {}",
        "ops name",
        if sum.ops.is_empty() { "-" } else { &sum.ops }
    );
    let status = sum
        .exit_status
        .map_or("did not exit".to_string(), |c| c.to_string());
    println!("{:<22} {status}", "exit status");
    println!(
        "{:<22} {}",
        "exit line",
        if sum.exit_line.is_empty() {
            "-"
        } else {
            &sum.exit_line
        }
    );
    println!("{:<22} {}", "state after", sum.state_after);
    for (k, v) in &sum.figures {
        println!("{k:<22} {v}");
    }
    let boot = out
        .marker_at
        .map_or("?".to_string(), |b| format!("{:.1} s", b.as_secs_f64()));
    println!(
        "{:<22} boot {boot}, total {}",
        "time",
        util::fmt_duration(started.elapsed())
    );
    for p in &sum.problems {
        println!("problem: {p}");
    }
    let ok = sum.enabled
        && sum.exit_status == Some(0)
        && sum.state_after == "disabled"
        && sum.problems.is_empty();
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
