//! The binary's behaviour that needs no sched_ext kernel: option refusals (checked
//! before anything is loaded), help and version, and on a host without sched_ext,
//! the one-sentence refusal.

use scx_core::cli_test;

const BIN: &str = env!("CARGO_BIN_EXE_scx_qmap");

#[test]
fn help_and_version_exit_zero() {
    cli_test::assert_help_and_version(
        BIN,
        "scx_qmap",
        &[
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
            "--stats",
            "--stats-json",
            "--timeout-ms",
        ],
    );
}

#[test]
fn bad_options_are_usage_errors_checked_before_loading() {
    cli_test::assert_usage_errors(
        BIN,
        &[
            &["--bogus"],
            &["-s", "0"],
            &["-e", "0"],
            &["-e", "x"],
            &["-t", "0"],
            &["-T", "-3"],
            &["-l", "0"],
            &["-b", "0"],
            &["-b", "33"],
            &["-d", "-2"],
            &["-d", "abc"],
            &["-D", "100"],
            &["-D", "4096", "--exit-dump-len", "8192"],
            &["--timeout-ms", "30001"],
            &["--stats-interval", "x"],
        ],
    );
}

#[test]
fn host_without_sched_ext_gets_one_sentence() {
    cli_test::assert_refused_without_sched_ext(BIN, &["-H", "-d", "-1"]);
}

/// qmap's BPF side sets ops.timeout_ms to 5000: --help must not give the kernel's 30000
/// as its default.
#[test]
fn help_gives_qmaps_own_watchdog_default() {
    let out = std::process::Command::new(BIN)
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let words = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(words.contains("watchdog timeout is 5 s"), "{help}");
    assert!(!words.contains("[default: kernel's, 30000]"), "{help}");
}
