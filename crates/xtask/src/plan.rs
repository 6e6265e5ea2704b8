//! What the host asks the guest agent to do (the plan) and what it reports back
//! (the results). Both travel as JSON files through the shared filesystem: the
//! plan is read from the host's (read-only) root, the results are written into
//! the `--rwdir` results directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// File names inside the results directory.
pub const PLAN_FILE: &str = "plan.json";
pub const RESULTS_FILE: &str = "results.json";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Test,
    Demo,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Plan {
    pub mode: Mode,
    /// Kernel label as the host knows it (for messages).
    pub kernel: String,
    /// Results and artifacts go here (an `--rwdir`).
    pub results_dir: PathBuf,
    /// `crates/xtask/vm/lib.sh`, exported to check scripts as SCX_LIB.
    pub lib_sh: PathBuf,
    pub scheds: Vec<SchedPlan>,
    /// Seconds of stress-ng in the smoke (and demo) workload.
    pub stress_secs: u64,
    /// Seconds of the soak check (`xtask soak`), exported as SCX_SOAK_SECS.
    #[serde(default)]
    pub soak_secs: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchedPlan {
    /// Directory name under `scheds/` or `fixtures/`.
    pub name: String,
    /// The name the kernel reports in `/sys/kernel/sched_ext/root/ops`.
    pub ops: String,
    pub binary: PathBuf,
    /// A fixture that must fail the smoke scenario (harness self-check).
    pub expect_fail: bool,
    /// Extra scheduler arguments (demo only).
    pub args: Vec<String>,
    /// Run the common smoke scenario before the checks.
    #[serde(default = "yes")]
    pub smoke: bool,
    /// The scheduler's source directory, exported to checks as SCX_SCHED_DIR.
    #[serde(default)]
    pub dir: PathBuf,
    pub checks: Vec<CheckPlan>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckPlan {
    /// Script file stem, e.g. `10-fairness` for `tests/vm/10-fairness.sh`;
    /// the fault suite's checks are `fault-<stem>`.
    pub name: String,
    pub script: PathBuf,
    pub timeout_secs: u64,
    /// `# kernels: newest`: planned only in the boot of the run's newest kernel.
    #[serde(default)]
    pub newest_kernel_only: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pass,
    Fail,
    Skip,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CheckResult {
    /// `smoke`, `self-check` or a check script's name.
    pub name: String,
    pub status: Status,
    /// The step of the smoke scenario that failed (load, workload, stop, ...).
    pub step: Option<String>,
    /// Why it failed or was skipped; for a passing self-check, what was seen.
    pub reason: String,
    pub secs: f64,
    /// Artifact directory (kept for failures only).
    pub artifacts: Option<PathBuf>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SchedResult {
    pub name: String,
    pub expect_fail: bool,
    pub checks: Vec<CheckResult>,
    /// False while its checks are still running (or when the VM died in them).
    pub done: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GuestResults {
    pub kernel: String,
    /// `uname -r` inside the guest.
    pub uname: String,
    pub nr_cpus: usize,
    /// Guest uptime when the agent started (seconds).
    pub boot_secs: f64,
    pub scheds: Vec<SchedResult>,
    /// Set once every scheduler in the plan has been run.
    pub complete: bool,
    /// Filled in demo mode.
    pub demo: Option<DemoSummary>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct DemoSummary {
    pub sched: String,
    pub enabled: bool,
    pub ops: String,
    pub exit_status: Option<i32>,
    pub exit_line: String,
    pub state_after: String,
    /// (label, value) workload figures in display order.
    pub figures: Vec<(String, String)>,
    pub problems: Vec<String>,
}
