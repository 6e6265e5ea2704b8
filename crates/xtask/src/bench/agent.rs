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

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::thread::{self};
use std::time::Instant;

use anyhow::{bail, Context, Result};

use super::model::{
    BenchPlan, BenchResults, BenchSched, Overhead, ProgStat, SchedBench, DEFAULT_AGAIN,
    DEFAULT_SCHED, RESULTS_FILE,
};
use super::parse::{self, ProgInfo};
use super::workloads::{run_workload, WORKLOADS};
use crate::guest::driver::{
    ops, read_trim, state, wait_disabled, Launch, Sched, Stdout, SCX_STATE, STOP_TIMEOUT,
};
use crate::guest::kernel_log::{dmesg_clear, dmesg_text, flagged_lines};
use crate::util;

const BPF_STATS: &str = "/proc/sys/kernel/bpf_stats_enabled";
pub use super::workloads::HISTOGRAM_US;

#[derive(clap::Args)]
pub struct AgentArgs {
    /// The plan written by `xtask bench`
    #[arg(long)]
    plan: PathBuf,
}

pub(super) struct Ctx {
    plan: BenchPlan,
    pub(super) nr_cpus: usize,
    /// Writable scratch directory for the tools (stress-ng wants one).
    pub(super) work: PathBuf,
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

pub(super) fn clk_tck() -> f64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 {
        t as f64
    } else {
        100.0
    }
}

// ---------------------------------------------------------------------------
// the loader process, run by the guest's driver

/// Start `s` with its stats as JSON lines and wait until the kernel enables
/// it: the driver's handle and the seconds it took.
fn start(s: &BenchSched, logs: &Path) -> Result<(Sched, f64), String> {
    let t0 = Instant::now();
    let mut sched = Sched::spawn(&Launch {
        binary: &s.binary,
        ops: &s.ops,
        args: &["--stats-json".to_string()],
        stdout: Stdout::Lines,
        stderr: logs.join(format!("{}.stderr.txt", s.name)),
        tee_stderr: false,
        cwd: None,
    })
    .map_err(|e| format!("{e:#}"))?;
    sched.wait_enabled()?;
    Ok((sched, t0.elapsed().as_secs_f64()))
}

fn snapshot(pid: u32) -> Snapshot {
    let dir = format!("/proc/{pid}/fdinfo");
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
    let ticks = fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| parse::stat_cpu_ticks(&s));
    Snapshot {
        at: Instant::now(),
        progs,
        ticks,
    }
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| parse::status_kib(&s, "VmHWM"))
}

struct Snapshot {
    at: Instant,
    progs: Vec<ProgInfo>,
    ticks: Option<u64>,
}

fn overhead(l: &Sched, a: &Snapshot, b: &Snapshot, nr_cpus: usize) -> Overhead {
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
        peak_rss_kib: peak_rss_kib(l.pid()),
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
        let _ = dmesg_clear();
        let loader = match s {
            None => {
                sb.enabled = true;
                None
            }
            Some(s) => {
                eprintln!("{tag} loading {}", s.binary.display());
                match start(s, &ctx.logs) {
                    Ok((l, secs)) => {
                        sb.enabled = true;
                        sb.load_secs = Some(secs);
                        eprintln!("{tag} enabled after {secs:.1} s (ops `{}`)", ops());
                        Some(l)
                    }
                    Err(e) => {
                        sb.problems.push(e);
                        None
                    }
                }
            }
        };
        if sb.enabled {
            measure(ctx, &tag, loader, sb);
        }
        let log = dmesg_text();
        let _ = fs::write(ctx.logs.join(format!("{name}.dmesg.txt")), &log);
        for l in flagged_lines(&log) {
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

fn measure(ctx: &Ctx, tag: &str, mut loader: Option<Sched>, sb: &mut SchedBench) {
    let before = loader.as_ref().map(|l| snapshot(l.pid()));
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
        let b = snapshot(l.pid());
        if l.gone("the overhead snapshot").is_none() {
            sb.overhead = Some(overhead(&l, &a, &b, ctx.nr_cpus));
        }
    }
    eprintln!("{tag} stopping {} with SIGINT", l.bin);
    sb.exit_status = l.stop(libc::SIGINT);
    if sb.exit_status.is_none() {
        sb.problems.push(format!(
            "{} did not exit within {} s of SIGINT",
            l.bin,
            STOP_TIMEOUT.as_secs()
        ));
    }
    if !wait_disabled() {
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
    use std::time::Duration;

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
}
