//! scx-core: the sched_ext protocol shared by every scheduler of the suite.
//!
//! It owns the lifecycle and nothing of any policy: preflight checks, opening the
//! skeleton, the struct_ops fields every scheduler shares, loading, attaching, the run
//! loop with signals and stats, detaching, the exit info and restarts. A scheduler's
//! `main.rs` parses its options once and hands [`run`] a closure that opens, configures,
//! loads and attaches its skeleton; see `scheds/simple/src/main.rs` for the shape.

pub mod cli;
pub mod cli_test;
pub mod compat;
pub mod exit;
pub mod generate;
pub mod logging;
pub mod ops;
pub mod preflight;
pub mod runner;
pub mod topology;

pub use cli::CommonOpts;
pub use ops::{add_ops_flags, attach, load, open, percpu_values};
pub use plain::Plain;
pub use runner::{run, Attached, Scheduler};
pub use topology::{CpuSet, Topology};

/// `<version> (<git revision>)`, for every binary's `--version`.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SCX_GIT_REV"), ")");
