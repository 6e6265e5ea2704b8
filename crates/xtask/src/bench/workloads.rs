//! The benchmark's workloads: each tool run once, its figures parsed, and the
//! busy loops of the fairness workloads.

use std::fs::{self, File};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::thread;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::agent::{clk_tck, Ctx};
use super::model::{FAIR_NICE, FAIR_WEIGHTS};
use super::{parse, stats};
use crate::util;

/// A single workload run that takes longer than this is abandoned.
const RUN_LIMIT: Duration = Duration::from_secs(90);
/// cyclictest's histogram range (µs); a 99th percentile beyond it is not recorded.
pub const HISTOGRAM_US: u64 = 50_000;
/// Seconds of the timed workloads: stress-ng, cyclictest, the fairness loops.
const STRESS_SECS: u64 = 2;
const SECS: u64 = 3;
const FAIR_SECS: u64 = 2;

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
pub(super) const WORKLOADS: &[&str] = &[
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

pub(super) fn run_workload(ctx: &Ctx, w: &str) -> Result<Sample> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_grouped_by_nice_level() {
        assert_eq!(
            group_sums(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0], 3),
            [3.0, 7.0, 11.0]
        );
        assert_eq!(group_sums(&[1.0, 2.0, 3.0], 3), [1.0, 2.0, 3.0]);
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
