//! The `test` report: a scheduler × kernel table, the failures with their
//! artifacts, and the final `N passed, N failed` line.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use crate::plan::{CheckResult, Status};

pub const UNIT_ROW: &str = "unit tests";
pub const SELF_CHECK_ROW: &str = "harness self-check";

/// One check's result, placed in the table.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Table row: `unit tests`, a scheduler name, or `harness self-check`.
    pub row: String,
    /// What ran: the scheduler or fixture name (for messages).
    pub subject: String,
    /// Kernel label; `None` for host-only rows (unit tests).
    pub kernel: Option<String>,
    pub check: CheckResult,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counts {
    pub passed: usize,
    pub failed: usize,
    pub skipped: usize,
}

pub fn counts(outcomes: &[Outcome]) -> Counts {
    let mut c = Counts::default();
    for o in outcomes {
        match o.check.status {
            Status::Pass => c.passed += 1,
            Status::Fail => c.failed += 1,
            Status::Skip => c.skipped += 1,
        }
    }
    c
}

/// The last line of the report, exactly `N passed, N failed`.
pub fn summary_line(c: &Counts) -> String {
    format!("{} passed, {} failed", c.passed, c.failed)
}

fn cell(outcomes: &[&Outcome]) -> String {
    if outcomes.is_empty() {
        return "-".to_string();
    }
    let failed: Vec<&&Outcome> = outcomes
        .iter()
        .filter(|o| o.check.status == Status::Fail)
        .collect();
    let skipped = outcomes
        .iter()
        .filter(|o| o.check.status == Status::Skip)
        .count();
    if let Some(first) = failed.first() {
        let mut s = format!("FAIL {}", first.check.name);
        if let Some(step) = &first.check.step {
            let _ = write!(s, "/{step}");
        }
        if failed.len() > 1 {
            let _ = write!(s, " (+{})", failed.len() - 1);
        }
        s
    } else if skipped == outcomes.len() {
        "SKIP".to_string()
    } else if skipped > 0 {
        format!("PASS ({skipped} skip)")
    } else {
        "PASS".to_string()
    }
}

/// The table: one row per scheduler plus `unit tests` and `harness self-check`.
pub fn table(outcomes: &[Outcome], kernels: &[String], scheds: &[String]) -> String {
    let mut rows: Vec<(String, Vec<String>)> = Vec::new();
    let unit: Vec<&Outcome> = outcomes.iter().filter(|o| o.row == UNIT_ROW).collect();
    if !unit.is_empty() {
        let mut cells = vec![format!("{} (host)", cell(&unit))];
        cells.resize(kernels.len().max(1), String::new());
        rows.push((UNIT_ROW.to_string(), cells));
    }
    let mut names: Vec<String> = scheds.to_vec();
    if outcomes.iter().any(|o| o.row == SELF_CHECK_ROW) {
        names.push(SELF_CHECK_ROW.to_string());
    }
    for name in names {
        let cells = kernels
            .iter()
            .map(|k| {
                let mine: Vec<&Outcome> = outcomes
                    .iter()
                    .filter(|o| o.row == name && o.kernel.as_deref() == Some(k))
                    .collect();
                cell(&mine)
            })
            .collect();
        rows.push((name, cells));
    }
    let w0 = rows.iter().map(|r| r.0.len()).chain([9]).max().unwrap_or(9);
    let widths: Vec<usize> = (0..kernels.len())
        .map(|i| {
            rows.iter()
                .map(|r| r.1.get(i).map_or(0, String::len))
                .chain([kernels[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    let _ = write!(out, "{:<w0$}", "scheduler");
    for (k, w) in kernels.iter().zip(&widths) {
        let _ = write!(out, "  {k:<w$}");
    }
    let header_len = out.trim_end().len();
    out.truncate(header_len);
    out.push('\n');
    for (name, cells) in &rows {
        let mut line = format!("{name:<w0$}");
        for (i, w) in widths.iter().enumerate() {
            let _ = write!(line, "  {:<w$}", cells.get(i).map_or("", String::as_str));
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Relative to the workspace root when possible, for shorter messages.
fn short(p: &Path, root: &Path) -> PathBuf {
    p.strip_prefix(root)
        .map(Path::to_path_buf)
        .unwrap_or_else(|_| p.to_path_buf())
}

/// One line per failure naming scheduler, kernel and check, plus its artifacts.
pub fn failures(outcomes: &[Outcome], root: &Path) -> String {
    let mut out = String::new();
    for o in outcomes.iter().filter(|o| o.check.status == Status::Fail) {
        let kernel = o
            .kernel
            .as_deref()
            .map_or("the host".to_string(), |k| format!("kernel {k}"));
        let step = o
            .check
            .step
            .as_deref()
            .map_or(String::new(), |s| format!(" (step {s})"));
        let _ = writeln!(
            out,
            "FAIL {} on {kernel}, check {}{step}: {}",
            o.subject, o.check.name, o.check.reason
        );
        if let Some(a) = &o.check.artifacts {
            let _ = writeln!(out, "     artifacts: {}", short(a, root).display());
        }
    }
    out
}

/// Notes worth printing even on success: skips and what the self-check saw.
pub fn notes(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let kernel = o.kernel.as_deref().unwrap_or("host");
        match o.check.status {
            Status::Skip => {
                let _ = writeln!(
                    out,
                    "SKIP {} on kernel {kernel}, check {}: {}",
                    o.subject, o.check.name, o.check.reason
                );
            }
            Status::Pass if o.row == SELF_CHECK_ROW => {
                let _ = writeln!(out, "self-check on kernel {kernel}: {}", o.check.reason);
            }
            _ => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(
        name: &str,
        status: Status,
        step: Option<&str>,
        reason: &str,
        art: Option<&str>,
    ) -> CheckResult {
        CheckResult {
            name: name.into(),
            status,
            step: step.map(Into::into),
            reason: reason.into(),
            secs: 1.0,
            artifacts: art.map(PathBuf::from),
        }
    }

    fn o(row: &str, kernel: Option<&str>, c: CheckResult) -> Outcome {
        Outcome {
            row: row.into(),
            subject: row.into(),
            kernel: kernel.map(Into::into),
            check: c,
        }
    }

    fn sample() -> Vec<Outcome> {
        vec![
            o(
                UNIT_ROW,
                None,
                res("cargo test", Status::Pass, None, "", None),
            ),
            o(
                "simple",
                Some("6.16.12"),
                res("smoke", Status::Pass, None, "", None),
            ),
            o(
                "simple",
                Some("6.16.12"),
                res("10-fair", Status::Skip, None, "needs 4 CPUs", None),
            ),
            o(
                "simple",
                Some("7.3.4"),
                res(
                    "smoke",
                    Status::Fail,
                    Some("dmesg"),
                    "kernel log has 1 flagged line(s)",
                    Some("/ws/target/xtask/test/7.3.4/simple/smoke"),
                ),
            ),
            o(
                "simple",
                Some("7.3.4"),
                res("10-fair", Status::Fail, None, "exit 1: unfair", None),
            ),
            o(
                "qmap",
                Some("6.16.12"),
                res("smoke", Status::Pass, None, "", None),
            ),
            o(
                "qmap",
                Some("7.3.4"),
                res("smoke", Status::Pass, None, "", None),
            ),
            Outcome {
                row: SELF_CHECK_ROW.into(),
                subject: "fail_error".into(),
                kernel: Some("7.3.4".into()),
                check: res(
                    "self-check",
                    Status::Pass,
                    Some("load"),
                    "it reported: EXIT: scx_bpf_error (boom)",
                    None,
                ),
            },
        ]
    }

    #[test]
    fn summary() {
        let c = counts(&sample());
        assert_eq!(
            c,
            Counts {
                passed: 5,
                failed: 2,
                skipped: 1
            }
        );
        assert_eq!(summary_line(&c), "5 passed, 2 failed");
    }

    #[test]
    fn table_layout() {
        let t = table(
            &sample(),
            &["6.16.12".into(), "7.3.4".into()],
            &["qmap".into(), "simple".into()],
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["scheduler", "6.16.12", "7.3.4"]
        );
        assert_eq!(lines[1], "unit tests          PASS (host)");
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["qmap", "PASS", "PASS"]
        );
        assert!(lines[3].starts_with("simple"));
        assert!(lines[3].contains("PASS (1 skip)"));
        assert!(lines[3].ends_with("FAIL smoke/dmesg (+1)"));
        assert_eq!(
            lines[4].split_whitespace().collect::<Vec<_>>(),
            ["harness", "self-check", "-", "PASS"]
        );
        // Columns line up.
        let col = lines[0].find("7.3.4").expect("header");
        assert_eq!(lines[3].find("FAIL"), Some(col));
    }

    #[test]
    fn failure_lines_name_scheduler_kernel_and_check() {
        let f = failures(&sample(), Path::new("/ws"));
        let lines: Vec<&str> = f.lines().collect();
        assert_eq!(
            lines[0],
            "FAIL simple on kernel 7.3.4, check smoke (step dmesg): kernel log has 1 flagged line(s)"
        );
        assert_eq!(
            lines[1],
            "     artifacts: target/xtask/test/7.3.4/simple/smoke"
        );
        assert_eq!(
            lines[2],
            "FAIL simple on kernel 7.3.4, check 10-fair: exit 1: unfair"
        );
        let n = notes(&sample());
        assert!(n.contains("SKIP simple on kernel 6.16.12, check 10-fair: needs 4 CPUs"));
        assert!(n.contains("self-check on kernel 7.3.4: it reported: EXIT: scx_bpf_error (boom)"));
    }
}
