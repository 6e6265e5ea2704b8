//! The binary's behaviour that needs no sched_ext kernel: option errors, and on a
//! host without sched_ext, the one-sentence refusal.

use scx_core::cli_test;

const BIN: &str = env!("CARGO_BIN_EXE_scx_flatcg");

#[test]
fn help_and_version_exit_zero() {
    cli_test::assert_help_and_version(
        BIN,
        "scx_flatcg",
        &[
            "--slice-us",
            "--interval",
            "--fifo",
            "--timeout-ms",
            "--stats",
        ],
    );
}

#[test]
fn bad_options_are_usage_errors_checked_before_loading() {
    cli_test::assert_usage_errors(
        BIN,
        &[
            &["--bogus"],
            &["--slice-us", "0"],
            &["-s", "99"],
            &["-s", "2000000"],
            &["-s", "fast"],
            &["--interval", "-1"],
            &["-i", "soon"],
            &["-i", "1", "--stats-interval", "2"],
            &["--fifo=yes"],
            &["--timeout-ms", "30001"],
            &["--stats-interval", "x"],
        ],
    );
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    cli_test::assert_refused_without_sched_ext(BIN, &["-f", "-s", "5000", "-i", "1"]);
}
