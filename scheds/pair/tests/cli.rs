//! The binary's behaviour that needs no sched_ext kernel: option errors, and the
//! pairing refusals, which come before anything is loaded (so they read the same on
//! this host as in the VM). The 4-CPU refusals are checked in the VM by
//! tests/vm/refusals.sh; 2- and 3-CPU machines by the unit tests of src/pairing.rs.

use scx_core::cli_test;

const BIN: &str = env!("CARGO_BIN_EXE_scx_pair");

/// nr_cpu_ids of this host, as scx_pair computes it.
fn host_cpus() -> usize {
    let possible =
        std::fs::read_to_string("/sys/devices/system/cpu/possible").expect("no cpu/possible");
    possible
        .trim()
        .rsplit(['-', ','])
        .next()
        .and_then(|n| n.parse::<usize>().ok())
        .expect("bad cpu/possible")
        + 1
}

/// Status 2 and one sentence containing `want`, without a backtrace.
fn assert_refused(args: &[&str], want: &str) {
    let o = cli_test::run(BIN, args);
    let err = cli_test::stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
    assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
    assert!(err.contains(want), "{args:?}: want '{want}' in: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{args:?}: {err}"
    );
}

#[test]
fn help_and_version_exit_zero() {
    cli_test::assert_help_and_version(BIN, "scx_pair", &["--stride", "--smt", "--max-cgroups"]);
}

#[test]
fn bad_options_are_usage_errors() {
    cli_test::assert_usage_errors(
        BIN,
        &[
            &["--bogus"],
            &["-S", "x"],
            &["-S", "-2"],
            &["--smt", "-S", "2"],
            &["--max-cgroups", "5000"],
        ],
    );
}

#[test]
fn self_pairing_is_refused_before_loading() {
    let n = host_cpus();
    assert_refused(
        &["-S", "0"],
        "-S/--stride takes a whole number from 1 to 1023",
    );
    assert_refused(
        &["-S", &n.to_string()],
        if n.is_multiple_of(2) {
            "itself"
        } else {
            "even number"
        },
    );
}

#[test]
fn strides_other_than_half_are_refused_before_loading() {
    let n = host_cpus();
    if !n.is_multiple_of(2) {
        assert_refused(&["-S", "1"], "even number");
        return;
    }
    for s in 1..n {
        if s != n / 2 {
            assert_refused(&["-S", &s.to_string()], "with both");
        }
    }
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    // On a host with an odd CPU count the pairing refusal comes first.
    if host_cpus().is_multiple_of(2) {
        cli_test::assert_refused_without_sched_ext(BIN, &[]);
    }
}
