//! Small process, file and signal helpers shared by the subcommands.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

/// Quote one word for a POSIX shell (`vng --exec` takes a shell command line).
pub fn shell_quote(s: &str) -> String {
    let safe = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%^".contains(c));
    if safe {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// Quote a whole argument vector into one shell command line.
pub fn shell_join(args: &[String]) -> String {
    args.iter()
        .map(|a| shell_quote(a))
        .collect::<Vec<_>>()
        .join(" ")
}

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
static HANDLER: Once = Once::new();

extern "C" fn on_signal(_sig: libc::c_int) {
    INTERRUPTED.store(true, Ordering::SeqCst);
}

/// Catch SIGINT/SIGTERM so that a Ctrl-C tears down the VM's process group
/// (which lives outside our terminal's foreground group) instead of orphaning it.
pub fn install_interrupt_handler() {
    HANDLER.call_once(|| {
        let handler: extern "C" fn(libc::c_int) = on_signal;
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
            libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        }
    });
}

pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// Send `sig` to the whole process group `pgid`.
pub fn kill_group(pgid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) with a negative pid signals a process group; no memory is shared.
    unsafe {
        libc::kill(-(pgid as libc::pid_t), sig);
    }
}

/// Send `sig` to one process.
pub fn kill_pid(pid: u32, sig: libc::c_int) {
    // SAFETY: kill(2) takes plain integers.
    unsafe {
        libc::kill(pid as libc::pid_t, sig);
    }
}

/// Wait for `child` up to `timeout`; `None` when it is still running.
pub fn wait_timeout(child: &mut Child, timeout: Duration) -> Result<Option<ExitStatus>> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(st) = child
            .try_wait()
            .context("failed to wait for child process")?
        {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Exit code of a status, with signals mapped to 128+N like a shell does.
pub fn status_code(st: &ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    match (st.code(), st.signal()) {
        (Some(c), _) => c,
        (None, Some(s)) => 128 + s,
        _ => -1,
    }
}

/// Run a command with inherited stdio; fail unless it exits 0.
pub fn run_inherit(cmd: &mut Command, what: &str) -> Result<()> {
    let st = cmd
        .status()
        .with_context(|| format!("failed to start {what}"))?;
    if !st.success() {
        bail!("{what} failed with exit status {}", status_code(&st));
    }
    Ok(())
}

/// Run a command and capture its stdout; fail (with its stderr) unless it exits 0.
pub fn run_capture(cmd: &mut Command, what: &str) -> Result<String> {
    let out = cmd
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("failed to start {what}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        bail!(
            "{what} failed with exit status {}: {}",
            status_code(&out.status),
            last_line(&err).unwrap_or("(no output)")
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Is `name` an executable on PATH?
pub fn on_path(name: &str) -> bool {
    which(name).is_some()
}

pub fn which(name: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The last non-empty line of a text.
pub fn last_line(text: &str) -> Option<&str> {
    text.lines()
        .map(str::trim_end)
        .rfind(|l| !l.trim().is_empty())
}

/// Read a file into a string, replacing invalid UTF-8.
pub fn read_lossy(p: &Path) -> Result<String> {
    let mut buf = Vec::new();
    fs::File::open(p)
        .and_then(|mut f| f.read_to_end(&mut buf))
        .with_context(|| format!("failed to read {}", p.display()))?;
    Ok(String::from_utf8_lossy(&buf).into_owned())
}

/// Write a file atomically (write a sibling, then rename).
pub fn write_atomic(p: &Path, data: &[u8]) -> Result<()> {
    let tmp = p.with_extension(format!("tmp{}", std::process::id()));
    fs::write(&tmp, data).with_context(|| format!("failed to write {}", tmp.display()))?;
    fs::rename(&tmp, p).with_context(|| format!("failed to rename {} into place", tmp.display()))
}

/// Format a duration as `1m23s` or `12.3s`.
pub fn fmt_duration(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s >= 60.0 {
        let m = (s / 60.0).floor();
        format!("{}m{:02}s", m as u64, (s - m * 60.0).round() as u64)
    } else {
        format!("{s:.1}s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting() {
        assert_eq!(shell_quote("cat"), "cat");
        assert_eq!(
            shell_quote("/sys/kernel/sched_ext/state"),
            "/sys/kernel/sched_ext/state"
        );
        assert_eq!(shell_quote("a b"), "'a b'");
        assert_eq!(shell_quote("it's"), r"'it'\''s'");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_join(&["exit".into(), "3".into()]), "exit 3");
    }

    #[test]
    fn last_non_empty_line() {
        assert_eq!(last_line("a\nb\n\n  \n"), Some("b"));
        assert_eq!(last_line(""), None);
    }

    #[test]
    fn durations() {
        assert_eq!(fmt_duration(Duration::from_millis(12_340)), "12.3s");
        assert_eq!(fmt_duration(Duration::from_secs(83)), "1m23s");
    }
}
