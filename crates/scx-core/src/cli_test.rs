//! What every scheduler's `tests/cli.rs` checks the same way: the binary runs
//! without a sched_ext kernel, answers `--help` and `--version`, refuses bad
//! options with clap's usage status and no panic, and on a host without sched_ext
//! says so in one sentence. For integration tests only: the functions panic (that
//! is how a test fails).
//!
//! ```ignore
//! const BIN: &str = env!("CARGO_BIN_EXE_scx_simple");
//! #[test]
//! fn bad_options() { scx_core::cli_test::assert_usage_errors(BIN, &[&["-s", "0"][..]]); }
//! ```

use std::path::Path;
use std::process::{Command, Output};

/// Runs `bin` with `args` and collects its output.
pub fn run(bin: &str, args: &[&str]) -> Output {
    Command::new(bin)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("failed to run {bin}: {e}"))
}

/// The standard error of `o`, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// `--help` exits 0 and names every option in `options`; `--version` exits 0 and
/// starts with `name` and the version.
pub fn assert_help_and_version(bin: &str, name: &str, options: &[&str]) {
    let o = run(bin, &["--help"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let help = String::from_utf8_lossy(&o.stdout);
    for opt in options {
        assert!(help.contains(opt), "--help lacks {opt}: {help}");
    }
    let v = run(bin, &["--version"]);
    assert_eq!(v.status.code(), Some(0));
    let version = String::from_utf8_lossy(&v.stdout);
    assert!(
        version.starts_with(&format!("{name} {}", crate::VERSION)),
        "{version}"
    );
}

/// Each argument list is refused with clap's usage status (2), without a panic.
pub fn assert_usage_errors(bin: &str, cases: &[&[&str]]) {
    for args in cases {
        let o = run(bin, args);
        let err = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {err}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
    }
}

/// On a host without sched_ext, running with `args` (valid options) exits 69 with
/// one line that names CONFIG_SCHED_CLASS_EXT. Returns false (checking nothing) on
/// a host that has sched_ext, where the VM checks cover the refusals.
pub fn assert_refused_without_sched_ext(bin: &str, args: &[&str]) -> bool {
    if Path::new("/sys/kernel/sched_ext").exists() {
        eprintln!("this host has sched_ext; the VM checks cover the other refusals");
        return false;
    }
    let o = run(bin, args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(69), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains("CONFIG_SCHED_CLASS_EXT"), "{err}");
    assert!(
        !err.contains("panicked") && !err.contains("backtrace"),
        "{err}"
    );
    true
}

/// `O`'s parser refuses `args` (the program name first) with status 2 and one line
/// that contains `expect` (the option and its range), before anything is loaded.
pub fn assert_refused<O: clap::Parser + std::fmt::Debug>(args: &[&str], expect: &str) {
    let err = O::try_parse_from(args).expect_err(&format!("{args:?} was accepted"));
    let text = err.to_string();
    assert_eq!(err.exit_code(), 2, "{args:?}: {text}");
    assert_eq!(text.trim_end().lines().count(), 1, "{args:?}: {text}");
    assert!(text.contains(expect), "{args:?}: {text} lacks {expect}");
}
