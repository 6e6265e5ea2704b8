//! The binary's behaviour that needs no sched_ext kernel: option errors and the
//! one-sentence refusal on a host without sched_ext.

use scx_core::cli_test;

const BIN: &str = env!("CARGO_BIN_EXE_scx_userland");

#[test]
fn help_and_version_exit_zero() {
    cli_test::assert_help_and_version(
        BIN,
        "scx_userland",
        &["--batch", "--partial", "--stats-json", "--timeout-ms"],
    );
}

#[test]
fn bad_options_are_usage_errors() {
    cli_test::assert_usage_errors(
        BIN,
        &[
            &["--bogus"],
            &["-b", "0"],
            &["-b", "1025"],
            &["-b", "eight"],
            &["--stats-interval", "-1"],
        ],
    );
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    cli_test::assert_refused_without_sched_ext(BIN, &[]);
}
