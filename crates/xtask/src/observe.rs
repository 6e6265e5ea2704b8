//! `xtask observe`: a starvation observer that knows nothing of the scheduler
//! under test. Run in the guest, it samples every thread's state
//! (`/proc/PID/task/TID/stat`, field 3) and run time (`schedstat`, field 1)
//! every `--interval-ms` from a SCHED_FIFO thread, so the load it watches cannot
//! starve it, and tracks for each thread how long it has stayed runnable (state
//! `R`) without its run time advancing. At the end (`--secs`, SIGINT or
//! SIGTERM) it prints the longest such wait overall and among kernel threads
//! (pid, comm, ms), as one JSON object or a text line.
//!
//! A wait is measured from the first sample that saw the thread runnable with
//! its current run time, so it undercounts a real wait by at most one interval
//! plus the time one sweep takes; it never overcounts one.

use std::collections::HashMap;
use std::fs;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::util;

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags field (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

#[derive(clap::Args)]
pub struct ObserveArgs {
    /// Stop after this many seconds (SIGINT or SIGTERM stop it earlier)
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    secs: u64,
    /// Milliseconds between two sweeps of /proc
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(10..=10_000))]
    interval_ms: u64,
    /// SCHED_FIFO priority of the sampling thread (0: leave the policy alone)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(0..=99))]
    fifo: i32,
    /// Print one JSON object instead of a text line
    #[arg(long)]
    json: bool,
}

/// The fields of one thread's `stat` and `schedstat` the observer uses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub comm: String,
    pub state: char,
    pub flags: u64,
    /// Start time in clock ticks since boot: tells a reused TID apart.
    pub start: u64,
    /// Nanoseconds on a CPU (`schedstat` field 1).
    pub run_ns: u64,
}

/// Parses `/proc/PID/task/TID/stat` and `schedstat` text.
pub fn parse(stat: &str, schedstat: &str) -> Option<Sample> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?.to_string();
    // Fields after the command name start with field 3 (state).
    let rest: Vec<&str> = stat.get(close + 1..)?.split_whitespace().collect();
    let state = rest.first()?.chars().next()?;
    let flags = rest.get(6)?.parse().ok()?;
    let start = rest.get(19)?.parse().ok()?;
    let run_ns = schedstat.split_whitespace().next()?.parse().ok()?;
    Some(Sample {
        comm,
        state,
        flags,
        start,
        run_ns,
    })
}

/// The longest wait seen, and whose.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Longest {
    pub ms: u64,
    pub pid: i32,
    pub tid: i32,
    pub comm: String,
}

#[derive(Debug, Default)]
struct Track {
    start: u64,
    run_ns: u64,
    /// When the current runnable-without-running stretch was first seen.
    since: Option<Instant>,
}

/// Wait accounting over successive samples.
#[derive(Debug, Default)]
pub struct Waits {
    threads: HashMap<i32, Track>,
    pub longest: Longest,
    pub longest_kthread: Longest,
}

impl Waits {
    /// Accounts one sample of thread `tid` (of process `pid`) taken at `now`.
    pub fn record(&mut self, pid: i32, tid: i32, s: &Sample, now: Instant) {
        let t = self.threads.entry(tid).or_default();
        let same = t.start == s.start && t.run_ns == s.run_ns && t.since.is_some();
        if s.state != 'R' {
            t.since = None;
        } else if !same {
            t.since = Some(now);
        }
        t.start = s.start;
        t.run_ns = s.run_ns;
        let Some(since) = t.since else {
            return;
        };
        let ms = now.saturating_duration_since(since).as_millis() as u64;
        let longest = if s.flags & PF_KTHREAD != 0 {
            &mut self.longest_kthread
        } else {
            &mut self.longest
        };
        if ms > longest.ms {
            *longest = Longest {
                ms,
                pid,
                tid,
                comm: s.comm.clone(),
            };
        }
    }

    /// Forgets threads not seen in the last sweep (`seen` holds those that were).
    pub fn retain(&mut self, seen: &std::collections::HashSet<i32>) {
        self.threads.retain(|tid, _| seen.contains(tid));
    }

    /// The longest wait of all threads, kernel threads included.
    pub fn overall(&self) -> &Longest {
        if self.longest_kthread.ms > self.longest.ms {
            &self.longest_kthread
        } else {
            &self.longest
        }
    }
}

#[derive(Serialize)]
struct Report<'a> {
    secs: f64,
    sweeps: u64,
    threads_seen: usize,
    /// The longest time between the starts of two sweeps (the observer's own lag).
    max_sweep_gap_ms: u64,
    longest: &'a Longest,
    longest_kthread: &'a Longest,
}

fn numeric_entries(dir: &str) -> Vec<i32> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Makes the calling thread SCHED_FIFO at `prio`.
pub fn set_fifo(prio: i32) -> Result<()> {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: sched_setscheduler(2) on the calling thread (pid 0) reads `param` only.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_FIFO, &param) };
    if rc != 0 {
        bail!(
            "sched_setscheduler(SCHED_FIFO, {prio}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

pub fn run(a: ObserveArgs) -> Result<ExitCode> {
    util::install_interrupt_handler();
    if a.fifo > 0 {
        set_fifo(a.fifo).context("failed to make the observer SCHED_FIFO")?;
    }
    let me = std::process::id() as i32;
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(a.secs);
    let interval = Duration::from_millis(a.interval_ms);
    let mut waits = Waits::default();
    let mut all_seen = std::collections::HashSet::new();
    let (mut sweeps, mut max_gap) = (0u64, Duration::ZERO);
    let mut last_sweep: Option<Instant> = None;
    while Instant::now() < end && !util::interrupted() {
        let sweep = Instant::now();
        if let Some(l) = last_sweep {
            max_gap = max_gap.max(sweep - l);
        }
        last_sweep = Some(sweep);
        let mut seen = std::collections::HashSet::new();
        for pid in numeric_entries("/proc") {
            if pid == me {
                continue;
            }
            for tid in numeric_entries(&format!("/proc/{pid}/task")) {
                let base = format!("/proc/{pid}/task/{tid}");
                let (Ok(stat), Ok(ss)) = (
                    fs::read_to_string(format!("{base}/stat")),
                    fs::read_to_string(format!("{base}/schedstat")),
                ) else {
                    continue;
                };
                if let Some(s) = parse(&stat, &ss) {
                    waits.record(pid, tid, &s, Instant::now());
                    seen.insert(tid);
                }
            }
        }
        waits.retain(&seen);
        all_seen.extend(seen);
        sweeps += 1;
        std::thread::sleep(interval);
    }
    let longest = waits.overall().clone();
    let report = Report {
        secs: t0.elapsed().as_secs_f64(),
        sweeps,
        threads_seen: all_seen.len(),
        max_sweep_gap_ms: max_gap.as_millis() as u64,
        longest: &longest,
        longest_kthread: &waits.longest_kthread,
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "longest wait {} ms ({}[{}]), kernel threads {} ms ({}[{}]); {} sweeps over {:.1} s, {} threads, largest sweep gap {} ms",
            longest.ms,
            longest.comm,
            longest.tid,
            waits.longest_kthread.ms,
            waits.longest_kthread.comm,
            waits.longest_kthread.tid,
            sweeps,
            report.secs,
            report.threads_seen,
            report.max_sweep_gap_ms
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STAT: &str = "412 (stress-ng (aff)) R 1 412 412 0 -1 4194624 90 0 0 0 \
        17 4 0 0 20 0 1 0 5123 10000 100 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 2 0 0";
    const KSTAT: &str = "15 (rcu_preempt) I 2 0 0 0 -1 2129984 0 0 0 0 0 3 0 0 20 0 1 0 9 0 0 \
        18446744073709551615 0 0 0 0 0 0 0 2147483647 0 0 0 0 17 0 0 0";

    #[test]
    fn parses_stat_and_schedstat() {
        let s = parse(STAT, "123456 789 10\n").expect("parse");
        assert_eq!(s.comm, "stress-ng (aff)");
        assert_eq!(s.state, 'R');
        assert_eq!(s.flags, 4194624);
        assert_eq!(s.flags & PF_KTHREAD, 0);
        assert_eq!(s.start, 5123);
        assert_eq!(s.run_ns, 123456);
        let k = parse(KSTAT, "5 0 1").expect("parse");
        assert_eq!((k.comm.as_str(), k.state), ("rcu_preempt", 'I'));
        assert_ne!(k.flags & PF_KTHREAD, 0);
        assert_eq!(parse("1 (x) R", "1 2 3"), None);
        assert_eq!(parse(STAT, ""), None);
    }

    fn at(t0: Instant, ms: u64) -> Instant {
        t0 + Duration::from_millis(ms)
    }

    fn sample(state: char, run_ns: u64, kthread: bool) -> Sample {
        Sample {
            comm: if kthread { "kworker/0:1" } else { "spin" }.into(),
            state,
            flags: if kthread { PF_KTHREAD } else { 0 },
            start: 7,
            run_ns,
        }
    }

    #[test]
    fn wait_accounting() {
        let t0 = Instant::now();
        let mut w = Waits::default();
        // Runnable, not running for 300 ms, then it runs.
        w.record(10, 11, &sample('R', 100, false), at(t0, 0));
        w.record(10, 11, &sample('R', 100, false), at(t0, 100));
        w.record(10, 11, &sample('R', 100, false), at(t0, 300));
        w.record(10, 11, &sample('R', 200, false), at(t0, 400));
        assert_eq!(w.longest.ms, 300);
        assert_eq!((w.longest.pid, w.longest.tid), (10, 11));
        // Running on (run time advances) is never a wait.
        w.record(10, 11, &sample('R', 300, false), at(t0, 900));
        w.record(10, 11, &sample('R', 400, false), at(t0, 1900));
        assert_eq!(w.longest.ms, 300);
        // Sleeping in between ends a stretch: no wait across S.
        w.record(10, 11, &sample('S', 400, false), at(t0, 2000));
        w.record(10, 11, &sample('R', 400, false), at(t0, 2900));
        w.record(10, 11, &sample('R', 400, false), at(t0, 3000));
        assert_eq!(w.longest.ms, 300);
        // A kernel thread's wait is kept apart; the overall one is the larger.
        w.record(2, 2, &sample('R', 5, true), at(t0, 0));
        w.record(2, 2, &sample('R', 5, true), at(t0, 700));
        assert_eq!(w.longest_kthread.ms, 700);
        assert_eq!(w.longest.ms, 300);
        assert_eq!(w.overall().comm, "kworker/0:1");
        // A reused TID (new start time) starts afresh.
        let mut reused = sample('R', 5, true);
        reused.start = 99;
        w.record(2, 2, &reused, at(t0, 5000));
        w.record(2, 2, &reused, at(t0, 5100));
        assert_eq!(w.longest_kthread.ms, 700);
        // A thread gone from a sweep is forgotten.
        w.retain(&std::collections::HashSet::from([2]));
        w.record(10, 11, &sample('R', 400, false), at(t0, 9000));
        w.record(10, 11, &sample('R', 400, false), at(t0, 9200));
        assert_eq!(w.longest.ms, 300);
    }
}
