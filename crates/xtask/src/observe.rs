//! `xtask observe`: a starvation observer that knows nothing of the scheduler
//! under test. Run in the guest, it records the scheduler tracepoints in a
//! tracefs instance of its own (`sched_wakeup`, `sched_wakeup_new`,
//! `sched_switch`, clock `mono`) and reads them from a SCHED_FIFO thread, so
//! the load it watches cannot starve it. A thread is runnable from its wakeup,
//! or from being switched out with `prev_state` R (preempted), until it is
//! switched in; that span is one run-queue wait. At the end (`--secs`, SIGINT
//! or SIGTERM) it prints the longest wait overall and among kernel threads
//! (pid, tid, comm, ms), as one JSON object or a text line; with
//! `--window-secs` also one line per window. A wait still going on at the end
//! of a window counts with its length so far.
//!
//! The measure is exact to the tracepoints' microseconds, whatever the number
//! of threads: no sampling. If the ring buffer overflows (`LOST n EVENTS`) the
//! state of every thread is dropped, so a lost event can shorten a wait but
//! never lengthen one; the report counts the losses.
//!
//! `--self-test` checks the observer in the guest: a SCHED_FIFO thread pinned
//! to CPU 0 waits behind a higher-priority SCHED_FIFO spinner on CPU 0 for
//! `--self-test-ms`, and the observer must report that thread waiting at
//! least that long minus 100 ms (exit status 1 otherwise). RT throttling is
//! off for those milliseconds.

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use serde::Serialize;

use crate::util;

/// `PF_KTHREAD` in `/proc/PID/stat`'s flags field (include/linux/sched.h).
const PF_KTHREAD: u64 = 0x0020_0000;

const EVENTS: [&str; 3] = ["sched_wakeup", "sched_wakeup_new", "sched_switch"];

#[derive(clap::Args)]
pub struct ObserveArgs {
    /// Stop after this many seconds (SIGINT or SIGTERM stop it earlier)
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    secs: u64,
    /// Also print the longest waits of every window of this many seconds (0: none)
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u64).range(0..=86_400))]
    window_secs: u64,
    /// Trace ring buffer per CPU, in KiB
    #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u64).range(64..=262_144))]
    buffer_kb: u64,
    /// SCHED_FIFO priority of the reading thread (0: leave the policy alone)
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(0..=99))]
    fifo: i32,
    /// Print JSON objects instead of text lines
    #[arg(long)]
    json: bool,
    /// Check the observer itself: a thread pinned to CPU 0 behind a SCHED_FIFO spinner
    #[arg(long)]
    self_test: bool,
    /// How long the self-test's spinner holds CPU 0, in milliseconds
    #[arg(long, default_value_t = 1500, value_parser = clap::value_parser!(u64).range(300..=10_000))]
    self_test_ms: u64,
}

/// One scheduler event, as the tracepoints give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// `sched_wakeup` or (`new`) `sched_wakeup_new`: `tid` is put on a run queue.
    Wakeup { tid: i32, new: bool },
    /// `sched_switch`: `prev` leaves the CPU (still runnable when
    /// `prev_runnable`), `next` takes it.
    Switch {
        prev: i32,
        prev_runnable: bool,
        next: i32,
        next_comm: String,
    },
    /// The ring buffer dropped events.
    Lost,
}

/// The text between `key` and the next ` ` (or the end).
fn field<'a>(s: &'a str, key: &str) -> Option<&'a str> {
    let i = s.find(key)? + key.len();
    let rest = s.get(i..)?;
    Some(rest.split(' ').next().unwrap_or(rest))
}

/// Parses one line of `trace_pipe` into its time (ns) and event; None for a
/// line of any other event or shape.
pub fn parse_line(line: &str) -> Option<(u64, Event)> {
    if line.contains("LOST") && line.contains("EVENTS") {
        return Some((0, Event::Lost));
    }
    let (head, name, body) = EVENTS
        .iter()
        .filter_map(|e| {
            let marker = format!(": {e}: ");
            let i = line.find(&marker)?;
            Some((&line[..i], *e, &line[i + marker.len()..]))
        })
        .next()?;
    let ts = parse_ts(head.split_whitespace().last()?)?;
    let ev = if name == "sched_switch" {
        // Comms may hold spaces: each ends at the pid key after it.
        let (prev_part, next_part) = body.split_once(" ==> ")?;
        let prev = field(prev_part, " prev_pid=")?.parse().ok()?;
        let state = field(prev_part, " prev_state=")?;
        let nc = next_part.strip_prefix("next_comm=")?;
        let j = nc.rfind(" next_pid=")?;
        Event::Switch {
            prev,
            prev_runnable: state.starts_with('R'),
            next: field(next_part, " next_pid=")?.parse().ok()?,
            next_comm: nc[..j].to_string(),
        }
    } else {
        let i = body.rfind(" pid=")?;
        Event::Wakeup {
            tid: field(&body[i..], " pid=")?.parse().ok()?,
            new: name == "sched_wakeup_new",
        }
    };
    Some((ts, ev))
}

/// `12345.678901` (seconds, microseconds or nanoseconds) into nanoseconds.
fn parse_ts(s: &str) -> Option<u64> {
    let (secs, frac) = s.split_once('.')?;
    let secs: u64 = secs.parse().ok()?;
    if frac.is_empty() || frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let scale = 10u64.pow(9 - frac.len() as u32);
    Some(secs * 1_000_000_000 + frac.parse::<u64>().ok()? * scale)
}

/// The longest wait seen, and whose.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Longest {
    pub ms: u64,
    pub pid: i32,
    pub tid: i32,
    pub comm: String,
}

/// The longest waits of a span of time.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct Maxima {
    pub longest: Longest,
    pub longest_kthread: Longest,
}

impl Maxima {
    fn wants(&self, ms: u64) -> bool {
        ms > self.longest.ms.min(self.longest_kthread.ms)
    }

    fn offer(&mut self, w: &Longest, kthread: bool) {
        let slot = if kthread {
            &mut self.longest_kthread
        } else {
            &mut self.longest
        };
        if w.ms > slot.ms {
            *slot = w.clone();
        }
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

#[derive(Debug, Default, Clone, Copy)]
struct Track {
    /// Since when (ns) it has been runnable and not running.
    since: Option<u64>,
    running: bool,
    /// Its longest wait so far, in ns.
    max_ns: u64,
    /// Its process and whether it is a kernel thread, once looked up.
    who: Option<(i32, bool)>,
}

/// What a thread is, found when one of its waits may count: its process and
/// whether it is a kernel thread.
pub trait Whois {
    fn whois(&mut self, tid: i32) -> (i32, bool);
}

/// The live system: `/proc/TID/status` and `/proc/TID/stat`. A thread gone
/// already counts as its own process, not a kernel thread.
pub struct ProcWhois;

impl Whois for ProcWhois {
    fn whois(&mut self, tid: i32) -> (i32, bool) {
        let pid = fs::read_to_string(format!("/proc/{tid}/status"))
            .ok()
            .and_then(|s| {
                s.lines()
                    .find_map(|l| l.strip_prefix("Tgid:"))
                    .and_then(|v| v.trim().parse().ok())
            })
            .unwrap_or(tid);
        let kthread = fs::read_to_string(format!("/proc/{tid}/stat"))
            .ok()
            .and_then(|s| {
                let rest = s.get(s.rfind(')')? + 1..)?.to_string();
                rest.split_whitespace().nth(6)?.parse::<u64>().ok()
            })
            .is_some_and(|f| f & PF_KTHREAD != 0);
        (pid, kthread)
    }
}

/// Run-queue wait accounting over the event stream.
#[derive(Debug, Default)]
pub struct Waits {
    threads: HashMap<i32, Track>,
    comms: HashMap<i32, String>,
    pub total: Maxima,
    pub window: Maxima,
    pub events: u64,
    pub lost: u64,
    pub waits: u64,
}

impl Waits {
    /// Accounts one event at `ts` (ns).
    pub fn event(&mut self, ts: u64, ev: &Event, who: &mut impl Whois) {
        self.events += 1;
        match ev {
            Event::Lost => {
                // Whatever the lost events did is unknown: take every thread
                // as running, so none has a wait until it is seen leaving a CPU.
                self.lost += 1;
                for t in self.threads.values_mut() {
                    t.running = true;
                    t.since = None;
                }
            }
            Event::Wakeup { tid, new } => {
                let t = self.threads.entry(*tid).or_default();
                if *new {
                    // A new thread, maybe on a reused tid.
                    *t = Track::default();
                }
                if !t.running && t.since.is_none() {
                    t.since = Some(ts);
                }
            }
            Event::Switch {
                prev,
                prev_runnable,
                next,
                next_comm,
            } => {
                if *prev != 0 {
                    let t = self.threads.entry(*prev).or_default();
                    t.running = false;
                    t.since = prev_runnable.then_some(ts);
                }
                if *next != 0 {
                    let t = self.threads.entry(*next).or_default();
                    t.running = true;
                    if let Some(since) = t.since.take() {
                        let ns = ts.saturating_sub(since);
                        t.max_ns = t.max_ns.max(ns);
                        self.waits += 1;
                        self.comms.insert(*next, next_comm.clone());
                        self.offer(*next, ns, who);
                    } else if !self.comms.contains_key(next) {
                        self.comms.insert(*next, next_comm.clone());
                    }
                }
            }
        }
    }

    fn offer(&mut self, tid: i32, ns: u64, who: &mut impl Whois) {
        let ms = ns / 1_000_000;
        if !self.total.wants(ms) && !self.window.wants(ms) {
            return;
        }
        let t = self.threads.entry(tid).or_default();
        let (pid, kthread) = *t.who.get_or_insert_with(|| who.whois(tid));
        let l = Longest {
            ms,
            pid,
            tid,
            comm: self.comms.get(&tid).cloned().unwrap_or_default(),
        };
        self.total.offer(&l, kthread);
        self.window.offer(&l, kthread);
    }

    /// Counts the waits still going on at `now` (ns) with their length so far.
    pub fn ongoing(&mut self, now: u64, who: &mut impl Whois) {
        let open: Vec<(i32, u64)> = self
            .threads
            .iter()
            .filter(|(_, t)| !t.running)
            .filter_map(|(tid, t)| Some((*tid, t.since?)))
            .collect();
        for (tid, since) in open {
            self.offer(tid, now.saturating_sub(since), who);
        }
    }

    /// The longest finished wait of thread `tid`, in ms.
    pub fn longest_of(&self, tid: i32) -> u64 {
        self.threads.get(&tid).map_or(0, |t| t.max_ns / 1_000_000)
    }

    /// Threads the stream has shown.
    pub fn threads_seen(&self) -> usize {
        self.threads.len()
    }
}

/// A tracefs instance of the observer's own, removed on drop.
struct Instance {
    dir: PathBuf,
}

fn tracefs() -> Result<PathBuf> {
    let t = PathBuf::from("/sys/kernel/tracing");
    if !t.join("instances").is_dir() {
        let _ = std::process::Command::new("mount")
            .args(["-t", "tracefs", "nodev"])
            .arg(&t)
            .status();
    }
    if !t.join("instances").is_dir() {
        bail!("tracefs is not available at {}", t.display());
    }
    Ok(t)
}

fn write(p: &Path, v: &str) -> Result<()> {
    fs::write(p, v).with_context(|| format!("failed to write {v:?} to {}", p.display()))
}

impl Instance {
    fn create(buffer_kb: u64) -> Result<Self> {
        let dir = tracefs()?
            .join("instances")
            .join(format!("scx-observe-{}", std::process::id()));
        fs::create_dir(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
        let inst = Instance { dir };
        let d = &inst.dir;
        write(&d.join("buffer_size_kb"), &buffer_kb.to_string())?;
        write(&d.join("trace_clock"), "mono")?;
        // Shorter lines: no interrupt-context column (older kernels lack it).
        let _ = fs::write(d.join("options/irq-info"), "0");
        for e in EVENTS {
            write(&d.join(format!("events/sched/{e}/enable")), "1")?;
        }
        write(&d.join("tracing_on"), "1")?;
        Ok(inst)
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = fs::write(self.dir.join("tracing_on"), "0");
        for e in EVENTS {
            let _ = fs::write(self.dir.join(format!("events/sched/{e}/enable")), "0");
        }
        let _ = fs::remove_dir(&self.dir);
    }
}

/// CLOCK_MONOTONIC in ns: the `mono` trace clock.
fn mono_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime(2) writes the timespec it is given.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    ts.tv_sec as u64 * 1_000_000_000 + ts.tv_nsec as u64
}

/// CPU seconds the calling thread (the reader) has used, user and system.
fn cpu_secs() -> f64 {
    // SAFETY: getrusage(2) writes the struct it is given; all-zero is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut ru) };
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    tv(ru.ru_utime) + tv(ru.ru_stime)
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

/// Pins the calling thread to `cpu`.
fn pin(cpu: usize) -> Result<()> {
    // SAFETY: cpu_set_t is plain data; CPU_SET writes inside it and
    // sched_setaffinity(2) reads it.
    let rc = unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set)
    };
    if rc != 0 {
        bail!(
            "sched_setaffinity(CPU {cpu}): {}",
            std::io::Error::last_os_error()
        );
    }
    Ok(())
}

fn gettid() -> i32 {
    // SAFETY: gettid(2) takes no arguments.
    unsafe { libc::gettid() }
}

/// The self-test's two threads on CPU 0: a SCHED_FIFO 20 spinner holding the
/// CPU for `ms`, and a SCHED_FIFO 10 waiter, there first, that polls every
/// millisecond for the spin to start, so it is queued behind the spinner at
/// once. Returns the
/// waiter's tid, both joined.
fn self_test_load(ms: u64) -> Result<i32> {
    // RT throttling would let the waiter run after 950 ms of each second:
    // off for the test, restored after it.
    let rt = Path::new("/proc/sys/kernel/sched_rt_runtime_us");
    let saved = fs::read_to_string(rt).ok();
    if fs::write(rt, "-1").is_ok() {
        // The change takes hold from the next RT period (1 s).
        std::thread::sleep(Duration::from_millis(1100));
    }
    let r = self_test_threads(ms);
    if let Some(v) = saved {
        let _ = fs::write(rt, v.trim());
    }
    r
}

fn self_test_threads(ms: u64) -> Result<i32> {
    let ready = Arc::new(AtomicBool::new(false));
    let go = Arc::new(AtomicBool::new(false));
    let (tx, rx) = std::sync::mpsc::channel();
    let (r, g) = (Arc::clone(&ready), Arc::clone(&go));
    let waiter = std::thread::spawn(move || -> Result<()> {
        let _ = tx.send(gettid());
        // Real-time on CPU 0 before the spin starts: nothing else there can
        // delay its next wakeup, which queues it behind the spinner.
        pin(0)?;
        set_fifo(10)?;
        r.store(true, Ordering::SeqCst);
        while !g.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        Ok(())
    });
    let tid = rx.recv().context("the self-test's waiter did not start")?;
    let spinner = std::thread::spawn(move || -> Result<()> {
        while !ready.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(1));
        }
        set_fifo(20)?;
        pin(0)?;
        go.store(true, Ordering::SeqCst);
        let end = Instant::now() + Duration::from_millis(ms);
        while Instant::now() < end {
            std::hint::spin_loop();
        }
        Ok(())
    });
    spinner
        .join()
        .map_err(|_| anyhow::anyhow!("the self-test's spinner panicked"))??;
    waiter
        .join()
        .map_err(|_| anyhow::anyhow!("the self-test's waiter panicked"))??;
    Ok(tid)
}

#[derive(Serialize)]
struct Report<'a> {
    secs: f64,
    events: u64,
    waits: u64,
    lost: u64,
    threads_seen: usize,
    /// CPU time of the observer itself, and as a share of all CPUs' time.
    cpu_secs: f64,
    cpu_share: f64,
    #[serde(flatten)]
    maxima: &'a Maxima,
    #[serde(skip_serializing_if = "Option::is_none")]
    self_test: Option<SelfTest>,
}

#[derive(Serialize)]
struct SelfTest {
    tid: i32,
    expected_ms: u64,
    seen_ms: u64,
    pass: bool,
}

#[derive(Serialize)]
struct WindowReport<'a> {
    window: u64,
    end_secs: f64,
    #[serde(flatten)]
    maxima: &'a Maxima,
}

fn text(m: &Maxima) -> String {
    let (l, k) = (m.overall(), &m.longest_kthread);
    format!(
        "longest wait {} ms ({}[{}]), kernel threads {} ms ({}[{}])",
        l.ms, l.comm, l.tid, k.ms, k.comm, k.tid
    )
}

pub fn run(a: ObserveArgs) -> Result<ExitCode> {
    util::install_interrupt_handler();
    let inst = Instance::create(a.buffer_kb).context("failed to set up the trace instance")?;
    let mut pipe = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(inst.dir.join("trace_pipe"))
        .context("failed to open trace_pipe")?;
    let cpu0 = cpu_secs();
    // The reader thread is this one; the self-test's load runs beside it.
    let test = if a.self_test {
        Some(std::thread::spawn(move || self_test_load(a.self_test_ms)))
    } else {
        None
    };
    if a.fifo > 0 {
        set_fifo(a.fifo).context("failed to make the observer SCHED_FIFO")?;
    }
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(a.secs);
    let mut waits = Waits::default();
    let mut who = ProcWhois;
    let mut buf = vec![0u8; 1 << 20];
    let mut partial = String::new();
    let mut window = 1u64;
    let window_len = Duration::from_secs(a.window_secs);
    let mut next_window = t0 + window_len;
    let mut last_pass = false;
    loop {
        // The self-test stops once its load has ended and its events are read.
        let stopping = Instant::now() >= end
            || util::interrupted()
            || test.as_ref().is_some_and(|h| h.is_finished());
        let n = match pipe.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => 0,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e).context("failed to read trace_pipe"),
        };
        if n > 0 {
            partial.push_str(&String::from_utf8_lossy(&buf[..n]));
            let upto = partial.rfind('\n').map_or(0, |i| i + 1);
            for line in partial[..upto].lines() {
                if let Some((ts, ev)) = parse_line(line) {
                    waits.event(ts, &ev, &mut who);
                }
            }
            partial.drain(..upto);
            continue;
        }
        // The pipe is drained.
        if a.window_secs > 0 && Instant::now() >= next_window {
            waits.ongoing(mono_ns(), &mut who);
            print_window(&a, window, t0, &waits.window)?;
            waits.window = Maxima::default();
            window += 1;
            next_window += window_len;
        }
        if stopping && last_pass {
            break;
        }
        // One more drain after a pause, for events still being committed.
        last_pass = stopping;
        // Batches of 50 ms: fewer wakeups of a real-time reader; the ring
        // buffer holds far more.
        std::thread::sleep(Duration::from_millis(50));
    }
    waits.ongoing(mono_ns(), &mut who);
    let secs = t0.elapsed().as_secs_f64();
    let cpu = cpu_secs() - cpu0;
    drop(pipe);
    drop(inst);
    let self_test = match test {
        None => None,
        Some(h) => {
            let tid = h
                .join()
                .map_err(|_| anyhow::anyhow!("the self-test panicked"))??;
            let seen_ms = waits.longest_of(tid);
            // The waiter is queued within a millisecond of the spin's start.
            let expected_ms = a.self_test_ms.saturating_sub(100);
            Some(SelfTest {
                tid,
                expected_ms,
                seen_ms,
                pass: seen_ms >= expected_ms,
            })
        }
    };
    // SAFETY: sysconf(3) takes and returns plain integers.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as f64;
    let report = Report {
        secs,
        events: waits.events,
        waits: waits.waits,
        lost: waits.lost,
        threads_seen: waits.threads_seen(),
        cpu_secs: cpu,
        cpu_share: cpu / (secs * cpus),
        maxima: &waits.total,
        self_test,
    };
    if a.json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        println!(
            "{}; {} events, {} waits, {} lost, {} threads over {:.1} s; observer {:.2} CPU s ({:.2}% of {} CPUs)",
            text(&waits.total),
            report.events,
            report.waits,
            report.lost,
            report.threads_seen,
            secs,
            cpu,
            100.0 * report.cpu_share,
            cpus
        );
        if let Some(t) = &report.self_test {
            println!(
                "self-test: thread {} waited {} ms behind the spinner (at least {} ms expected): {}",
                t.tid,
                t.seen_ms,
                t.expected_ms,
                if t.pass { "pass" } else { "FAIL" }
            );
        }
    }
    Ok(match &report.self_test {
        Some(t) if !t.pass => ExitCode::FAILURE,
        _ => ExitCode::SUCCESS,
    })
}

fn print_window(a: &ObserveArgs, window: u64, t0: Instant, m: &Maxima) -> Result<()> {
    let end_secs = t0.elapsed().as_secs_f64();
    if a.json {
        let w = WindowReport {
            window,
            end_secs,
            maxima: m,
        };
        println!("{}", serde_json::to_string(&w)?);
    } else {
        println!("window {window} (to {end_secs:.1} s): {}", text(m));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SWITCH: &str = "     stress-ng-1-412     [002] d..2.   105.123456: sched_switch: prev_comm=stress-ng (aff) prev_pid=412 prev_prio=120 prev_state=R+ ==> next_comm=kworker/2:1 next_pid=57 next_prio=120";
    const SLEEP: &str = "   <idle>-0 [000] 105.200000: sched_switch: prev_comm=a b prev_pid=9 prev_prio=120 prev_state=S ==> next_comm=swapper/0 next_pid=0 next_prio=120";
    const WAKEUP: &str = "          <idle>-0       [001] dNh3.   104.000001: sched_wakeup: comm=rcu_preempt pid=15 prio=120 target_cpu=001";
    const WAKEUP_NEW: &str =
        "bash-300 [003] 99.5: sched_wakeup_new: comm=x pid=y pid=301 prio=120 target_cpu=003";

    #[test]
    fn parses_trace_lines() {
        assert_eq!(
            parse_line(SWITCH),
            Some((
                105_123_456_000,
                Event::Switch {
                    prev: 412,
                    prev_runnable: true,
                    next: 57,
                    next_comm: "kworker/2:1".into(),
                }
            ))
        );
        assert_eq!(
            parse_line(SLEEP),
            Some((
                105_200_000_000,
                Event::Switch {
                    prev: 9,
                    prev_runnable: false,
                    next: 0,
                    next_comm: "swapper/0".into(),
                }
            ))
        );
        assert_eq!(
            parse_line(WAKEUP),
            Some((
                104_000_001_000,
                Event::Wakeup {
                    tid: 15,
                    new: false
                }
            ))
        );
        assert_eq!(
            parse_line(WAKEUP_NEW),
            Some((
                99_500_000_000,
                Event::Wakeup {
                    tid: 301,
                    new: true
                }
            ))
        );
        assert_eq!(
            parse_line("CPU:2 [LOST 1234 EVENTS]"),
            Some((0, Event::Lost))
        );
        assert_eq!(
            parse_line("x-1 [000] 5.0: sched_migrate_task: comm=x pid=1"),
            None
        );
        assert_eq!(
            parse_line("x-1 [000] junk: sched_wakeup: comm=x pid=1"),
            None
        );
        assert_eq!(parse_ts("1.000000001"), Some(1_000_000_001));
        assert_eq!(parse_ts("1.0000000001"), None);
    }

    /// Kernel threads are the tids below 100; every thread is its own process.
    struct Fake(u32);

    impl Whois for Fake {
        fn whois(&mut self, tid: i32) -> (i32, bool) {
            self.0 += 1;
            (tid, tid < 100)
        }
    }

    const MS: u64 = 1_000_000;

    fn switch(prev: i32, runnable: bool, next: i32) -> Event {
        Event::Switch {
            prev,
            prev_runnable: runnable,
            next,
            next_comm: format!("t{next}"),
        }
    }

    #[test]
    fn wakeup_to_switch_in_is_a_wait() {
        let mut w = Waits::default();
        let f = &mut Fake(0);
        w.event(
            0,
            &Event::Wakeup {
                tid: 500,
                new: false,
            },
            f,
        );
        w.event(300 * MS, &switch(0, false, 500), f);
        assert_eq!(w.total.longest.ms, 300);
        assert_eq!(
            (w.total.longest.tid, w.total.longest.comm.as_str()),
            (500, "t500")
        );
        // Running, then preempted while runnable: the wait runs from the switch out.
        w.event(310 * MS, &switch(500, true, 501), f);
        w.event(1_010 * MS, &switch(501, false, 500), f);
        assert_eq!(w.total.longest.ms, 700);
        // Sleeping is no wait; a wakeup of a running thread is none either.
        w.event(1_020 * MS, &switch(500, false, 0), f);
        w.event(
            5_000 * MS,
            &Event::Wakeup {
                tid: 500,
                new: false,
            },
            f,
        );
        w.event(5_001 * MS, &switch(0, false, 500), f);
        w.event(
            5_002 * MS,
            &Event::Wakeup {
                tid: 500,
                new: false,
            },
            f,
        );
        w.event(9_000 * MS, &switch(500, false, 0), f);
        w.event(
            9_500 * MS,
            &Event::Wakeup {
                tid: 500,
                new: false,
            },
            f,
        );
        w.event(9_600 * MS, &switch(0, false, 500), f);
        assert_eq!(w.total.longest.ms, 700);
        assert_eq!(w.longest_of(500), 700);
        // A second wakeup while queued does not restart the wait.
        w.event(10_000 * MS, &switch(500, false, 0), f);
        w.event(
            10_000 * MS,
            &Event::Wakeup {
                tid: 500,
                new: false,
            },
            f,
        );
        w.event(
            10_500 * MS,
            &Event::Wakeup {
                tid: 500,
                new: false,
            },
            f,
        );
        w.event(11_000 * MS, &switch(0, false, 500), f);
        assert_eq!(w.total.longest.ms, 1_000);
        assert_eq!(w.waits, 5);
    }

    #[test]
    fn many_short_runs_between_long_waits() {
        // What a sweep of /proc every 100 ms misses: 600 threads on one CPU,
        // each running 1 ms and waiting 599 ms, always seen making progress.
        let mut w = Waits::default();
        let f = &mut Fake(0);
        let n = 600;
        let mut ts = 0;
        for t in 0..n {
            w.event(
                ts,
                &Event::Wakeup {
                    tid: 1000 + t,
                    new: false,
                },
                f,
            );
        }
        let mut prev = 0;
        for _round in 0..3 {
            for t in 0..n {
                ts += MS;
                w.event(ts, &switch(prev, prev != 0, 1000 + t), f);
                prev = 1000 + t;
            }
        }
        assert_eq!(w.total.longest.ms, 600);
        assert_eq!(w.total.longest_kthread.ms, 0);
        // Who a thread is gets looked up once at most.
        assert!(f.0 <= n as u32, "{} lookups", f.0);
    }

    #[test]
    fn kthreads_windows_ongoing_and_losses() {
        let mut w = Waits::default();
        let f = &mut Fake(0);
        w.event(
            0,
            &Event::Wakeup {
                tid: 15,
                new: false,
            },
            f,
        );
        w.event(
            0,
            &Event::Wakeup {
                tid: 700,
                new: false,
            },
            f,
        );
        w.event(40 * MS, &switch(0, false, 700), f);
        w.event(900 * MS, &switch(700, false, 15), f);
        assert_eq!(w.total.longest_kthread.ms, 900);
        assert_eq!(w.total.longest.ms, 40);
        assert_eq!(w.total.overall().tid, 15);
        // A new window starts from nothing; the total keeps its maxima.
        w.window = Maxima::default();
        w.event(
            1_000 * MS,
            &Event::Wakeup {
                tid: 701,
                new: false,
            },
            f,
        );
        w.event(1_100 * MS, &switch(15, false, 701), f);
        assert_eq!(w.window.longest.ms, 100);
        assert_eq!(w.window.longest_kthread.ms, 0);
        assert_eq!(w.total.longest_kthread.ms, 900);
        // A thread never switched in counts up to now.
        w.event(
            1_200 * MS,
            &Event::Wakeup {
                tid: 702,
                new: false,
            },
            f,
        );
        w.ongoing(4_200 * MS, f);
        assert_eq!((w.total.longest.ms, w.total.longest.tid), (3_000, 702));
        // After lost events no thread has a wait until it leaves a CPU.
        w.event(
            5_000 * MS,
            &Event::Wakeup {
                tid: 703,
                new: false,
            },
            f,
        );
        w.event(0, &Event::Lost, f);
        w.event(9_000 * MS, &switch(701, false, 703), f);
        w.ongoing(9_000 * MS, f);
        assert_eq!(w.total.longest.ms, 3_000);
        assert_eq!(w.lost, 1);
        w.event(9_100 * MS, &switch(703, true, 0), f);
        w.ongoing(9_200 * MS, f);
        assert_eq!(w.longest_of(703), 0);
        // Without the reset, 703 would show 4,000 ms.
        assert_eq!(w.window.longest.ms, 3_000);
    }
}
