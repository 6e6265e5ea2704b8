//! `xtask hostile-load`: the load of the hostile-load check, run in the guest.
//!
//! For `--secs` it runs `--threads` threads spread over nice 0..19, SCHED_BATCH
//! and SCHED_IDLE: CPU spinners, spin/sleep mixes, yielders, hrtimer sleepers
//! (50-500 us nanosleeps), threads that change their affinity all the time (to
//! single CPUs too) and threads that switch policy (OTHER, BATCH, IDLE,
//! SCHED_EXT, and FIFO or RR for a millisecond at a time, the RT bursts);
//! beside them a fork/exec/exit storm keeps up to `--exec-max` children alive,
//! a cgroup churn (cgroup v2, when the cpu controller is there) creates
//! cgroups, runs short processes in them, changes their `cpu.weight` and
//! removes them, the highest CPU goes offline for the middle third of the run
//! (when it can), and stress-ng's scheduler stressors run when stress-ng is
//! installed. The
//! threads are created from a SCHED_FIFO thread (with SCHED_RESET_ON_FORK, so
//! what it creates starts as SCHED_OTHER), so creation finishes under the very
//! load it builds. At the end every thread stops and every child process is
//! killed and reaped; a load that cannot be wound down within `--grace-secs`
//! of its end exits with status 1. It prints one JSON line of counts.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde::Serialize;

use crate::util;

#[derive(clap::Args)]
pub struct HostileArgs {
    /// Seconds the load runs
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=3600))]
    secs: u64,
    /// Threads of the load
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=20_000))]
    threads: u64,
    /// Child processes of the fork/exec storm alive at once (0: no storm)
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(0..=512))]
    exec_max: u64,
    /// Seconds after the end within which everything must have stopped
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=600))]
    grace_secs: u64,
    /// Leave stress-ng out even when it is installed
    #[arg(long)]
    no_stress_ng: bool,
    /// Leave the cgroup churn out
    #[arg(long)]
    no_cgroups: bool,
    /// Leave CPU hotplug out
    #[arg(long)]
    no_hotplug: bool,
}

/// What a load thread does, chosen by its index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Spin,
    SpinSleep,
    Affinity,
    Policy,
    Yield,
    Timer,
}

const KINDS: [Kind; 10] = [
    Kind::Spin,
    Kind::SpinSleep,
    Kind::Affinity,
    Kind::Policy,
    Kind::Spin,
    Kind::Yield,
    Kind::SpinSleep,
    Kind::Affinity,
    Kind::Timer,
    Kind::Spin,
];

/// `SCHED_EXT` (include/uapi/linux/sched.h): the policy a scheduler in
/// `--partial` mode takes; without one loaded the task runs as SCHED_OTHER.
const SCHED_EXT: libc::c_int = 7;

/// The base policy and nice value of thread `i`: one in eleven is
/// SCHED_IDLE, one SCHED_BATCH, one SCHED_EXT, the rest SCHED_OTHER; nice runs
/// over 0..19 (the moduli are prime to KINDS' length, so every kind of thread
/// gets every policy and nice level).
fn base_policy(i: u64) -> (libc::c_int, i32) {
    let nice = (i % 19 + i % 2) as i32;
    match i % 11 {
        8 => (libc::SCHED_IDLE, nice),
        9 => (libc::SCHED_BATCH, nice),
        10 => (SCHED_EXT, nice),
        _ => (libc::SCHED_OTHER, nice),
    }
}

#[derive(Default, Serialize)]
struct Counts {
    affinity_changes: AtomicU64,
    policy_changes: AtomicU64,
    yields: AtomicU64,
    timer_sleeps: AtomicU64,
}

struct Shared {
    /// Opened once every thread exists: creation does not compete with the load.
    gate: (Mutex<bool>, Condvar),
    stop: AtomicBool,
    live: AtomicUsize,
    counts: Counts,
    cpus: usize,
}

/// xorshift64: a thread's own cheap randomness.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn set_policy(policy: libc::c_int, prio: i32) -> bool {
    let param = libc::sched_param {
        sched_priority: prio,
    };
    // SAFETY: sched_setscheduler(2) on the calling thread reads `param` only.
    unsafe { libc::sched_setscheduler(0, policy, &param) == 0 }
}

fn set_nice(nice: i32) {
    // SAFETY: gettid(2) and setpriority(2) take and return plain integers.
    unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice);
    }
}

/// Pins the calling thread to the CPUs whose bits are set in `mask` (one CPU
/// when the mask has a single bit).
fn set_affinity(mask: u64, cpus: usize) -> bool {
    // SAFETY: cpu_set_t is plain data; CPU_ZERO/CPU_SET write inside it and
    // sched_setaffinity(2) reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_ZERO(&mut set);
        for c in 0..cpus.min(64) {
            if mask & (1 << c) != 0 {
                libc::CPU_SET(c, &mut set);
            }
        }
        libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) == 0
    }
}

/// Burns CPU for about `d` (or until the load stops).
fn spin(d: Duration, stop: &AtomicBool) {
    let end = Instant::now() + d;
    let mut x = 0u64;
    while Instant::now() < end && !stop.load(Ordering::Relaxed) {
        for i in 0..2_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
    }
}

fn worker(i: u64, sh: &Shared) {
    {
        let (open, cv) = &sh.gate;
        let mut g = open.lock().unwrap_or_else(|e| e.into_inner());
        while !*g {
            g = cv.wait(g).unwrap_or_else(|e| e.into_inner());
        }
    }
    let (policy, nice) = base_policy(i);
    set_policy(policy, 0);
    set_nice(nice);
    let kind = KINDS[(i % KINDS.len() as u64) as usize];
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (i + 1).wrapping_mul(0x2545_f491_4f6c_dd1d));
    let all = if sh.cpus >= 64 {
        u64::MAX
    } else {
        (1u64 << sh.cpus) - 1
    };
    let stop = &sh.stop;
    while !stop.load(Ordering::Relaxed) {
        match kind {
            Kind::Spin => spin(Duration::from_millis(50), stop),
            Kind::SpinSleep => {
                spin(Duration::from_millis(rng.below(5)), stop);
                std::thread::sleep(Duration::from_millis(1 + rng.below(20)));
            }
            Kind::Affinity => {
                // Half the time one CPU, else any non-empty subset.
                let mask = if rng.below(2) == 0 {
                    1 << rng.below(sh.cpus as u64)
                } else {
                    (rng.next() & all).max(1)
                };
                if set_affinity(mask, sh.cpus) {
                    sh.counts.affinity_changes.fetch_add(1, Ordering::Relaxed);
                }
                spin(Duration::from_millis(rng.below(3)), stop);
            }
            Kind::Policy => {
                let (p, prio, d) = match rng.below(6) {
                    0 => (libc::SCHED_OTHER, 0, 5),
                    1 => (libc::SCHED_BATCH, 0, 5),
                    2 => (libc::SCHED_IDLE, 0, 5),
                    3 => (SCHED_EXT, 0, 5),
                    4 => (libc::SCHED_FIFO, 1, 1),
                    _ => (libc::SCHED_RR, 1, 1),
                };
                if set_policy(p, prio) {
                    sh.counts.policy_changes.fetch_add(1, Ordering::Relaxed);
                }
                spin(Duration::from_millis(d), stop);
                // Never stay real-time for longer than the burst.
                if prio > 0 {
                    set_policy(policy, 0);
                }
            }
            Kind::Yield => {
                for _ in 0..100 {
                    // SAFETY: sched_yield(2) takes no arguments.
                    unsafe { libc::sched_yield() };
                }
                sh.counts.yields.fetch_add(100, Ordering::Relaxed);
                spin(Duration::from_micros(500), stop);
            }
            Kind::Timer => {
                // High-resolution sleeps: each wakeup is an hrtimer's.
                for _ in 0..20 {
                    std::thread::sleep(Duration::from_micros(50 + rng.below(450)));
                    spin(Duration::from_micros(100), stop);
                }
                sh.counts.timer_sleeps.fetch_add(20, Ordering::Relaxed);
            }
        }
    }
}

/// Counters the helper processes share with the load (in a MAP_SHARED page).
#[derive(Default, Serialize)]
struct StormCounts {
    forks: AtomicU64,
    execs: AtomicU64,
    cgroups_created: AtomicU64,
    cgroups_removed: AtomicU64,
    cgroup_moves: AtomicU64,
    weight_changes: AtomicU64,
}

/// A zeroed StormCounts in memory that forked children share.
fn shared_counts() -> Result<&'static StormCounts> {
    // SAFETY: a fresh anonymous shared mapping, zero-filled, page-aligned and
    // larger than StormCounts, whose all-zero bytes are valid atomics; it is
    // never unmapped, so the reference lives as long as the process.
    unsafe {
        let p = libc::mmap(
            std::ptr::null_mut(),
            4096,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_SHARED | libc::MAP_ANONYMOUS,
            -1,
            0,
        );
        anyhow::ensure!(
            p != libc::MAP_FAILED,
            "mmap: {}",
            std::io::Error::last_os_error()
        );
        Ok(&*(p as *const StormCounts))
    }
}

/// Runs `body` in a helper process of its own group, forked before any thread
/// exists (a fork of a process of hundreds of threads would copy their
/// mappings under the mmap lock the load's page faults take); it dies with
/// the load. Returns its pid (also its process group).
fn fork_helper(body: impl FnOnce()) -> Result<libc::pid_t> {
    // SAFETY: the process has a single thread here, so the child may run any code.
    let pid = unsafe { libc::fork() };
    anyhow::ensure!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid > 0 {
        return Ok(pid);
    }
    // SAFETY: setpgid(2) and prctl(2) take plain integers.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
    }
    body();
    // SAFETY: _exit(2) ends the helper without running the load's code.
    unsafe { libc::_exit(0) }
}

/// The fork/exec/exit storm (a helper process): up to `max` children at
/// once, alternately a fork that exits at once and an exec of /bin/true,
/// until `until`.
fn storm(max: usize, until: Instant, counts: &StormCounts) {
    let mut children: Vec<Child> = Vec::new();
    let mut forked: Vec<libc::pid_t> = Vec::new();
    let mut n = 0u64;
    while Instant::now() < until {
        children.retain_mut(|c| !matches!(c.try_wait(), Ok(Some(_))));
        forked.retain(|&p| {
            let mut st = 0;
            // SAFETY: waitpid(2) on our own child with WNOHANG.
            unsafe { libc::waitpid(p, &mut st, libc::WNOHANG) == 0 }
        });
        if children.len() + forked.len() >= max {
            std::thread::sleep(Duration::from_millis(2));
            continue;
        }
        n += 1;
        if n.is_multiple_of(2) {
            let mut cmd = Command::new("/bin/true");
            cmd.stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            if let Ok(c) = cmd.spawn() {
                children.push(c);
                counts.execs.fetch_add(1, Ordering::Relaxed);
            }
        } else {
            // SAFETY: the child calls only _exit(2).
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                // SAFETY: see above.
                unsafe { libc::_exit(0) };
            }
            if pid > 0 {
                forked.push(pid);
                counts.forks.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    for c in &mut children {
        let _ = c.kill();
        let _ = c.wait();
    }
    for p in forked {
        let mut st = 0;
        // SAFETY: kill(2) and waitpid(2) on our own child.
        unsafe {
            libc::kill(p, libc::SIGKILL);
            libc::waitpid(p, &mut st, 0);
        }
    }
}

/// Sets up `/sys/fs/cgroup/hostile-PID` with the cpu controller for its
/// children; None where cgroup v2 or its cpu controller is missing.
fn cgroup_root() -> Option<PathBuf> {
    let top = Path::new("/sys/fs/cgroup");
    let controllers = fs::read_to_string(top.join("cgroup.controllers")).ok()?;
    if !controllers.split_whitespace().any(|c| c == "cpu") {
        return None;
    }
    let _ = fs::write(top.join("cgroup.subtree_control"), "+cpu");
    let root = top.join(format!("hostile-{}", std::process::id()));
    fs::create_dir(&root).ok()?;
    if fs::write(root.join("cgroup.subtree_control"), "+cpu").is_err() {
        let _ = fs::remove_dir(&root);
        return None;
    }
    Some(root)
}

/// Removes a cgroup, retrying while its last tasks are still being freed.
fn remove_cgroup(d: &Path) -> bool {
    for _ in 0..50 {
        if fs::remove_dir(d).is_ok() || !d.exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// The cgroup churn (a helper process): a child cgroup of `root` is created,
/// given a `cpu.weight` from 1 to 10,000, filled with three processes that
/// spin 5-30 ms, given another weight while they run, emptied and removed,
/// until `until`.
fn cgroup_churn(root: &Path, until: Instant, counts: &StormCounts) {
    let mut rng = Rng(0x5851_f42d_4c95_7f2d);
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let d = root.join(format!("c{}", i % 4));
        if fs::create_dir(&d).is_err() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        counts.cgroups_created.fetch_add(1, Ordering::Relaxed);
        let mut weight = || {
            if fs::write(d.join("cpu.weight"), (1 + rng.below(10_000)).to_string()).is_ok() {
                counts.weight_changes.fetch_add(1, Ordering::Relaxed);
            }
        };
        weight();
        let mut kids = Vec::new();
        for k in 0..3u64 {
            // SAFETY: the helper has a single thread; the child only spins and exits.
            let pid = unsafe { libc::fork() };
            if pid == 0 {
                let never = AtomicBool::new(false);
                spin(Duration::from_millis(5 + (i * 3 + k) % 26), &never);
                // SAFETY: _exit(2) ends the child at once.
                unsafe { libc::_exit(0) };
            }
            if pid > 0 {
                if fs::write(d.join("cgroup.procs"), pid.to_string()).is_ok() {
                    counts.cgroup_moves.fetch_add(1, Ordering::Relaxed);
                }
                kids.push(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(5));
        weight();
        for p in kids {
            let mut st = 0;
            // SAFETY: waitpid(2) on our own child.
            unsafe { libc::waitpid(p, &mut st, 0) };
        }
        if remove_cgroup(&d) {
            counts.cgroups_removed.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// What the CPU hotplug did.
#[derive(Debug, Default, Serialize)]
struct Hotplug {
    cpu: usize,
    /// Milliseconds the writes of 0 and 1 to its `online` file took.
    offline_ms: u64,
    online_ms: u64,
    /// Seconds into the load it went offline and came back.
    offline_at: f64,
    online_at: f64,
    error: Option<String>,
}

fn online_file(cpu: usize) -> PathBuf {
    PathBuf::from(format!("/sys/devices/system/cpu/cpu{cpu}/online"))
}

/// The highest CPU that is online and can be taken offline (never CPU 0).
fn hotplug_cpu(cpus: usize) -> Option<usize> {
    (1..cpus).rev().find(|&c| {
        let f = online_file(c);
        fs::read_to_string(&f).is_ok_and(|v| v.trim() == "1")
            && fs::metadata(&f).is_ok_and(|m| !m.permissions().readonly())
    })
}

/// Takes `cpu` offline from a third of the run to two thirds, from a
/// SCHED_FIFO thread (the writes wait for the whole machine to stop).
fn hotplug(cpu: usize, t0: Instant, secs: u64) -> Hotplug {
    let mut h = Hotplug {
        cpu,
        ..Hotplug::default()
    };
    set_policy(libc::SCHED_FIFO, 10);
    let f = online_file(cpu);
    let mut flip = |v: &str, at: Duration| -> Option<(u64, f64)> {
        std::thread::sleep((t0 + at).saturating_duration_since(Instant::now()));
        let t = Instant::now();
        if let Err(e) = fs::write(&f, v) {
            h.error
                .get_or_insert(format!("writing {v} to {}: {e}", f.display()));
            return None;
        }
        Some((t.elapsed().as_millis() as u64, (t - t0).as_secs_f64()))
    };
    if let Some((ms, at)) = flip("0", Duration::from_secs(secs) / 3) {
        (h.offline_ms, h.offline_at) = (ms, at);
    }
    if let Some((ms, at)) = flip("1", Duration::from_secs(secs) * 2 / 3) {
        (h.online_ms, h.online_at) = (ms, at);
    }
    h
}

/// Waits for the storm process until `deadline`, then kills its group; true
/// when it had ended by itself.
fn reap_storm(pid: libc::pid_t, deadline: Instant) -> bool {
    let mut st = 0;
    loop {
        // SAFETY: waitpid(2) on our own child.
        if unsafe { libc::waitpid(pid, &mut st, libc::WNOHANG) } != 0 {
            return true;
        }
        if Instant::now() >= deadline {
            util::kill_group(pid as u32, libc::SIGKILL);
            // SAFETY: as above, now blocking: SIGKILL ends it.
            unsafe { libc::waitpid(pid, &mut st, 0) };
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// stress-ng's scheduler stressors, in their own process group.
fn start_stress_ng(secs: u64) -> Option<Child> {
    let bin = util::which("stress-ng")?;
    let mut cmd = Command::new(bin);
    cmd.args([
        "--affinity",
        "1",
        "--yield",
        "1",
        "--switch",
        "1",
        "--hrtimers",
        "1",
    ])
    .args(["--nice", "1", "--schedpolicy", "1", "--quiet"])
    .args(["--timeout", &format!("{secs}s")])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(Stdio::null());
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    cmd.spawn().ok()
}

#[derive(Serialize)]
struct Summary<'a> {
    secs: u64,
    threads: u64,
    threads_started: u64,
    /// Milliseconds until every thread had been created.
    create_ms: u64,
    stress_ng: bool,
    /// Milliseconds from the start until everything had stopped.
    elapsed_ms: u64,
    /// Threads still running at the deadline (0 when the load wound down in time).
    stragglers: usize,
    /// The helper processes (storm, cgroup churn) ended by themselves in time.
    storm_on_time: bool,
    /// The cgroup churn ran (cgroup v2 with the cpu controller).
    cgroups: bool,
    counts: &'a Counts,
    storm: &'a StormCounts,
    /// What CPU hotplug did (None: left out or no CPU could go offline).
    hotplug: Option<Hotplug>,
}

pub fn run(a: HostileArgs) -> Result<ExitCode> {
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(a.secs);
    let deadline = end + Duration::from_secs(a.grace_secs);
    // SAFETY: sysconf(3) takes and returns plain integers.
    let cpus = unsafe { libc::sysconf(libc::_SC_NPROCESSORS_ONLN) }.max(1) as usize;
    let counts = shared_counts().context("failed to map the helpers' counters")?;
    let mut helpers = Vec::new();
    if a.exec_max > 0 {
        let max = a.exec_max as usize;
        helpers.push(
            fork_helper(|| storm(max, end, counts))
                .context("failed to start the fork/exec storm")?,
        );
    }
    let cg_root = if a.no_cgroups { None } else { cgroup_root() };
    if let Some(root) = &cg_root {
        helpers.push(
            fork_helper(|| cgroup_churn(root, end, counts))
                .context("failed to start the cgroup churn")?,
        );
    }
    // Creation runs real-time so that it finishes under the load it builds;
    // SCHED_RESET_ON_FORK starts every thread and child as SCHED_OTHER.
    anyhow::ensure!(
        set_policy(libc::SCHED_FIFO | libc::SCHED_RESET_ON_FORK, 10),
        "failed to make the load's creator SCHED_FIFO: {}",
        std::io::Error::last_os_error()
    );
    let sh = Arc::new(Shared {
        gate: (Mutex::new(false), Condvar::new()),
        stop: AtomicBool::new(false),
        live: AtomicUsize::new(0),
        counts: Counts::default(),
        cpus,
    });
    let stress = if a.no_stress_ng {
        None
    } else {
        start_stress_ng(a.secs)
    };
    let stress_ng = stress.is_some();
    let plug = match (a.no_hotplug, hotplug_cpu(cpus)) {
        (false, Some(cpu)) => {
            let secs = a.secs;
            Some(std::thread::spawn(move || hotplug(cpu, t0, secs)))
        }
        _ => None,
    };
    let mut handles = Vec::new();
    let mut started = 0;
    for i in 0..a.threads {
        let s = Arc::clone(&sh);
        s.live.fetch_add(1, Ordering::SeqCst);
        let r = std::thread::Builder::new()
            .name(format!("hostile-{i}"))
            .stack_size(128 * 1024)
            .spawn(move || {
                worker(i, &s);
                s.live.fetch_sub(1, Ordering::SeqCst);
            });
        match r {
            Ok(h) => {
                handles.push(h);
                started += 1;
            }
            Err(_) => {
                sh.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
    }
    {
        let (open, cv) = &sh.gate;
        *open.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    let create_ms = t0.elapsed().as_millis() as u64;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(50));
    }
    sh.stop.store(true, Ordering::SeqCst);
    if let Some(mut c) = stress {
        util::kill_group(c.id(), libc::SIGTERM);
        if !matches!(
            util::wait_timeout(&mut c, Duration::from_secs(3)),
            Ok(Some(_))
        ) {
            util::kill_group(c.id(), libc::SIGKILL);
            let _ = c.wait();
        }
    }
    while sh.live.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut storm_on_time = true;
    for pid in helpers {
        storm_on_time &= reap_storm(pid, deadline);
    }
    if let Some(root) = &cg_root {
        for i in 0..4 {
            remove_cgroup(&root.join(format!("c{i}")));
        }
        remove_cgroup(root);
    }
    let hotplug = plug.map(|h| {
        let r = h.join().unwrap_or_default();
        // Whatever happened, the CPU ends online.
        let _ = fs::write(online_file(r.cpu), "1");
        r
    });
    let stragglers = sh.live.load(Ordering::SeqCst);
    if stragglers == 0 {
        for h in handles {
            let _ = h.join();
        }
    }
    let summary = Summary {
        secs: a.secs,
        threads: a.threads,
        threads_started: started,
        create_ms,
        stress_ng,
        elapsed_ms: t0.elapsed().as_millis() as u64,
        stragglers,
        storm_on_time,
        cgroups: cg_root.is_some(),
        counts: &sh.counts,
        storm: counts,
        hotplug,
    };
    println!("{}", serde_json::to_string(&summary)?);
    Ok(
        if stragglers == 0 && storm_on_time && started == a.threads {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        },
    )
}
