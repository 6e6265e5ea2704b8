//! `bench`: every scheduler against the kernel's default scheduler, in one
//! VM boot per run.
//!
//! The host builds the release binaries, writes a plan and boots the kernel;
//! inside, the same xtask binary runs as the agent (`xtask bench-guest`, see
//! [`agent`]): the default scheduler first, then each scheduler in turn, every
//! workload `--reps` times, plus the overhead figures. The results come back
//! as `results.json` through the output directory (an `--rwdir`); the host
//! adds `results.md` (medians, min–max, ratios to the default, spread flags,
//! overhead and targets) and one PNG chart per metric under `charts/`.
//!
//! Under TCG absolute times are inflated several times; only ratios to the
//! default scheduler measured in the same boot mean anything (docs/benchmarks.md).

pub mod agent;
mod chart;
mod model;
mod parse;
mod stats;
mod table;
mod workloads;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use self::model::{BenchPlan, BenchResults, BenchSched, PLAN_FILE, RESULTS_FILE, TABLE_FILE};
use crate::kernels::{self, KernelSel};
use crate::{guest, paths, scheds, setup, util, vm};

#[derive(clap::Args)]
pub struct BenchArgs {
    /// Kernel: a pinned version or a PATH to any vmlinuz (default: the newest pinned)
    #[arg(long, short)]
    kernel: Option<String>,
    /// vCPUs of the VM (on a 2-core host keep 2: more vCPUs time-slice the emulator)
    #[arg(long, default_value_t = 2)]
    cpus: u32,
    /// Only this scheduler (repeatable; the default scheduler is always measured)
    #[arg(long = "sched", value_name = "NAME")]
    scheds: Vec<String>,
    /// Runs of each workload
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=100))]
    reps: u32,
    /// Guest memory (QEMU -m syntax)
    #[arg(long, default_value = "2G")]
    memory: String,
    /// Use QEMU's multi-threaded TCG (vCPUs in parallel, but enabling or
    /// disabling a scheduler can oops the guest there)
    #[arg(long)]
    mttcg: bool,
    /// Output directory (default: $CARGO_TARGET_DIR/bench, else target/bench)
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Compare two runs: the ratio of medians per metric, changes beyond the combined spread flagged
    #[arg(long, num_args = 2, value_names = ["A_JSON", "B_JSON"])]
    compare: Vec<PathBuf>,
    /// Redo results.md and the charts from a results.json (written next to it), without a VM
    #[arg(long, value_name = "RESULTS_JSON", conflicts_with = "compare")]
    render: Option<PathBuf>,
    /// Stop instead of installing missing host packages
    #[arg(long)]
    no_install: bool,
}

/// Guest-side allowance for booting before the agent starts (TCG, loaded host).
const BOOT_ALLOWANCE_SECS: u64 = 300;

pub fn run(a: BenchArgs) -> Result<ExitCode> {
    if !a.compare.is_empty() {
        return compare(&a.compare);
    }
    if let Some(p) = &a.render {
        let r = load(p)?;
        let dir = p
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        let md = render(&r, &dir)?;
        println!("{md}");
        return Ok(ExitCode::SUCCESS);
    }
    run_vm(a)
}

fn load(p: &Path) -> Result<BenchResults> {
    let t = util::read_lossy(p)?;
    serde_json::from_str(&t).with_context(|| format!("failed to parse {}", p.display()))
}

fn compare(files: &[PathBuf]) -> Result<ExitCode> {
    let [a, b] = files else {
        bail!("--compare takes two results.json files");
    };
    let (ra, rb) = (load(a)?, load(b)?);
    let (text, _) = table::compare(&ra, &rb);
    println!("A = {}\nB = {}", a.display(), b.display());
    println!("{text}");
    Ok(ExitCode::SUCCESS)
}

/// Write results.md and charts/*.png into `dir`; the Markdown.
fn render(r: &BenchResults, dir: &Path) -> Result<String> {
    let md = table::markdown(r);
    let charts_dir = dir.join("charts");
    let mut md_out = md.clone();
    match chart::draw_all(r, &charts_dir) {
        Ok(files) => {
            md_out.push_str("## Charts\n\n");
            for f in &files {
                let name = f
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                md_out.push_str(&format!("![{name}](charts/{name})\n\n"));
            }
            eprintln!("xtask: {} charts in {}", files.len(), charts_dir.display());
        }
        Err(e) => eprintln!("xtask: no charts: {e:#}"),
    }
    util::write_atomic(&dir.join(TABLE_FILE), md_out.as_bytes())?;
    Ok(md)
}

fn cargo() -> Command {
    let mut c = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    c.current_dir(paths::workspace_root());
    c
}

fn utc_date() -> String {
    util::run_capture(
        Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"]),
        "date",
    )
    .map(|s| s.trim().to_string())
    .unwrap_or_default()
}

fn run_vm(a: BenchArgs) -> Result<ExitCode> {
    let started = Instant::now();
    let root = paths::workspace_root();
    let all = scheds::schedulers(&root);
    let chosen = scheds::select(&all, &a.scheds)?;
    let sel = match &a.kernel {
        Some(k) => kernels::parse_kernel_arg(k)?,
        None => KernelSel::Pinned(kernels::default_version().to_string()),
    };
    setup::ensure(!a.no_install)?;
    util::install_interrupt_handler();

    let mut build = cargo();
    build.args(["build", "--release", "--locked", "--workspace"]);
    for s in &chosen {
        build.args(["--bin", &s.bin]);
    }
    eprintln!(
        "xtask: cargo build --release of {} scheduler(s)",
        chosen.len()
    );
    util::run_inherit(&mut build, "cargo build --release")?;
    let release = paths::target_dir()?.join("release");
    for s in &chosen {
        if !s.binary(&release).is_file() {
            bail!("{} was not built", s.binary(&release).display());
        }
    }
    let kernel = kernels::resolve(&sel)?;

    let dir = match &a.out {
        Some(d) => std::path::absolute(d).context("failed to resolve --out")?,
        None => paths::target_dir()?.join("bench"),
    };
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    for f in [RESULTS_FILE, TABLE_FILE, PLAN_FILE, "vm.log"] {
        let p = dir.join(f);
        if p.exists() {
            fs::remove_file(&p).with_context(|| format!("failed to remove {}", p.display()))?;
        }
    }
    for d in ["charts", "logs", "work"] {
        let p = dir.join(d);
        if p.exists() {
            fs::remove_dir_all(&p).with_context(|| format!("failed to clear {}", p.display()))?;
        }
    }
    let agent = guest::stage_agent(&dir.join("agent"))?;
    let plan = BenchPlan {
        kernel: kernel.label.clone(),
        results_dir: dir.clone(),
        reps: a.reps,
        scheds: chosen
            .iter()
            .map(|s| BenchSched {
                name: s.name.clone(),
                ops: s.ops(),
                binary: s.binary(&release),
            })
            .collect(),
    };
    let plan_path = dir.join(PLAN_FILE);
    util::write_atomic(
        &plan_path,
        &serde_json::to_vec_pretty(&plan).context("failed to encode the bench plan")?,
    )?;
    // The default scheduler runs first and, after any others, once more.
    let runs = if plan.scheds.is_empty() {
        1
    } else {
        plan.scheds.len() as u64 + 2
    };
    let cfg = vm::VmConfig {
        cpus: a.cpus,
        memory: a.memory.clone(),
        timeout: Duration::from_secs(BOOT_ALLOWANCE_SECS + runs * (120 + u64::from(a.reps) * 150)),
        single_thread_tcg: !a.mttcg,
        ..guest::agent_vm(&kernel, &dir)
    };
    eprintln!(
        "xtask: benchmarking the default scheduler and {} on kernel {} with {} vCPUs, {} runs each \
         (about {} min under TCG)",
        if chosen.is_empty() {
            "no other scheduler".to_string()
        } else {
            chosen
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        },
        kernel.label,
        a.cpus,
        a.reps,
        1 + runs * (20 + u64::from(a.reps) * 30) / 60
    );
    let out = vm::run(&cfg, &guest::agent_cmd(&agent, "bench-guest", &plan_path))?;
    let mut res = match load(&dir.join(RESULTS_FILE)) {
        Ok(r) => r,
        Err(e) => bail!(
            "the VM ended ({}) without results ({e:#}); the guest console is in {}",
            out.status,
            dir.join("vm.log").display()
        ),
    };
    res.accel = format!("QEMU {}", out.accel);
    res.date = utc_date();
    res.command = command_line();
    util::write_atomic(
        &dir.join(RESULTS_FILE),
        &serde_json::to_vec_pretty(&res).context("failed to encode the bench results")?,
    )?;
    let md = render(&res, &dir)?;
    println!("{md}");
    eprintln!(
        "xtask: bench {} in {}: {} (table), {} (samples); VM {}",
        if res.complete { "done" } else { "INCOMPLETE" },
        util::fmt_duration(started.elapsed()),
        dir.join(TABLE_FILE).display(),
        dir.join(RESULTS_FILE).display(),
        out.status
    );
    let ok = res.complete && res.scheds.iter().all(|s| s.clean());
    if !ok {
        eprintln!("xtask: a scheduler was ejected, did not load or did not exit cleanly, or the run is incomplete (see results.md)");
    }
    Ok(if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

/// `cargo xtask bench ...` as typed (for the report).
fn command_line() -> String {
    let args: Vec<String> = std::env::args().skip(1).collect();
    format!("cargo xtask {}", util::shell_join(&args))
}
