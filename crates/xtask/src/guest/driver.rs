//! The one scheduler driver of the guest: start a scheduler, wait until the
//! kernel enables it under its ops name, collect its stats, stop it with a
//! signal, wait until the kernel reports it disabled, read its exit status.
//! Smoke, the demo and the bench agent use [`Sched`]; the shell checks use
//! the same waits through `xtask sched-ctl` (see `ctl.rs` and lib.sh). The
//! kernel log and its filter are in `kernel_log.rs`.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::plan::Plan;
use crate::util;

pub(crate) const SCX_STATE: &str = "/sys/kernel/sched_ext/state";
pub(super) const SCX_OPS: &str = "/sys/kernel/sched_ext/root/ops";

// The timeouts of every scheduler run in the guest, in one place.
/// From start to `enabled` under its ops name: loading and verifying a BPF
/// scheduler under TCG can take many seconds, more with a busy host.
pub(crate) const ENABLE_TIMEOUT: Duration = Duration::from_secs(60);
/// From the stop signal to the process's exit.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// From the process's exit to the state reading `disabled`.
pub(crate) const DISABLE_TIMEOUT: Duration = Duration::from_secs(15);
/// How often the waits look at the kernel's state.
const POLL: Duration = Duration::from_millis(100);
/// The stats options every run of a scheduler gets.
pub(crate) const STATS_ARGS: &[&str] = &["--stats", "1"];

// ---------------------------------------------------------------------------
// sysfs and process helpers

pub(crate) fn read_trim(p: &str) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The kernel's sched_ext state (`enabled`, `disabled`, ...), or `unreadable`.
pub(crate) fn state() -> String {
    let s = read_trim(SCX_STATE);
    if s.is_empty() {
        "unreadable".to_string()
    } else {
        s
    }
}

/// The attached scheduler's ops name, empty when none.
pub(crate) fn ops() -> String {
    read_trim(SCX_OPS)
}

/// Whether the kernel runs the scheduler named `ops_name` (a prefix: the kernel
/// may append a suffix to the name).
pub(crate) fn enabled_as(ops_name: &str) -> bool {
    state() == "enabled" && ops().starts_with(ops_name)
}

/// Waits (polling every 100 ms) until the state reads `want`; false on timeout.
pub(crate) fn wait_state(want: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if state() == want {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// SIGKILL every process running one of the plan's scheduler binaries, then
/// wait for the kernel to report `disabled`.
pub(super) fn kill_leftovers(plan: &Plan) -> bool {
    let bins: Vec<&Path> = plan.scheds.iter().map(|s| s.binary.as_path()).collect();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.filter_map(|e| e.ok()) {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(exe) = fs::read_link(e.path().join("exe")) else {
                continue;
            };
            let exe = exe
                .to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string();
            if bins.iter().any(|b| Path::new(&exe) == *b) {
                util::kill_pid(pid, libc::SIGKILL);
            }
        }
    }
    wait_disabled()
}

pub(crate) fn last_line_of(p: &Path) -> String {
    util::read_lossy(p)
        .ok()
        .and_then(|t| util::last_line(&t).map(|l| l.trim().to_string()))
        .unwrap_or_default()
}

pub(crate) fn exit_desc(code: i32) -> String {
    if code > 128 {
        format!("signal {}", code - 128)
    } else {
        format!("status {code}")
    }
}

/// Spawn a command in its own process group with stdout+stderr into `out`.
pub(super) fn spawn_logged(cmd: &mut Command, out: &Path) -> Result<Child> {
    let f = File::create(out).with_context(|| format!("failed to create {}", out.display()))?;
    let f2 = f
        .try_clone()
        .context("failed to duplicate a log file handle")?;
    cmd.stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .process_group(0)
        .spawn()
        .context("failed to spawn")
}

// ---------------------------------------------------------------------------
// waiting on a scheduler process

/// Whether a process has exited: gone, or a zombie its parent has not reaped
/// yet (the shell checks' schedulers are the shell's children, not ours).
pub(crate) fn pid_exited(pid: u32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        // The state is the first field after the command name's last ')'.
        Ok(stat) => stat
            .rsplit_once(") ")
            .is_some_and(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')),
    }
}

/// Why a scheduler did not come up.
pub(crate) enum StartFail {
    /// It exited first (the status when it is our child).
    Exited(Option<i32>),
    /// It runs but the kernel did not enable it within [`ENABLE_TIMEOUT`].
    NotEnabled { state: String, ops: String },
}

/// Poll until the kernel enables `ops_name` or `exited` reports an exit.
pub(crate) fn wait_enabled(
    ops_name: &str,
    mut exited: impl FnMut() -> Option<Option<i32>>,
) -> Result<Duration, StartFail> {
    let t0 = Instant::now();
    loop {
        if let Some(st) = exited() {
            return Err(StartFail::Exited(st));
        }
        if enabled_as(ops_name) {
            return Ok(t0.elapsed());
        }
        if t0.elapsed() >= ENABLE_TIMEOUT {
            return Err(StartFail::NotEnabled {
                state: state(),
                ops: ops(),
            });
        }
        thread::sleep(POLL);
    }
}

/// Poll until `exited` reports an exit; false after [`STOP_TIMEOUT`].
pub(crate) fn wait_exit(mut exited: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + STOP_TIMEOUT;
    loop {
        if exited() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(POLL);
    }
}

/// Wait for the kernel to report `disabled` after a scheduler exited.
pub(crate) fn wait_disabled() -> bool {
    wait_state("disabled", DISABLE_TIMEOUT)
}

// ---------------------------------------------------------------------------
// a scheduler the agent runs

/// Where a scheduler's stdout (its stats) goes.
pub(crate) enum Stdout {
    /// Into a file.
    File(PathBuf),
    /// To the agent's stdout, live.
    Inherit,
    /// Kept line by line with the time each arrived, see [`Sched::stats_lines`].
    Lines,
}

/// How to run a scheduler.
pub(crate) struct Launch<'a> {
    pub binary: &'a Path,
    /// The kernel's name for it, see [`enabled_as`].
    pub ops: &'a str,
    /// Arguments after [`STATS_ARGS`].
    pub args: &'a [String],
    pub stdout: Stdout,
    /// Its stderr, kept in this file.
    pub stderr: PathBuf,
    /// Also show stderr live on the agent's stderr.
    pub tee_stderr: bool,
    pub cwd: Option<&'a Path>,
}

type Lines = Arc<Mutex<Vec<(Instant, String)>>>;

/// A running scheduler, in its own process group.
pub(crate) struct Sched {
    child: Child,
    pid: u32,
    /// The binary's file name, for messages.
    pub bin: String,
    ops: String,
    err_path: PathBuf,
    lines: Lines,
    readers: Vec<JoinHandle<()>>,
    status: Option<i32>,
}

impl Sched {
    /// Start it; [`Sched::wait_enabled`] waits for the kernel.
    pub fn spawn(l: &Launch) -> Result<Sched> {
        let bin = l.binary.file_name().map_or_else(
            || l.binary.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let err = File::create(&l.stderr)
            .with_context(|| format!("failed to create {}", l.stderr.display()))?;
        let mut cmd = Command::new(l.binary);
        cmd.args(STATS_ARGS)
            .args(l.args)
            .stdin(Stdio::null())
            .process_group(0);
        if let Some(d) = l.cwd {
            cmd.current_dir(d);
        }
        match &l.stdout {
            Stdout::File(p) => {
                cmd.stdout(
                    File::create(p).with_context(|| format!("failed to create {}", p.display()))?,
                );
            }
            Stdout::Inherit => {
                cmd.stdout(Stdio::inherit());
            }
            Stdout::Lines => {
                cmd.stdout(Stdio::piped());
            }
        }
        if l.tee_stderr {
            cmd.stderr(Stdio::piped());
        } else {
            cmd.stderr(
                err.try_clone()
                    .context("failed to duplicate a file handle")?,
            );
        }
        let mut child = cmd
            .spawn()
            .with_context(|| format!("failed to start {}", l.binary.display()))?;
        let lines: Lines = Arc::default();
        let mut readers = Vec::new();
        if let Some(pipe) = child.stdout.take() {
            let lines = Arc::clone(&lines);
            readers.push(thread::spawn(move || {
                for l in BufReader::new(pipe).lines().map_while(Result::ok) {
                    if let Ok(mut v) = lines.lock() {
                        v.push((Instant::now(), l));
                    }
                }
            }));
        }
        if let Some(pipe) = child.stderr.take() {
            let mut file = err;
            readers.push(thread::spawn(move || {
                for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                    eprintln!("{line}");
                    let _ = writeln!(file, "{line}");
                }
            }));
        }
        Ok(Sched {
            pid: child.id(),
            child,
            bin,
            ops: l.ops.to_string(),
            err_path: l.stderr.clone(),
            lines,
            readers,
            status: None,
        })
    }

    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Its exit status once it has exited.
    pub fn exited(&mut self) -> Option<i32> {
        if self.status.is_none() {
            if let Ok(Some(st)) = self.child.try_wait() {
                self.status = Some(util::status_code(&st));
            }
        }
        self.status
    }

    /// Whether the kernel runs it now.
    pub fn attached(&mut self) -> bool {
        self.exited().is_none() && enabled_as(&self.ops)
    }

    /// Wait until the kernel enables it: the time it took, or why not, in
    /// one sentence. It is killed when it does not come up in time.
    pub fn wait_enabled(&mut self) -> Result<Duration, String> {
        let r = wait_enabled(&self.ops.clone(), || self.exited().map(Some));
        r.map_err(|f| match f {
            StartFail::Exited(st) => format!(
                "{} exited with {} before the kernel enabled it: {}",
                self.bin,
                exit_desc(st.unwrap_or(-1)),
                self.last_err()
            ),
            StartFail::NotEnabled { state, ops } => {
                self.kill();
                format!(
                    "{} was not enabled within {} s (state `{state}`, ops `{ops}`); last stderr: {}",
                    self.bin,
                    ENABLE_TIMEOUT.as_secs(),
                    self.last_err()
                )
            }
        })
    }

    /// Why it is no longer the enabled scheduler, if it is not.
    pub fn gone(&mut self, during: &str) -> Option<String> {
        if let Some(st) = self.exited() {
            return Some(format!(
                "{} exited with {} during {during}: {}",
                self.bin,
                exit_desc(st),
                self.last_err()
            ));
        }
        (!enabled_as(&self.ops)).then(|| {
            format!(
                "the kernel shows state `{}`, ops `{}` after {during}: {}",
                state(),
                ops(),
                self.last_err()
            )
        })
    }

    /// Send `sig` and wait for the exit: its status, or None when it did not
    /// exit within [`STOP_TIMEOUT`] (then it is killed). Wait for `disabled`
    /// with [`wait_disabled`] after.
    pub fn stop(&mut self, sig: libc::c_int) -> Option<i32> {
        if self.exited().is_none() {
            util::kill_pid(self.pid, sig);
        }
        let st = wait_exit(|| self.exited().is_some())
            .then_some(self.status)
            .flatten();
        self.kill();
        st
    }

    /// SIGKILL its process group, reap it and its output readers.
    pub fn kill(&mut self) {
        if self.exited().is_none() {
            util::kill_group(self.pid, libc::SIGKILL);
            let _ = self.child.wait();
        }
        for r in self.readers.drain(..) {
            let _ = r.join();
        }
    }

    /// The last line of its stderr.
    pub fn last_err(&self) -> String {
        let l = last_line_of(&self.err_path);
        if l.is_empty() {
            "(no stderr output)".to_string()
        } else {
            l
        }
    }

    /// Its stderr so far.
    pub fn stderr_text(&self) -> String {
        util::read_lossy(&self.err_path).unwrap_or_default()
    }

    /// The stats lines of a [`Stdout::Lines`] run, with their arrival times.
    pub fn stats_lines(&self) -> Vec<(Instant, String)> {
        self.lines.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

impl Drop for Sched {
    fn drop(&mut self) {
        self.kill();
    }
}
