//! The binary's behaviour that needs no sched_ext kernel: option errors, the central
//! CPU check (made before sched_ext is even looked for), and the one-sentence refusal
//! on a host without sched_ext.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_scx_central")).args(args).output().expect("failed to run scx_central")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn help_and_version_exit_zero() {
    let o = run(&["--help"]);
    assert_eq!(o.status.code(), Some(0));
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in ["--slice-us", "--central-cpu", "--stats-json", "--timeout-ms"] {
        assert!(help.contains(opt), "{opt}: {help}");
    }
    let v = run(&["--version"]);
    assert_eq!(v.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&v.stdout).starts_with("scx_central 0."));
}

#[test]
fn bad_options_are_usage_errors() {
    for args in [&["--bogus"][..], &["-s", "0"], &["-s", "999"], &["-c", "-1"], &["-c", "zero"]] {
        let o = run(args);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}");
    }
}

#[test]
fn central_cpu_that_is_not_online_is_refused_first() {
    // No machine running these tests has 100000 CPUs; the check comes before the
    // sched_ext preflight, so it answers the same with or without sched_ext.
    let o = run(&["-c", "100000"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CPU 100000 cannot be the central CPU because it is not online"), "{err}");
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    assert!(err.trim_end().ends_with(&format!("one of {}", online.trim())), "{err} vs online {online}");
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
