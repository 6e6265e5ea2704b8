//! What the host asks the benchmark agent to do, what it reports back, and the
//! metrics both sides agree on. Everything travels as JSON through the
//! results directory (an `--rwdir`), like the test plan does.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub const PLAN_FILE: &str = "bench-plan.json";
pub const RESULTS_FILE: &str = "results.json";
pub const TABLE_FILE: &str = "results.md";

/// The row of the kernel's own scheduler (nothing loaded).
pub const DEFAULT_SCHED: &str = "default";
/// The default scheduler measured again after all the others (drift check).
pub const DEFAULT_AGAIN: &str = "default-again";

/// One measured quantity of one workload.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metric {
    /// Key in [`SchedBench::samples`] and the chart's file stem.
    pub id: &'static str,
    /// The workload as a reader knows it (the command).
    pub workload: &'static str,
    /// What is measured.
    pub what: &'static str,
    pub unit: &'static str,
    pub higher_is_better: bool,
}

impl Metric {
    pub fn direction(&self) -> &'static str {
        if self.higher_is_better {
            "higher is better"
        } else {
            "lower is better"
        }
    }
}

pub const METRICS: &[Metric] = &[
    Metric {
        id: "messaging",
        workload: "perf bench sched messaging",
        what: "run time",
        unit: "s",
        higher_is_better: false,
    },
    Metric {
        id: "hackbench",
        workload: "hackbench (pipes)",
        what: "run time",
        unit: "s",
        higher_is_better: false,
    },
    Metric {
        id: "stress_cpu",
        workload: "stress-ng --cpu",
        what: "throughput",
        unit: "bogo ops/s",
        higher_is_better: true,
    },
    Metric {
        id: "stress_switch",
        workload: "stress-ng --switch",
        what: "context switch rate",
        unit: "bogo ops/s",
        higher_is_better: true,
    },
    Metric {
        id: "pipe",
        workload: "perf bench sched pipe",
        what: "round trip",
        unit: "µs/op",
        higher_is_better: false,
    },
    Metric {
        id: "cyclictest_avg",
        workload: "cyclictest (SCHED_OTHER) next to CPU hogs",
        what: "average wakeup latency",
        unit: "µs",
        higher_is_better: false,
    },
    Metric {
        id: "cyclictest_p99",
        workload: "cyclictest (SCHED_OTHER) next to CPU hogs",
        what: "99th percentile wakeup latency",
        unit: "µs",
        higher_is_better: false,
    },
    Metric {
        id: "cyclictest_max",
        workload: "cyclictest (SCHED_OTHER) next to CPU hogs",
        what: "maximum wakeup latency",
        unit: "µs",
        higher_is_better: false,
    },
    Metric {
        id: "fairness_error",
        workload: "nice 0/5/10 loops pinned to one CPU",
        what: "largest share error vs weights",
        unit: "percentage points",
        higher_is_better: false,
    },
    Metric {
        id: "fairness_free_error",
        workload: "nice 0/5/10 loops, unpinned",
        what: "largest share error vs weights",
        unit: "percentage points",
        higher_is_better: false,
    },
];

#[cfg(test)]
pub fn metric(id: &str) -> Option<&'static Metric> {
    METRICS.iter().find(|m| m.id == id)
}

/// The nice levels of the fairness run and the kernel's weights for them.
pub const FAIR_NICE: [i32; 3] = [0, 5, 10];
pub const FAIR_WEIGHTS: [f64; 3] = [1024.0, 335.0, 110.0];

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchPlan {
    /// Kernel label as the host knows it.
    pub kernel: String,
    pub results_dir: PathBuf,
    pub reps: u32,
    pub scheds: Vec<BenchSched>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BenchSched {
    pub name: String,
    /// What `/sys/kernel/sched_ext/root/ops` starts with while it runs.
    pub ops: String,
    pub binary: PathBuf,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct BenchResults {
    pub kernel: String,
    /// `uname -r` in the guest.
    pub uname: String,
    pub nr_cpus: usize,
    pub reps: u32,
    /// Filled by the host: QEMU acceleration, UTC date, the command line.
    pub accel: String,
    pub date: String,
    pub command: String,
    /// Tool → version line (or why it is missing), as seen in the guest.
    pub tools: BTreeMap<String, String>,
    /// Run-wide problems (a missing tool, bpf stats unavailable).
    pub problems: Vec<String>,
    pub scheds: Vec<SchedBench>,
    /// Set once every scheduler of the plan has been run.
    pub complete: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SchedBench {
    /// `default` or the directory name under `scheds/`.
    pub name: String,
    /// Whether the kernel reported it enabled under its name (always true for
    /// the default scheduler).
    pub enabled: bool,
    /// Seconds from start until the kernel reported it enabled.
    pub load_secs: Option<f64>,
    /// Set when it left during a workload: what was seen.
    pub ejected: Option<String>,
    /// The loader's exit status after SIGINT.
    pub exit_status: Option<i32>,
    /// `/sys/kernel/sched_ext/state` after it stopped.
    pub state_after: String,
    /// Every sample of every metric, in run order.
    pub samples: BTreeMap<String, Vec<f64>>,
    /// Observed CPU shares of the pinned nice 0/5/10 loops, one entry per repetition.
    pub fair_shares: Vec<Vec<f64>>,
    /// The same for the unpinned loops (summed per nice level).
    #[serde(default)]
    pub fair_free_shares: Vec<Vec<f64>>,
    pub overhead: Option<Overhead>,
    /// Workload runs that failed, and other trouble.
    pub problems: Vec<String>,
    pub secs: f64,
    pub done: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Overhead {
    /// Seconds between the two snapshots (the workloads).
    pub window_secs: f64,
    pub progs: Vec<ProgStat>,
    /// BPF run time as a share of all CPUs' time in the window (%).
    pub bpf_cpu_pct: Option<f64>,
    /// Loader utime+stime in the window, as % of one CPU.
    pub loader_cpu_pct: Option<f64>,
    /// Loader utime+stime from its start (loading and verifying included).
    pub loader_cpu_total_secs: Option<f64>,
    /// VmHWM of the loader (KiB).
    pub peak_rss_kib: Option<u64>,
    /// scx_userland: user-space scheduling decisions per second in the window.
    pub decisions_per_sec: Option<f64>,
    /// The loader's last stats line (JSON).
    pub last_stats: Option<serde_json::Value>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ProgStat {
    pub id: u32,
    pub name: String,
    /// Calls and run time in the window (with kernel.bpf_stats_enabled=1).
    pub calls: u64,
    pub run_ns: u64,
    /// Instructions the verifier processed when it was loaded.
    pub verified_insns: Option<u64>,
}

impl ProgStat {
    pub fn ns_per_call(&self) -> Option<f64> {
        (self.calls > 0).then(|| self.run_ns as f64 / self.calls as f64)
    }
}

impl Overhead {
    pub fn calls(&self) -> u64 {
        self.progs.iter().map(|p| p.calls).sum()
    }

    pub fn run_ns(&self) -> u64 {
        self.progs.iter().map(|p| p.run_ns).sum()
    }

    /// Mean cost of one call over all programs.
    pub fn ns_per_call(&self) -> Option<f64> {
        let c = self.calls();
        (c > 0).then(|| self.run_ns() as f64 / c as f64)
    }

    pub fn verified_insns(&self) -> Option<u64> {
        let v: Vec<u64> = self.progs.iter().filter_map(|p| p.verified_insns).collect();
        (!v.is_empty()).then(|| v.iter().sum())
    }
}

impl SchedBench {
    /// A row of the kernel's own scheduler (first or again at the end).
    pub fn is_default(&self) -> bool {
        self.name == DEFAULT_SCHED || self.name == DEFAULT_AGAIN
    }

    /// Whether the run of this scheduler went as it must: loaded, never
    /// ejected, exited 0 and detached.
    pub fn clean(&self) -> bool {
        if self.is_default() {
            return self.ejected.is_none();
        }
        self.enabled
            && self.ejected.is_none()
            && self.exit_status == Some(0)
            && self.state_after == "disabled"
    }
}
