//! The binary's behaviour that needs no sched_ext kernel: option refusals (checked
//! before anything is loaded), help and version, and on a host without sched_ext,
//! the one-sentence refusal.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_qmap")).args(args).output().expect("failed to run scx_qmap")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_and_version_exit_zero() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--slice-us",
        "--error-after",
        "--stall-user-nth",
        "--stall-kernel-nth",
        "--dispatch-loop-after",
        "--batch",
        "--print-shared-dsq",
        "--highpri-boost",
        "--disallow",
        "--dump-len",
        "--suppress-dump",
        "--partial",
        "--stats-interval",
        "--stats-json",
        "--timeout-ms",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}: {help}");
    }
    let v = run(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("scx_qmap 0."));
}

#[test]
fn bad_options_are_usage_errors_checked_before_loading() {
    for args in [
        &["--bogus"][..],
        &["-s", "0"],
        &["-e", "0"],
        &["-e", "x"],
        &["-t", "0"],
        &["-T", "-3"],
        &["-l", "0"],
        &["-b", "0"],
        &["-b", "33"],
        &["-d", "0"],
        &["-d", "-2"],
        &["-d", "abc"],
        &["-D", "100"],
        &["-D", "4096", "--exit-dump-len", "8192"],
        &["--timeout-ms", "30001"],
        &["--stats-interval", "x"],
    ] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    if Path::new("/sys/kernel/sched_ext").exists() {
        eprintln!("this host has sched_ext; the VM tests cover the other refusals");
        return;
    }
    let o = run(&["-H", "-d", "-1"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(69), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CONFIG_SCHED_CLASS_EXT"), "{err}");
    assert!(!err.contains("panicked") && !err.contains("backtrace"), "{err}");
}
