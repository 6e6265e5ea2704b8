//! The benchmark agent: `xtask bench-guest --plan FILE`, run as root in the VM.
//!
//! For the kernel's default scheduler (nothing loaded) and then each scheduler
//! of the plan: load it (`--stats 1 --stats-json`, defaults
//! otherwise), confirm the kernel enabled it under its name, run every
//! workload `reps` times (interleaved, so slow drift spreads over all of
//! them), checking after each sample that it is still the one enabled, take
//! the overhead figures, stop it with SIGINT and confirm it detached.
//! `results.json` is rewritten after every scheduler, so a guest crash keeps
//! what was measured before.

use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::model::{
    BenchPlan, BenchResults, BenchSched, Overhead, ProgStat, SchedBench, DEFAULT_AGAIN,
    DEFAULT_SCHED, FAIR_NICE, FAIR_WEIGHTS, RESULTS_FILE,
};
use super::parse::{self, ProgInfo};
use super::stats;
use crate::guest::{ops, read_trim, state, wait_state, SCX_STATE};
use crate::util;

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";
/// Loading and verifying under TCG can take many seconds.
const ENABLE_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// A single workload run that takes longer than this is abandoned.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// cyclictest's histogram range (µs); a 99th percentile beyond it is not recorded.
pub const HISTOGRAM_US: u64 = 50_000;
/// Seconds of the timed workloads: stress-ng, cyclictest, the fairness loops.
const STRESS_SECS: u64 = 2;
const SECS: u64 = 3;
const FAIR_SECS: u64 = 2;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// The plan written by `xtask bench`
    #[arg(long)]
    plan: PathBuf,
}

struct Ctx {
    plan: BenchPlan,
    nr_cpus: usize,
    /// Writable scratch directory for the tools (stress-ng wants one).
    work: PathBuf,
    /// Logs kept for the reader: stats lines, stderr, kernel log.
    logs: PathBuf,
    out: PathBuf,
}

pub fn run(a: AgentArgs) -> Result<ExitCode> {
    let text = util::read_lossy(&a.plan)?;
    let plan: BenchPlan = serde_json::from_str(&text).context("failed to parse the bench plan")?;
    let uname = read_trim("/proc/sys/kernel/osrelease");
    let nr_cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    eprintln!(
        "{} (bench) on {uname} ({nr_cpus} CPUs)",
        crate::guest::AGENT_MARKER
    );
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the bench agent must run as root inside the VM");
    }
    if !Path::new(SCX_STATE).exists() {
        bail!("kernel {uname} has no sched_ext (/sys/kernel/sched_ext is missing)");
    }
    let logs = plan.results_dir.join("logs");
    fs::create_dir_all(&logs).with_context(|| format!("failed to create {}", logs.display()))?;
    let ctx = Ctx {
        work: work_dir(&plan.results_dir)?,
        out: plan.results_dir.join(RESULTS_FILE),
        logs,
        nr_cpus,
        plan,
    };
    let mut res = BenchResults {
        kernel: ctx.plan.kernel.clone(),
        uname,
        nr_cpus,
        reps: ctx.plan.reps,
        ..BenchResults::default()
    };
    probe_tools(&mut res);
    if let Err(e) = fs::write(BPF_STATS, "1") {
        res.problems.push(format!(
            "cannot enable kernel.bpf_stats_enabled ({e}); no BPF run times"
        ));
    }
    save(&ctx.out, &res)?;
    // The default scheduler first and, when others ran, once more at the end:
    // the second row shows how far the host's load drifted during the run.
    let mut entries: Vec<(String, Option<&BenchSched>)> = vec![(DEFAULT_SCHED.to_string(), None)];
    entries.extend(ctx.plan.scheds.iter().map(|s| (s.name.clone(), Some(s))));
    if !ctx.plan.scheds.is_empty() {
        entries.push((DEFAULT_AGAIN.to_string(), None));
    }
    for (name, s) in entries {
        bench_one(&ctx, &name, s, &mut res)?;
    }
    res.complete = true;
    save(&ctx.out, &res)?;
    Ok(ExitCode::SUCCESS)
}

fn save(path: &Path, res: &BenchResults) -> Result<()> {
    let json = serde_json::to_vec_pretty(res).context("failed to encode the bench results")?;
    util::write_atomic(path, &json)
}

/// A guest tmpfs if there is one, else a directory in the results.
fn work_dir(results: &Path) -> Result<PathBuf> {
    let tmp = PathBuf::from("/tmp/xtask-bench");
    if fs::create_dir_all(&tmp).is_ok() && fs::write(tmp.join(".probe"), b"").is_ok() {
        return Ok(tmp);
    }
    let d = results.join("work");
    fs::create_dir_all(&d).with_context(|| format!("failed to create {}", d.display()))?;
    Ok(d)
}

fn probe_tools(res: &mut BenchResults) {
    let probes: [(&str, &[&str]); 5] = [
        ("perf", &["--version"]),
        ("hackbench", &["--help"]),
        ("cyclictest", &["--help"]),
        ("stress-ng", &["--version"]),
        ("bpftool", &["version"]),
    ];
    for (tool, args) in probes {
        let line = match Command::new(tool).args(args).stdin(Stdio::null()).output() {
            Ok(o) => {
                let text = format!(
                    "{}{}",
                    String::from_utf8_lossy(&o.stdout),
                    String::from_utf8_lossy(&o.stderr)
                );
                text.lines()
                    .find(|l| !l.trim().is_empty())
                    .unwrap_or("(no output)")
                    .trim()
                    .to_string()
            }
            Err(e) => {
                res.problems
                    .push(format!("{tool} cannot run in the guest: {e}"));
                format!("missing: {e}")
            }
        };
        res.tools.insert(tool.to_string(), line);
    }
}

// ---------------------------------------------------------------------------
// sysfs and procfs

fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

fn dmesg(clear: bool) -> String {
    let mut c = Command::new("dmesg");
    if clear {
        c.arg("-C");
    }
    util::run_capture(&mut c, "dmesg").unwrap_or_default()
}

/// Kernel log lines that mean trouble.
fn bad_kernel_lines(log: &str) -> Vec<String> {
    const BAD: &[&str] = &[
        "BUG:",
        "WARNING:",
        "Oops",
        "runnable task stall",
        "scx_bpf_error",
        "runtime error",
        "panic",
    ];
    log.lines()
        .filter(|l| BAD.iter().any(|b| l.contains(b)))
        .map(|l| l.trim().to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// the loader process

struct Loader {
    child: Child,
    pid: u32,
    ops: String,
    bin: String,
    err_path: PathBuf,
    /// Stats lines with the time they arrived.
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
    reader: Option<JoinHandle<()>>,
}

impl Loader {
    fn start(s: &BenchSched, logs: &Path) -> Result<(Loader, f64)> {
        let bin = s
            .binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| s.name.clone());
        let err_path = logs.join(format!("{}.stderr.txt", s.name));
        let err = File::create(&err_path)
            .with_context(|| format!("failed to create {}", err_path.display()))?;
        let t0 = Instant::now();
        let mut child = Command::new(&s.binary)
            .args(["--stats", "1", "--stats-json"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .process_group(0)
            .spawn()
            .with_context(|| format!("failed to start {}", s.binary.display()))?;
        let pid = child.id();
        let lines: Arc<Mutex<Vec<(Instant, String)>>> = Arc::new(Mutex::new(Vec::new()));
        let reader = child.stdout.take().map(|pipe| {
            let lines = Arc::clone(&lines);
            thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut v) = lines.lock() {
                        v.push((Instant::now(), l));
                    }
                }
            })
        });
        let mut l = Loader {
            child,
            pid,
            ops: s.ops.clone(),
            bin,
            err_path,
            lines,
            reader,
        };
        loop {
            if let Ok(Some(st)) = l.child.try_wait() {
                bail!(
                    "{} exited with status {} before the kernel enabled it: {}",
                    l.bin,
                    util::status_code(&st),
                    l.last_err()
                );
            }
            if state() == "enabled" && ops().starts_with(&l.ops) {
                return Ok((l, t0.elapsed().as_secs_f64()));
            }
            if t0.elapsed() >= ENABLE_TIMEOUT {
                let why = format!(
                    "{} not enabled within {} s (state `{}`, ops `{}`): {}",
                    l.bin,
                    ENABLE_TIMEOUT.as_secs(),
                    state(),
                    ops(),
                    l.last_err()
                );
                l.kill();
                bail!(why);
            }
            thread::sleep(Duration::from_millis(100));
        }
    }

    fn last_err(&self) -> String {
        util::read_lossy(&self.err_path)
            .ok()
            .and_then(|t| util::last_line(&t).map(|l| l.trim().to_string()))
            .unwrap_or_else(|| "(no stderr output)".to_string())
    }

    /// Why it is no longer the enabled scheduler, if it is not.
    fn gone(&mut self, during: &str) -> Option<String> {
        if let Ok(Some(st)) = self.child.try_wait() {
            return Some(format!(
                "{} exited with status {} during {during}: {}",
                self.bin,
                util::status_code(&st),
                self.last_err()
            ));
        }
        let (st, o) = (state(), ops());
        (st != "enabled" || !o.starts_with(&self.ops)).then(|| {
            format!(
                "the kernel shows state `{st}`, ops `{o}` after {during}: {}",
                self.last_err()
            )
        })
    }

    fn kill(&mut self) {
        util::kill_group(self.pid, libc::SIGKILL);
        let _ = self.child.wait();
        if let Some(r) = self.reader.take() {
            let _ = r.join();
        }
    }

    /// SIGINT, then its exit status (None if it had to be killed).
    fn stop(&mut self) -> Option<i32> {
        util::kill_pid(self.pid, libc::SIGINT);
        let st = match util::wait_timeout(&mut self.child, STOP_TIMEOUT) {
            Ok(Some(st)) => Some(util::status_code(&st)),
            _ => None,
        };
        self.kill();
        st
    }

    fn snapshot(&self) -> Snapshot {
        let dir = format!("/proc/{}/fdinfo", self.pid);
        let mut progs = Vec::new();
        if let Ok(rd) = fs::read_dir(&dir) {
            for e in rd.filter_map(|e| e.ok()) {
                let Ok(text) = fs::read_to_string(e.path()) else {
                    continue;
                };
                if let Some(p) = parse::prog_info(&text) {
                    if p.prog_type == parse::PROG_TYPE_STRUCT_OPS
                        && !progs.iter().any(|q: &ProgInfo| q.id == p.id)
                    {
                        progs.push(p);
                    }
                }
            }
        }
        progs.sort_by_key(|p| p.id);
        let ticks = fs::read_to_string(format!("/proc/{}/stat", self.pid))
            .ok()
            .and_then(|s| parse::stat_cpu_ticks(&s));
        Snapshot {
            at: Instant::now(),
            progs,
            ticks,
        }
    }

    fn peak_rss_kib(&self) -> Option<u64> {
        fs::read_to_string(format!("/proc/{}/status", self.pid))
            .ok()
            .and_then(|s| parse::status_kib(&s, "VmHWM"))
    }

    fn stats_lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for Loader {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

struct Snapshot {
    at: Instant,
    progs: Vec<ProgInfo>,
    ticks: Option<u64>,
}

fn overhead(l: &Loader, a: &Snapshot, b: &Snapshot, nr_cpus: usize) -> Overhead {
    let window = b.at.duration_since(a.at).as_secs_f64();
    let names = util::run_capture(
        Command::new("bpftool").args(["prog", "show", "--json"]),
        "bpftool prog show",
    )
    .map(|j| parse::bpftool_names(&j))
    .unwrap_or_default();
    let progs: Vec<ProgStat> = b
        .progs
        .iter()
        .map(|p| {
            let before = a.progs.iter().find(|q| q.id == p.id);
            ProgStat {
                id: p.id,
                name: names
                    .get(&p.id)
                    .cloned()
                    .unwrap_or_else(|| format!("prog {}", p.id)),
                calls: p.run_cnt.saturating_sub(before.map_or(0, |q| q.run_cnt)),
                run_ns: p
                    .run_time_ns
                    .saturating_sub(before.map_or(0, |q| q.run_time_ns)),
                verified_insns: p.verified_insns,
            }
        })
        .collect();
    let tck = clk_tck();
    let mut o = Overhead {
        window_secs: window,
        progs,
        peak_rss_kib: l.peak_rss_kib(),
        loader_cpu_total_secs: b.ticks.map(|t| t as f64 / tck),
        ..Overhead::default()
    };
    if window > 0.0 {
        o.bpf_cpu_pct = Some(o.run_ns() as f64 / (window * 1e9 * nr_cpus as f64) * 100.0);
        if let (Some(x), Some(y)) = (a.ticks, b.ticks) {
            o.loader_cpu_pct = Some(y.saturating_sub(x) as f64 / tck / window * 100.0);
        }
    }
    let lines = l.stats_lines();
    o.last_stats = lines.last().and_then(|(_, s)| serde_json::from_str(s).ok());
    o.decisions_per_sec = decision_rate(&lines, a.at, b.at);
    o
}

/// scx_userland's decisions per second between two instants, from the
/// `nr_vruntime_dispatches` counter of its stats lines.
fn decision_rate(lines: &[(Instant, String)], from: Instant, to: Instant) -> Option<f64> {
    let key = "nr_vruntime_dispatches";
    let inside: Vec<(Instant, u64)> = lines
        .iter()
        .filter(|(t, _)| *t >= from && *t <= to)
        .filter_map(|(t, s)| Some((*t, parse::stats_counter(s, key)?)))
        .collect();
    let (first, last) = (inside.first()?, inside.last()?);
    let secs = last.0.duration_since(first.0).as_secs_f64();
    (secs > 0.0).then(|| last.1.saturating_sub(first.1) as f64 / secs)
}

// ---------------------------------------------------------------------------
// workloads

/// Busy loops (`sh`), optionally pinned and niced; killed when dropped.
struct Spinners(Vec<Child>);

impl Spinners {
    fn start(specs: &[(Option<usize>, i32)]) -> Result<Spinners> {
        let mut s = Spinners(Vec::new());
        for &(cpu, nice) in specs {
            let mut c = Command::new("/bin/sh");
            c.args(["-c", "while :; do :; done"])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // SAFETY: the closure runs between fork and exec and only makes
            // async-signal-safe system calls on the child itself.
            unsafe {
                c.pre_exec(move || {
                    if let Some(cpu) = cpu {
                        let mut set: libc::cpu_set_t = std::mem::zeroed();
                        libc::CPU_SET(cpu, &mut set);
                        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                    }
                    if nice != 0 && libc::setpriority(libc::PRIO_PROCESS, 0, nice) != 0 {
                        return Err(std::io::Error::last_os_error());
                    }
                    Ok(())
                });
            }
            s.0.push(c.spawn().context("failed to start a busy loop")?);
        }
        Ok(s)
    }

    fn cpu_ns(&self) -> Vec<Option<u64>> {
        self.0
            .iter()
            .map(|c| {
                let pid = c.id();
                fs::read_to_string(format!("/proc/{pid}/schedstat"))
                    .ok()
                    .and_then(|t| parse::schedstat_ns(&t))
                    .or_else(|| {
                        let t = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
                        let ticks = parse::stat_cpu_ticks(&t)?;
                        Some((ticks as f64 / clk_tck() * 1e9) as u64)
                    })
            })
            .collect()
    }
}

impl Drop for Spinners {
    fn drop(&mut self) {
        for c in &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Run a tool to completion with its output in a scratch file; the output.
fn run_tool(ctx: &Ctx, cmd: &mut Command) -> Result<String> {
    let log = ctx.work.join("tool.out");
    let f = File::create(&log).with_context(|| format!("failed to create {}", log.display()))?;
    let f2 = f.try_clone().context("failed to duplicate a file handle")?;
    let mut child = cmd
        .current_dir(&ctx.work)
        .stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .process_group(0)
        .spawn()
        .context("failed to start")?;
    let st = util::wait_timeout(&mut child, RUN_LIMIT)?;
    let out = util::read_lossy(&log).unwrap_or_default();
    match st {
        Some(st) if st.success() => Ok(out),
        Some(st) => bail!(
            "exited with status {}: {}",
            util::status_code(&st),
            util::last_line(&out).unwrap_or("(no output)")
        ),
        None => {
            util::kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            bail!("did not finish within {} s", RUN_LIMIT.as_secs())
        }
    }
}

/// The workloads, in the order each repetition runs them.
const WORKLOADS: &[&str] = &[
    "messaging",
    "hackbench",
    "stress_cpu",
    "stress_switch",
    "pipe",
    "cyclictest",
    "fairness",
    "fairness_free",
];

/// One run of a workload: (metric id, value) pairs, and the fairness shares.
type Sample = (Vec<(&'static str, f64)>, Option<Vec<f64>>);

fn run_workload(ctx: &Ctx, w: &str) -> Result<Sample> {
    let n = ctx.nr_cpus.to_string();
    let secs = format!("{STRESS_SECS}s");
    let missing = |what: &str| anyhow::anyhow!("no figure in the output of {what}");
    let one = |id: &'static str, v: f64| Ok((vec![(id, v)], None));
    match w {
        "messaging" => {
            let out = run_tool(
                ctx,
                Command::new("perf").args(["bench", "sched", "messaging", "-g", "2", "-l", "40"]),
            )?;
            one(
                "messaging",
                parse::perf_messaging_secs(&out).ok_or_else(|| missing("perf"))?,
            )
        }
        "hackbench" => {
            let out = run_tool(
                ctx,
                Command::new("hackbench").args(["-p", "-g", "2", "-l", "50"]),
            )?;
            one(
                "hackbench",
                parse::hackbench_secs(&out).ok_or_else(|| missing("hackbench"))?,
            )
        }
        "stress_cpu" | "stress_switch" => {
            let stressor = w.trim_start_matches("stress_");
            let out = run_tool(
                ctx,
                Command::new("stress-ng").args([
                    &format!("--{stressor}"),
                    n.as_str(),
                    "-t",
                    &secs,
                    "--metrics-brief",
                ]),
            )?;
            let id = if stressor == "cpu" {
                "stress_cpu"
            } else {
                "stress_switch"
            };
            one(
                id,
                parse::stress_ng_rate(&out, stressor).ok_or_else(|| missing("stress-ng"))?,
            )
        }
        "pipe" => {
            let out = run_tool(
                ctx,
                Command::new("perf").args(["bench", "sched", "pipe", "-l", "10000"]),
            )?;
            one(
                "pipe",
                parse::perf_pipe_usecs(&out).ok_or_else(|| missing("perf"))?,
            )
        }
        "cyclictest" => {
            let specs: Vec<(Option<usize>, i32)> = (0..ctx.nr_cpus).map(|_| (None, 0)).collect();
            let hogs = Spinners::start(&specs)?;
            thread::sleep(Duration::from_millis(300));
            let out = run_tool(
                ctx,
                Command::new("cyclictest").args([
                    "--policy=other",
                    "-t",
                    "1",
                    "-i",
                    "1000",
                    "-D",
                    &SECS.to_string(),
                    "-q",
                    "-h",
                    &HISTOGRAM_US.to_string(),
                ]),
            );
            drop(hogs);
            let c = parse::cyclictest(&out?).ok_or_else(|| missing("cyclictest"))?;
            let mut v = vec![("cyclictest_avg", c.avg), ("cyclictest_max", c.max)];
            if let Some(p) = c.p99 {
                v.push(("cyclictest_p99", p));
            }
            Ok((v, None))
        }
        "fairness" => {
            // Pinned: the tasks can only take turns, so this is the weighting
            // of the scheduler's path for tasks with one allowed CPU.
            let cpu = ctx.nr_cpus - 1;
            let specs: Vec<(Option<usize>, i32)> =
                FAIR_NICE.iter().map(|&n| (Some(cpu), n)).collect();
            let shares = loop_shares(&specs, FAIR_NICE.len())?;
            fair_sample("fairness_error", shares)
        }
        "fairness_free" => {
            // Unpinned: N loops of each nice level on N CPUs, so that each
            // nice 0 loop's share (69.7% of a CPU) is possible everywhere.
            let specs: Vec<(Option<usize>, i32)> = FAIR_NICE
                .iter()
                .flat_map(|&n| (0..ctx.nr_cpus).map(move |_| (None, n)))
                .collect();
            let shares = loop_shares(&specs, FAIR_NICE.len())?;
            fair_sample("fairness_free_error", shares)
        }
        other => bail!("unknown workload {other}"),
    }
}

/// CPU time of busy loops over [`FAIR_SECS`], summed into `groups` consecutive
/// groups of equal size (one per nice level).
fn loop_shares(specs: &[(Option<usize>, i32)], groups: usize) -> Result<Vec<f64>> {
    let loops = Spinners::start(specs)?;
    thread::sleep(Duration::from_millis(300));
    let a = loops.cpu_ns();
    thread::sleep(Duration::from_secs(FAIR_SECS));
    let b = loops.cpu_ns();
    drop(loops);
    let per_loop: Vec<f64> = a
        .iter()
        .zip(&b)
        .map(|(x, y)| match (x, y) {
            (Some(x), Some(y)) => Ok(y.saturating_sub(*x) as f64),
            _ => bail!("cannot read the CPU time of a busy loop"),
        })
        .collect::<Result<_>>()?;
    Ok(group_sums(&per_loop, groups))
}

/// Sum `v` into `groups` consecutive groups of equal size.
fn group_sums(v: &[f64], groups: usize) -> Vec<f64> {
    let size = (v.len() / groups.max(1)).max(1);
    v.chunks(size).map(|c| c.iter().sum()).collect()
}

fn fair_sample(id: &'static str, shares: Vec<f64>) -> Result<Sample> {
    let err =
        stats::fairness_error(&shares, &FAIR_WEIGHTS).context("the busy loops got no CPU time")?;
    let tot: f64 = shares.iter().sum();
    Ok((
        vec![(id, err)],
        Some(shares.iter().map(|s| s / tot).collect()),
    ))
}

// ---------------------------------------------------------------------------
// one scheduler

fn bench_one(ctx: &Ctx, name: &str, s: Option<&BenchSched>, res: &mut BenchResults) -> Result<()> {
    let t0 = Instant::now();
    res.scheds.push(SchedBench {
        name: name.to_string(),
        ..SchedBench::default()
    });
    let idx = res.scheds.len() - 1;
    save(&ctx.out, res)?;
    let sb = &mut res.scheds[idx];
    let tag = format!("xtask-bench: [{}] {name}:", ctx.plan.kernel);

    if state() != "disabled" {
        sb.problems.push(format!(
            "another scheduler is enabled (ops `{}`); not measured",
            ops()
        ));
    } else {
        let _ = dmesg(true);
        let loader = match s {
            None => {
                sb.enabled = true;
                None
            }
            Some(s) => {
                eprintln!("{tag} loading {}", s.binary.display());
                match Loader::start(s, &ctx.logs) {
                    Ok((l, secs)) => {
                        sb.enabled = true;
                        sb.load_secs = Some(secs);
                        eprintln!("{tag} enabled after {secs:.1} s (ops `{}`)", ops());
                        Some(l)
                    }
                    Err(e) => {
                        sb.problems.push(format!("{e:#}"));
                        None
                    }
                }
            }
        };
        if sb.enabled {
            measure(ctx, &tag, loader, sb);
        }
        let log = dmesg(false);
        let _ = fs::write(ctx.logs.join(format!("{name}.dmesg.txt")), &log);
        for l in bad_kernel_lines(&log) {
            sb.problems.push(format!("kernel log: {l}"));
        }
    }
    if s.is_none() {
        sb.state_after = state();
    }
    sb.secs = t0.elapsed().as_secs_f64();
    sb.done = true;
    eprintln!(
        "{tag} done in {:.0} s{}",
        sb.secs,
        if sb.clean() { "" } else { " (with problems)" }
    );
    save(&ctx.out, res)
}

fn measure(ctx: &Ctx, tag: &str, mut loader: Option<Loader>, sb: &mut SchedBench) {
    let before = loader.as_ref().map(Loader::snapshot);
    'reps: for rep in 1..=ctx.plan.reps {
        for w in WORKLOADS {
            let t = Instant::now();
            match run_workload(ctx, w) {
                Ok((values, shares)) => {
                    let shown: Vec<String> = values
                        .iter()
                        .map(|(k, v)| {
                            sb.samples.entry(k.to_string()).or_default().push(*v);
                            format!("{k}={v:.2}")
                        })
                        .collect();
                    match shares {
                        Some(sh) if *w == "fairness" => sb.fair_shares.push(sh),
                        Some(sh) => sb.fair_free_shares.push(sh),
                        None => {}
                    }
                    eprintln!(
                        "{tag} rep {rep}/{} {w}: {} ({:.1} s)",
                        ctx.plan.reps,
                        shown.join(" "),
                        t.elapsed().as_secs_f64()
                    );
                }
                Err(e) => {
                    let msg = format!("{w} (rep {rep}): {e:#}");
                    eprintln!("{tag} {msg}");
                    sb.problems.push(msg);
                }
            }
            let during = format!("{w} (rep {rep})");
            match loader.as_mut() {
                Some(l) => {
                    if let Some(why) = l.gone(&during) {
                        eprintln!("{tag} EJECTED: {why}");
                        sb.ejected = Some(why);
                        break 'reps;
                    }
                }
                None => {
                    if state() != "disabled" {
                        sb.ejected = Some(format!(
                            "a scheduler (ops `{}`) appeared during {during}",
                            ops()
                        ));
                        break 'reps;
                    }
                }
            }
        }
    }
    let Some(mut l) = loader else {
        return;
    };
    if let Some(a) = before {
        let b = l.snapshot();
        if l.gone("the overhead snapshot").is_none() {
            sb.overhead = Some(overhead(&l, &a, &b, ctx.nr_cpus));
        }
    }
    eprintln!("{tag} stopping {} with SIGINT", l.bin);
    sb.exit_status = l.stop();
    if sb.exit_status.is_none() {
        sb.problems.push(format!(
            "{} did not exit within {} s of SIGINT",
            l.bin,
            STOP_TIMEOUT.as_secs()
        ));
    }
    if !wait_state("disabled", Duration::from_secs(10)) {
        sb.problems
            .push(format!("state `{}` after the loader exited", state()));
    }
    sb.state_after = state();
    let stats: Vec<String> = l.stats_lines().into_iter().map(|(_, s)| s).collect();
    let _ = fs::write(
        ctx.logs.join(format!("{}.stats.jsonl", sb.name)),
        stats.join("\n") + "\n",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_log_filter() {
        let log = "[ 1.0] sched_ext: BPF scheduler \"simple\" enabled\n\
                   [ 2.0] sched_ext: simple: runnable task stall (x[1] failed to run for 30 s)\n\
                   [ 3.0] WARNING: CPU: 1 PID: 4 at kernel/sched/ext.c:1\n";
        let bad = bad_kernel_lines(log);
        assert_eq!(bad.len(), 2);
        assert!(bad[0].contains("task stall"));
    }

    #[test]
    fn loops_grouped_by_nice_level() {
        assert_eq!(
            group_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3),
            [3.0, 7.0, 11.0]
        );
        assert_eq!(group_sums(&[1.0, 2.0, 3.0], 3), [1.0, 2.0, 3.0]);
    }

    #[test]
    fn userland_decision_rate() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let line = |n: u64| format!(r#"{{"nr_vruntime_dispatches":{n},"batch":8}}"#);
        let lines = vec![
            (at(1), line(100)),
            (at(2), line(400)),
            (at(4), line(1000)),
            (at(9), line(5000)),
        ];
        // Only the lines inside the window count: (1000 - 400) / 2 s.
        assert_eq!(decision_rate(&lines, at(2), at(5)), Some(300.0));
        assert_eq!(decision_rate(&lines, at(5), at(6)), None);
        let other = vec![(at(1), r#"{"local":1}"#.to_string()), (at(3), "{}".into())];
        assert_eq!(decision_rate(&other, at(0), at(9)), None);
    }

    #[test]
    fn every_workload_metric_is_known() {
        for id in [
            "messaging",
            "hackbench",
            "stress_cpu",
            "stress_switch",
            "pipe",
            "cyclictest_avg",
            "cyclictest_p99",
            "cyclictest_max",
            "fairness_error",
            "fairness_free_error",
        ] {
            assert!(super::super::model::metric(id).is_some(), "{id}");
        }
        assert_eq!(WORKLOADS.len(), 8);
    }
}
