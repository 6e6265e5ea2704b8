//! The run loop: attach, report stats, detach, read the exit info, restart when asked.
//!
//! The ordering is the contract of the kernel's C loaders, kept here once so no scheduler
//! can get it wrong: the struct_ops link is destroyed *before* the exit info is read,
//! and a restart re-runs the scheduler's `init` with the options parsed once at start.

use std::collections::VecDeque;
use std::fmt::Display;
use std::io::{ErrorKind, Read};
use std::mem::MaybeUninit;
use std::os::unix::net::UnixStream;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use libbpf_rs::{Link, Object, OpenObject};
use serde::Serialize;

use crate::cli::CommonOpts;
use crate::exit::{status, ExitInfo, ExitKind};
use crate::ops::read_exit_info;
use crate::preflight::Refusal;

/// What a scheduler's `main.rs` provides on top of its skeleton.
pub trait Scheduler {
    /// One interval's report: printed with `Display`, or as JSON with `--stats-json`.
    type Stats: Serialize + Display;

    /// The loaded BPF object (scx-core reads the exit info from it).
    fn object(&self) -> &Object;

    /// Collects this interval's stats.
    fn stats(&mut self) -> Result<Self::Stats>;

    /// Called about once a second whether or not stats are printed: the place for
    /// warnings about what the BPF side saw (they must not depend on `--stats`).
    fn watch(&mut self) {}
}

/// A loaded, attached scheduler. Dropping it detaches the scheduler.
pub struct Attached<'obj, T> {
    sched: Box<dyn Scheduler<Stats = T> + 'obj>,
    link: Option<Link>,
}

impl<'obj, T> Attached<'obj, T> {
    pub fn new(sched: impl Scheduler<Stats = T> + 'obj, link: Link) -> Self {
        Self {
            sched: Box::new(sched),
            link: Some(link),
        }
    }
}

/// How often the loop reads the exit record between stats intervals. A signal wakes
/// the loop at once (see [`Shutdown`]), so this only bounds how late an exit the
/// kernel decided (an error, a stall, a hotplug restart) is reported: the kernel has
/// already handed every task back by then. Once a second, in step with the default
/// stats interval, keeps the loader to one wakeup a second.
const EXIT_POLL: Duration = Duration::from_secs(1);
/// How long to wait for the kernel to record the exit after the link is destroyed.
const EXIT_WAIT: Duration = Duration::from_secs(5);
/// More restarts than this within [`RESTART_WINDOW`] means a loop, not hotplug.
pub(crate) const MAX_RESTARTS: usize = 10;
pub(crate) const RESTART_WINDOW: Duration = Duration::from_secs(10);
/// A second SIGINT or SIGTERM this long after the first ends the process at once.
const FORCE_AFTER: Duration = Duration::from_secs(1);

/// SIGINT and SIGTERM set one flag for the whole process and write a byte to a
/// socket the run loop sleeps on, so a signal ends the sleep at once. A second
/// signal at least [`FORCE_AFTER`] after the first ends the process at once (the
/// kernel then detaches the scheduler by itself); one sooner is the same request
/// again: `timeout` sends its signal to the process and then to its process group,
/// and a supervisor may do the same.
struct Shutdown {
    flag: Arc<AtomicBool>,
    wake: UnixStream,
}

impl Shutdown {
    fn requested(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// Sleeps for `nap`, or until a signal arrives.
    fn sleep(&self, nap: Duration) {
        // A zero timeout is refused by the socket; a millisecond is as good as none.
        if self
            .wake
            .set_read_timeout(Some(nap.max(Duration::from_millis(1))))
            .is_err()
        {
            std::thread::sleep(nap);
            return;
        }
        let mut buf = [0u8; 16];
        match (&self.wake).read(&mut buf) {
            Ok(_) => {}
            Err(e)
                if matches!(
                    e.kind(),
                    ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted
                ) => {}
            // Never spin: fall back to a plain sleep if the socket misbehaves.
            Err(_) => std::thread::sleep(nap),
        }
    }
}

/// CLOCK_MONOTONIC in nanoseconds, never 0 (0 means "no signal yet" below).
/// clock_gettime() is async-signal-safe, so signal handlers may call this.
fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid timespec; CLOCK_MONOTONIC always exists on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    (ts.tv_sec as u64)
        .saturating_mul(1_000_000_000)
        .saturating_add(ts.tv_nsec as u64)
        .max(1)
}

/// Records a shutdown signal that arrived at `now_ns` and tells whether it forces
/// the process to end: true only for a later signal at least [`FORCE_AFTER`] after
/// the first. Lock-free, so signal handlers may call it.
fn signal_forces_exit(first_ns: &AtomicU64, now_ns: u64) -> bool {
    match first_ns.compare_exchange(0, now_ns, Ordering::SeqCst, Ordering::SeqCst) {
        Ok(_) => false,
        Err(first) => now_ns.saturating_sub(first) >= FORCE_AFTER.as_nanos() as u64,
    }
}

fn install_shutdown() -> Result<&'static Shutdown> {
    static SHUTDOWN: OnceLock<Shutdown> = OnceLock::new();
    static FIRST_SIGNAL_NS: AtomicU64 = AtomicU64::new(0);
    if let Some(s) = SHUTDOWN.get() {
        return Ok(s);
    }
    let flag = Arc::new(AtomicBool::new(false));
    let (wake, notify) = UnixStream::pair().context("failed to create the signal socket")?;
    notify
        .set_nonblocking(true)
        .context("failed to create the signal socket")?;
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let force = move || {
            if signal_forces_exit(&FIRST_SIGNAL_NS, monotonic_ns()) {
                signal_hook::low_level::exit(128 + sig);
            }
        };
        // SAFETY: the action only reads the clock, does one atomic compare-exchange
        // and may call _exit(), all async-signal-safe.
        unsafe { signal_hook::low_level::register(sig, force) }
            .context("failed to install the signal handler")?;
        signal_hook::flag::register(sig, flag.clone())
            .context("failed to install the signal handler")?;
        // Registered after the flag: the loop wakes to find it already set.
        let notify = notify
            .try_clone()
            .context("failed to create the signal socket")?;
        signal_hook::low_level::pipe::register(sig, notify)
            .context("failed to install the signal handler")?;
    }
    Ok(SHUTDOWN.get_or_init(|| Shutdown { flag, wake }))
}

impl<T: Serialize + Display> Attached<'_, T> {
    fn print_stats(&mut self, json: bool) {
        match self.sched.stats() {
            Ok(s) if json => match serde_json::to_string(&s) {
                Ok(line) => println!("{line}"),
                Err(e) => log::warn!("failed to encode stats: {e}"),
            },
            Ok(s) => println!("{s}"),
            Err(e) => log::warn!("failed to read stats: {e:#}"),
        }
    }

    /// Runs until the scheduler exits or the user asks to stop, then detaches and
    /// returns the exit record.
    fn run_until_exit(&mut self, common: &CommonOpts, shutdown: &Shutdown) -> Result<ExitInfo> {
        let period = common.stats_period();
        let mut next_stats = period.map(|p| Instant::now() + p);
        while !shutdown.requested() {
            if read_exit_info(self.sched.object())?.is_some() {
                break;
            }
            self.sched.watch();
            let now = Instant::now();
            if let (Some(at), Some(p)) = (next_stats, period) {
                if now >= at {
                    self.print_stats(common.stats_json);
                    next_stats = Some(at.max(now - p) + p);
                }
            }
            let nap = next_stats.map_or(EXIT_POLL, |at| {
                at.saturating_duration_since(Instant::now()).min(EXIT_POLL)
            });
            shutdown.sleep(nap);
        }

        // Detach first: destroying the link disables the scheduler and runs ops.exit().
        drop(self.link.take());
        let deadline = Instant::now() + EXIT_WAIT;
        loop {
            if let Some(info) = read_exit_info(self.sched.object())? {
                return Ok(info);
            }
            if Instant::now() >= deadline {
                return Ok(ExitInfo {
                    kind: ExitKind::Unreg,
                    raw_kind: 0,
                    exit_cpu: None,
                    exit_code: 0,
                    reason: "detached (the scheduler recorded no exit info)".into(),
                    msg: String::new(),
                    dump: String::new(),
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn report(info: &ExitInfo) {
    if info.kind.is_error() {
        if !info.dump.trim().is_empty() {
            log::error!(
                "DEBUG DUMP\n{0}\n{1}\n{0}",
                "=".repeat(78),
                info.dump.trim_end()
            );
        }
        log::error!("{info}");
    } else {
        log::info!("{info}");
    }
}

/// Runs a scheduler until it is stopped: `init` opens, loads and attaches it, and is
/// called again with the same options whenever the kernel asks for a restart.
/// Returns the process exit status (see [`crate::exit::status`]).
pub fn run<T, F>(common: &CommonOpts, init: F) -> ExitCode
where
    T: Serialize + Display,
    F: for<'obj> FnMut(&'obj mut MaybeUninit<OpenObject>) -> Result<Attached<'obj, T>>,
{
    crate::logging::init(common.verbose);
    match run_loop(common, init) {
        Ok(st) => ExitCode::from(st),
        Err(e) => {
            if let Some(r) = e.downcast_ref::<Refusal>() {
                log::error!("{r}");
                ExitCode::from(r.status)
            } else {
                log::error!("{e:#}");
                ExitCode::from(status::FAILURE)
            }
        }
    }
}

fn run_loop<T, F>(common: &CommonOpts, mut init: F) -> Result<u8>
where
    T: Serialize + Display,
    F: for<'obj> FnMut(&'obj mut MaybeUninit<OpenObject>) -> Result<Attached<'obj, T>>,
{
    let shutdown = install_shutdown()?;
    let name = crate::preflight::program_name();
    let mut restarts: VecDeque<Instant> = VecDeque::new();
    loop {
        let mut storage = MaybeUninit::uninit();
        let mut attached = init(&mut storage)?;
        log::info!("{name}: scheduler attached");
        let info = attached.run_until_exit(common, shutdown)?;
        drop(attached);
        report(&info);

        if info.should_restart() && !shutdown.requested() {
            let now = Instant::now();
            restarts.push_back(now);
            while restarts
                .front()
                .is_some_and(|t| now.duration_since(*t) > RESTART_WINDOW)
            {
                restarts.pop_front();
            }
            if restarts.len() > MAX_RESTARTS {
                log::error!(
                    "{name}: more than {MAX_RESTARTS} restarts in {RESTART_WINDOW:?}, giving up"
                );
                return Ok(status::UNREGISTERED);
            }
            log::info!("{name}: restarting with the same options");
            continue;
        }
        return Ok(info.exit_status());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_later_second_signal_forces_the_exit() {
        let first = AtomicU64::new(0);
        let s = 1_000_000_000;
        assert!(
            !signal_forces_exit(&first, 5 * s),
            "the first signal must not force the exit"
        );
        assert!(
            !signal_forces_exit(&first, 5 * s + 1_000),
            "timeout's second copy must not force the exit"
        );
        assert!(!signal_forces_exit(&first, 5 * s + s / 2));
        assert!(
            signal_forces_exit(&first, 6 * s),
            "a signal a second later must force the exit"
        );
        assert!(signal_forces_exit(&first, 60 * s));
        assert_eq!(
            first.load(Ordering::SeqCst),
            5 * s,
            "the first signal's time must stay"
        );
    }

    // The only test in this binary that raises signals: a third SIGTERM a second
    // later would end the process, as it must for a loader.
    #[test]
    fn a_signal_ends_the_sleep_at_once() {
        let shutdown = install_shutdown().unwrap();
        assert!(!shutdown.requested());
        let t0 = Instant::now();
        shutdown.sleep(Duration::from_millis(50));
        assert!(
            t0.elapsed() >= Duration::from_millis(50),
            "the sleep ended early without a signal"
        );

        // SAFETY: raise() only sends a signal to this thread; the handlers are installed.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
        let t0 = Instant::now();
        shutdown.sleep(Duration::from_secs(30));
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the signal did not end the sleep"
        );
        assert!(shutdown.requested());

        // The same request again at once, as `timeout` sends it: the process lives on.
        // SAFETY: as above.
        assert_eq!(unsafe { libc::raise(libc::SIGTERM) }, 0);
        shutdown.sleep(Duration::from_millis(10));
        assert!(shutdown.requested());
    }
}
