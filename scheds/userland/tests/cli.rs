//! The binary's behaviour that needs no sched_ext kernel: option errors and the
//! one-sentence refusal on a host without sched_ext.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_userland")).args(args).output().expect("failed to run scx_userland")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_and_version_exit_zero() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in ["--batch", "--partial", "--stats-json", "--timeout-ms"] {
        assert!(help.contains(opt), "{opt}: {help}");
    }
    let v = run(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("scx_userland 0."));
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [&["--bogus"][..], &["-b", "0"], &["-b", "1025"], &["-b", "eight"], &["--stats-interval", "-1"]] {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    if Path::new("/sys/kernel/sched_ext").exists() {
        eprintln!("this host has sched_ext; the VM checks cover the other refusals");
        return;
    }
    let o = run(&[]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(69), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CONFIG_SCHED_CLASS_EXT"), "{err}");
}
