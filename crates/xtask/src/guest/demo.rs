//! Demo mode: one scheduler under a short workload, stats shown live, and a
//! summary for the host.

use std::fs::{self};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Result};

use super::bin_name;
use super::driver::{
    exit_desc, ops, spawn_logged, state, wait_disabled, Launch, Sched, Stdout, STATS_ARGS,
    STOP_TIMEOUT,
};
use super::kernel_log::{dmesg_clear, dmesg_text, flagged_lines};
use super::smoke::stress_ng;
use super::smoke::FORKS;
use crate::plan::{DemoSummary, Plan, SchedPlan};
use crate::util;

// ---------------------------------------------------------------------------
// demo mode

pub(super) fn demo(plan: &Plan, s: &SchedPlan, nr_cpus: usize) -> DemoSummary {
    let mut sum = DemoSummary {
        sched: s.name.clone(),
        ..DemoSummary::default()
    };
    let dir = plan.results_dir.join(&s.name);
    let _ = fs::create_dir_all(&dir);
    let bin = bin_name(s);
    if state() != "disabled" {
        sum.problems
            .push(format!("another scheduler was enabled (ops `{}`)", ops()));
        return sum;
    }
    let _ = dmesg_clear();
    eprintln!(
        "xtask-guest: starting {bin} {} {}",
        STATS_ARGS.join(" "),
        s.args.join(" ")
    );
    // stdout goes straight to the VM's stdout, so the stats show live on the
    // host; stderr is shown live and kept for the exit line.
    let spawned = Sched::spawn(&Launch {
        binary: &s.binary,
        ops: &s.ops,
        args: &s.args,
        stdout: Stdout::Inherit,
        stderr: dir.join("sched.err"),
        tee_stderr: true,
        cwd: None,
    });
    let mut sched = match spawned {
        Ok(c) => c,
        Err(e) => {
            sum.problems.push(format!("{e:#}"));
            return sum;
        }
    };
    match sched.wait_enabled() {
        Ok(_) => sum.enabled = true,
        Err(e) => sum.problems.push(e),
    }
    sum.ops = ops();
    if sum.enabled {
        eprintln!(
            "xtask-guest: {bin} is enabled (ops `{}`); running the workload",
            sum.ops
        );
        demo_workload(plan, nr_cpus, &dir, &mut sum);
        if let Some(st) = sched.exited() {
            sum.problems.push(format!(
                "{bin} exited during the workload with {}",
                exit_desc(st)
            ));
        }
    }
    eprintln!("xtask-guest: stopping {bin} with SIGINT");
    sum.exit_status = sched.stop(libc::SIGINT);
    if sum.exit_status.is_none() {
        sum.problems.push(format!(
            "{bin} did not exit within {} s of SIGINT",
            STOP_TIMEOUT.as_secs()
        ));
    }
    let stderr = sched.stderr_text();
    sum.exit_line = stderr
        .lines()
        .rfind(|l| l.contains("EXIT:"))
        .or_else(|| util::last_line(&stderr))
        .unwrap_or("")
        .trim()
        .to_string();
    wait_disabled();
    sum.state_after = state();
    let log = dmesg_text();
    let _ = fs::write(dir.join("dmesg.txt"), &log);
    for l in flagged_lines(&log) {
        sum.problems.push(format!("kernel log: {}", l.trim()));
    }
    sum
}

pub(super) fn demo_workload(plan: &Plan, nr_cpus: usize, dir: &Path, sum: &mut DemoSummary) {
    let n = nr_cpus.to_string();
    let secs = plan.stress_secs;
    eprintln!("xtask-guest: workload: stress-ng --cpu {n} --switch {n} -t {secs}s");
    match run_timed(
        &mut stress_ng(&n, secs),
        Duration::from_secs(secs + 90),
        dir,
    ) {
        Ok((out, _)) => {
            for (stressor, rate) in stress_ng_rates(&out) {
                sum.figures.push((
                    format!("stress-ng {stressor}"),
                    format!("{rate} bogo ops/s"),
                ));
            }
        }
        Err(e) => sum.problems.push(format!("stress-ng: {e:#}")),
    }
    eprintln!("xtask-guest: workload: hackbench -g 4 -l 100");
    match run_timed(
        Command::new("hackbench").args(["-g", "4", "-l", "100"]),
        Duration::from_secs(120),
        dir,
    ) {
        Ok((out, _)) => {
            let t = out
                .lines()
                .find_map(|l| l.strip_prefix("Time:"))
                .map(str::trim)
                .unwrap_or("?");
            sum.figures
                .push(("hackbench -g 4 -l 100".into(), format!("{t} s")));
        }
        Err(e) => sum.problems.push(format!("hackbench: {e:#}")),
    }
    let forks = FORKS;
    eprintln!("xtask-guest: workload: {forks} fork+exec of /bin/true");
    let t0 = Instant::now();
    let ok = (0..forks).all(|_| {
        Command::new("/bin/true")
            .status()
            .is_ok_and(|s| s.success())
    });
    let el = t0.elapsed().as_secs_f64();
    if ok {
        sum.figures.push((
            format!("fork+exec x{forks}"),
            format!("{el:.2} s ({:.0}/s)", forks as f64 / el),
        ));
    } else {
        sum.problems.push("a fork+exec of /bin/true failed".into());
    }
}

/// Run a workload with a time limit, returning its combined output.
pub(super) fn run_timed(
    cmd: &mut Command,
    limit: Duration,
    dir: &Path,
) -> Result<(String, Duration)> {
    let log = dir.join("workload.txt");
    let t0 = Instant::now();
    let mut child = spawn_logged(cmd.current_dir(dir), &log)?;
    let st = util::wait_timeout(&mut child, limit)?;
    let out = util::read_lossy(&log).unwrap_or_default();
    match st {
        Some(st) if st.success() => Ok((out, t0.elapsed())),
        Some(st) => bail!(
            "exited with {}: {}",
            exit_desc(util::status_code(&st)),
            util::last_line(&out).unwrap_or("")
        ),
        None => {
            util::kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            bail!("did not finish within {} s", limit.as_secs())
        }
    }
}

/// (stressor, bogo ops/s over real time) from stress-ng `--metrics-brief` output.
pub fn stress_ng_rates(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let rest = l.split_once("] ")?.1;
            let mut words = rest.split_whitespace();
            let name = words.next()?;
            let nums: Vec<&str> = words.collect();
            // bogo-ops, real, usr, sys, ops/s (real), ops/s (usr+sys)
            let all_numeric = nums.len() >= 5 && nums.iter().all(|n| n.parse::<f64>().is_ok());
            all_numeric.then(|| (name.to_string(), nums[4].to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stress_ng_metrics() {
        let out = "\
stress-ng: info:  [21554] dispatching hogs: 2 cpu, 2 switch
stress-ng: metrc: [21554] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [21554]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [21554] cpu                2142      2.03      1.65      0.00      1057.53        1301.59
stress-ng: metrc: [21554] switch           215582      2.00      0.16      1.68    107741.43      117439.22
stress-ng: metrc: [21554] switch             18533.60 nanosecs per context switch (pipe method)
stress-ng: info:  [21554] successful run completed in 2.05s
";
        assert_eq!(
            stress_ng_rates(out),
            [
                ("cpu".to_string(), "1057.53".to_string()),
                ("switch".to_string(), "107741.43".to_string())
            ]
        );
    }
}
