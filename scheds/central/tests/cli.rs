//! The binary's behaviour that needs no sched_ext kernel: option errors, the central
//! CPU check (made before sched_ext is even looked for), and the one-sentence refusal
//! on a host without sched_ext.

use scx_core::cli_test;

const BIN: &str = env!("CARGO_BIN_EXE_scx_central");

#[test]
fn help_and_version_exit_zero() {
    cli_test::assert_help_and_version(
        BIN,
        "scx_central",
        &[
            "--slice-us",
            "--central-cpu",
            "--stats-json",
            "--timeout-ms",
        ],
    );
}

#[test]
fn bad_options_are_usage_errors() {
    cli_test::assert_usage_errors(
        BIN,
        &[
            &["--bogus"],
            &["-s", "0"],
            &["-s", "999"],
            &["-c", "-1"],
            &["-c", "zero"],
        ],
    );
}

#[test]
fn central_cpu_that_is_not_online_is_refused_first() {
    // No machine running these tests has 8000 CPUs; the check comes before the
    // sched_ext preflight, so it answers the same with or without sched_ext.
    let o = cli_test::run(BIN, &["-c", "8000"]);
    let err = cli_test::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.contains("CPU 8000 cannot be the central CPU because it is not online"),
        "{err}"
    );
    let online = std::fs::read_to_string("/sys/devices/system/cpu/online").unwrap_or_default();
    assert!(
        err.trim_end()
            .ends_with(&format!("one of {}", online.trim())),
        "{err} vs online {online}"
    );
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    cli_test::assert_refused_without_sched_ext(BIN, &[]);
}
