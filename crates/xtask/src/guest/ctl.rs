//! `xtask sched-ctl`: the driver's waits for lib.sh's `sched_start`,
//! `sched_stop` and `kernel_log_clean`. The shell starts the scheduler and
//! reaps it (only a parent can read its exit status); this command does the
//! waiting, with the driver's timeouts, and prints why when a wait fails.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use super::driver::{last_line_of, state};
use super::driver::{
    pid_exited, wait_disabled, wait_enabled, wait_exit, StartFail, ENABLE_TIMEOUT, STOP_TIMEOUT,
};
use super::kernel_log::{dmesg_text, flagged_lines};
use crate::util;

/// Exit status of `enabled` when the scheduler exited before it was enabled.
const EXITED: u8 = 3;

#[derive(clap::Args)]
pub struct CtlArgs {
    #[command(subcommand)]
    cmd: Ctl,
}

#[derive(Subcommand)]
enum Ctl {
    /// Wait until the kernel enables PID's scheduler under OPS
    Enabled {
        #[arg(long)]
        pid: u32,
        #[arg(long)]
        ops: String,
        /// Its stderr file, whose last line explains an early exit
        #[arg(long)]
        stderr: Option<std::path::PathBuf>,
    },
    /// Signal PID, wait for its exit and then for the state `disabled`
    Stop {
        #[arg(long)]
        pid: u32,
        /// Signal name (INT, TERM, KILL, HUP, USR1, USR2, with or without SIG) or number
        #[arg(long, default_value = "INT")]
        signal: String,
    },
    /// Print the kernel log lines the driver's filter flags
    KernelLog,
}

pub fn run(a: CtlArgs) -> Result<ExitCode> {
    match a.cmd {
        Ctl::Enabled { pid, ops, stderr } => {
            match wait_enabled(&ops, || pid_exited(pid).then_some(None)) {
                Ok(_) => Ok(ExitCode::SUCCESS),
                Err(StartFail::Exited(_)) => {
                    let last = stderr.map(|p| last_line_of(&p)).unwrap_or_default();
                    println!("{last}");
                    Ok(ExitCode::from(EXITED))
                }
                Err(StartFail::NotEnabled { state, ops }) => {
                    println!(
                        "was not enabled within {} s (state {state}, ops '{ops}')",
                        ENABLE_TIMEOUT.as_secs()
                    );
                    Ok(ExitCode::FAILURE)
                }
            }
        }
        Ctl::Stop { pid, signal } => {
            let Some(sig) = signal_number(&signal) else {
                println!("sched-ctl stop: unknown signal {signal}");
                return Ok(ExitCode::from(2));
            };
            util::kill_pid(pid, sig);
            if !wait_exit(|| pid_exited(pid)) {
                util::kill_pid(pid, libc::SIGKILL);
                println!(
                    "did not exit within {} s of SIG{}",
                    STOP_TIMEOUT.as_secs(),
                    signal.trim_start_matches("SIG")
                );
                return Ok(ExitCode::FAILURE);
            }
            if !wait_disabled() {
                println!("exited, but the state reads {}", state());
                return Ok(ExitCode::FAILURE);
            }
            Ok(ExitCode::SUCCESS)
        }
        Ctl::KernelLog => {
            for l in flagged_lines(&dmesg_text()) {
                println!("{}", l.trim());
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// The number of a signal given as the shell's `kill -NAME` would take it.
fn signal_number(s: &str) -> Option<libc::c_int> {
    if let Ok(n) = s.parse() {
        return Some(n);
    }
    Some(match s.trim_start_matches("SIG") {
        "INT" => libc::SIGINT,
        "TERM" => libc::SIGTERM,
        "KILL" => libc::SIGKILL,
        "HUP" => libc::SIGHUP,
        "QUIT" => libc::SIGQUIT,
        "USR1" => libc::SIGUSR1,
        "USR2" => libc::SIGUSR2,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signal_names() {
        assert_eq!(signal_number("INT"), Some(libc::SIGINT));
        assert_eq!(signal_number("SIGTERM"), Some(libc::SIGTERM));
        assert_eq!(signal_number("9"), Some(9));
        assert_eq!(signal_number("BOGUS"), None);
    }

    #[test]
    fn own_process_is_running_and_a_free_pid_has_exited() {
        assert!(!pid_exited(std::process::id()));
        // pid_max is at most 2^22.
        assert!(pid_exited(1 << 23));
    }

    #[test]
    fn an_unreaped_child_counts_as_exited() {
        let mut c = std::process::Command::new("true").spawn().unwrap();
        let t0 = std::time::Instant::now();
        while !pid_exited(c.id()) {
            assert!(t0.elapsed().as_secs() < 10, "true did not exit");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        // Still a zombie: our wait reaps it now.
        assert!(c.wait().unwrap().success());
    }
}
