//! `cargo xtask`: the suite's developer tool.
//!
//! It fetches Debian sched_ext kernels into a per-user cache, boots them in a
//! virtme-ng VM under QEMU, and builds the README's two commands on top:
//! `demo` (run one scheduler under a short workload and show its stats) and
//! `test` (unit tests, then every scheduler's smoke scenario and behavioural
//! checks on a set of kernels), `soak` (every scheduler under long stress),
//! `bench` (every scheduler against the default scheduler, side by side) and
//! `new` (start a scheduler from a copy of scx_simple). The same binary is the
//! agent that runs inside the VM (`xtask guest` and `xtask bench-guest`, hidden).
//!
//! xtask deliberately depends on neither libbpf-rs nor scx_utils, so it builds
//! on a machine without clang and can install clang itself (`setup`).

mod apt;
mod bench;
mod demo;
mod guest;
mod hostile_load;
mod kernels;
mod new;
mod observe;
mod paths;
mod plan;
mod report;
mod scheds;
mod setup;
mod test_cmd;
mod util;
mod vm;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{bail, Result};
use clap::{Args, Parser, Subcommand};

use crate::kernels::KernelSel;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    bin_name = "cargo xtask",
    about = "Developer tool of the scx suite: kernels, VMs, demo and test"
)]
struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
enum Cmd {
    /// Debian sched_ext kernels: list the pinned versions, fetch them, print a path
    #[command(subcommand)]
    Kernels(KernelsCmd),
    /// Boot a sched_ext kernel in a VM and run one command in it (as root)
    Vm(VmArgs),
    /// README command 2: unit tests, then every scheduler's VM checks on each kernel
    Test(test_cmd::TestArgs),
    /// Long run: every scheduler under a mix of stress-ng scheduler stressors (and cgroup churn)
    Soak(test_cmd::SoakArgs),
    /// README command 1: build, boot, run a scheduler under a short workload, summarise
    Demo(demo::DemoArgs),
    /// Check (and install) the host packages and virtme-ng that the suite needs
    Setup(setup::SetupArgs),
    /// Start a new scheduler: copy scheds/simple to scheds/NAME, renamed throughout
    New(new::NewArgs),
    /// Benchmark every scheduler against the default scheduler in one VM boot (tables, charts)
    Bench(bench::BenchArgs),
    /// In the guest: report the longest runnable wait of any thread (starvation observer)
    Observe(observe::ObserveArgs),
    /// In the guest: a hostile load of threads, policies, affinity and fork/exec churn
    HostileLoad(hostile_load::HostileArgs),
    /// The agent that runs inside the VM (used by `test` and `demo`)
    #[command(hide = true)]
    Guest(guest::GuestArgs),
    /// The benchmark agent that runs inside the VM (used by `bench`)
    #[command(hide = true)]
    BenchGuest(bench::agent::AgentArgs),
    /// The driver's waits for the shell checks (lib.sh), inside the VM
    #[command(hide = true)]
    SchedCtl(guest::ctl::CtlArgs),
}

#[derive(Subcommand)]
enum KernelsCmd {
    /// List the pinned kernels and which of them are cached
    List,
    /// Download and unpack kernels into the cache (VER, `ci` or `all`; default: the newest)
    Fetch {
        /// Versions to fetch
        versions: Vec<String>,
    },
    /// Print the vmlinuz path of a kernel, fetching it if needed
    Path {
        /// A pinned version
        version: String,
    },
}

#[derive(Args)]
struct VmArgs {
    /// Kernel: a pinned version or a PATH to any vmlinuz (default: the newest pinned)
    #[arg(long, short)]
    kernel: Option<String>,
    /// Number of vCPUs
    #[arg(long, default_value_t = 4)]
    cpus: u32,
    /// Guest memory (QEMU -m syntax)
    #[arg(long, default_value = "2G")]
    memory: String,
    /// Hard timeout for the whole VM run, in seconds
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// Host directory the guest may write to (created if missing; repeatable)
    #[arg(long)]
    rwdir: Vec<PathBuf>,
    /// Use QEMU's multi-threaded TCG (faster, but sched_ext enable/disable can
    /// oops the guest there; only for timing runs)
    #[arg(long)]
    mttcg: bool,
    /// Show the guest kernel's console (boot messages) on stderr
    #[arg(long)]
    console: bool,
    /// Command to run in the guest
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.cmd {
        Cmd::Kernels(k) => kernels_cmd(k),
        Cmd::Vm(a) => vm_cmd(a),
        Cmd::Test(a) => test_cmd::run(a),
        Cmd::Soak(a) => test_cmd::soak(a),
        Cmd::Demo(a) => demo::run(a),
        Cmd::Setup(a) => setup::run(a),
        Cmd::New(a) => new::run(a),
        Cmd::Guest(a) => guest::run(a),
        Cmd::Observe(a) => observe::run(a),
        Cmd::HostileLoad(a) => hostile_load::run(a),
        Cmd::Bench(a) => bench::run(a),
        Cmd::BenchGuest(a) => bench::agent::run(a),
        Cmd::SchedCtl(a) => guest::ctl::run(a),
    }
}

fn kernels_cmd(cmd: KernelsCmd) -> Result<ExitCode> {
    match cmd {
        KernelsCmd::List => {
            let cache = paths::cache_root()?;
            println!("{:<10} {:<7} {:<11} path", "version", "cached", "set");
            for v in kernels::PINNED {
                let tags: Vec<&str> = [
                    (kernels::CI.contains(v), "ci"),
                    (*v == kernels::default_version(), "default"),
                ]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, t)| *t)
                .collect();
                let cached = kernels::cached(&cache, v);
                let path = match &cached {
                    Some(k) => k.vmlinuz.display().to_string(),
                    None => "-".to_string(),
                };
                println!(
                    "{:<10} {:<7} {:<11} {}",
                    v,
                    if cached.is_some() { "yes" } else { "no" },
                    tags.join(","),
                    path
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        KernelsCmd::Fetch { versions } => {
            let wanted = if versions.is_empty() {
                vec![kernels::default_version().to_string()]
            } else {
                let mut out = Vec::new();
                for v in &versions {
                    for sel in kernels::parse_kernels_list(v)? {
                        match sel {
                            KernelSel::Pinned(p) => out.push(p),
                            KernelSel::Path(p) => {
                                bail!(
                                    "`kernels fetch` takes pinned versions, not a path ({})",
                                    p.display()
                                )
                            }
                        }
                    }
                }
                out.dedup();
                out
            };
            let mut failed = Vec::new();
            for v in wanted {
                match kernels::fetch(&v) {
                    Ok(k) => println!("{v}\t{}", k.vmlinuz.display()),
                    Err(e) => {
                        eprintln!("error: {e:#}");
                        failed.push(v);
                    }
                }
            }
            if failed.is_empty() {
                Ok(ExitCode::SUCCESS)
            } else {
                bail!("could not fetch kernel(s) {}", failed.join(", "))
            }
        }
        KernelsCmd::Path { version } => {
            let sel = kernels::parse_kernel_arg(&version)?;
            let k = kernels::resolve(&sel)?;
            println!("{}", k.vmlinuz.display());
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn vm_cmd(a: VmArgs) -> Result<ExitCode> {
    let sel = match &a.kernel {
        Some(k) => kernels::parse_kernel_arg(k)?,
        None => KernelSel::Pinned(kernels::default_version().to_string()),
    };
    let kernel = kernels::resolve(&sel)?;
    let cfg = vm::VmConfig {
        cpus: a.cpus,
        memory: a.memory,
        timeout: Duration::from_secs(a.timeout),
        rwdirs: a.rwdir,
        single_thread_tcg: !a.mttcg,
        console: if a.console {
            vm::Console::Show
        } else {
            vm::Console::Off
        },
        stdout: vm::Sink::Stdout,
        stderr: vm::Sink::Stderr,
        ..vm::VmConfig::new(&kernel)
    };
    let out = vm::run(&cfg, &a.command)?;
    eprintln!(
        "xtask vm: {} in {:.1} s on {}",
        out.status,
        out.elapsed.as_secs_f64(),
        kernel.label
    );
    Ok(match out.status {
        vm::VmStatus::Exited(rc) => ExitCode::from(rc.clamp(0, 255) as u8),
        vm::VmStatus::TimedOut => ExitCode::from(124),
        vm::VmStatus::Killed(_) => ExitCode::from(130),
    })
}
