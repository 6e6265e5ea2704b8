//! scx_pair: the CPUs are split into pairs, and the two CPUs of a pair only ever run
//! tasks of one cgroup at a time (core scheduling as a policy). A pair serves a cgroup
//! for a batch, drains it, then takes the next cgroup from a global queue. The policy,
//! its queues and its trade-offs are described at the top of `src/bpf/main.bpf.c`.

mod pairing;

use std::fmt;
use std::fs;
use std::mem::MaybeUninit;
use std::path::Path;

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::{Link, Object, OpenObject};
use scx_core::compat;
use scx_core::exit::status;
use scx_core::preflight::Refusal;
use scx_core::{Attached, CommonOpts, Topology};
use serde::Serialize;

use pairing::Pairs;

#[allow(
    clippy::all,
    unused_imports,
    unused_qualifications,
    non_camel_case_types,
    non_snake_case
)]
mod bpf {
    include!(concat!(env!("OUT_DIR"), "/bpf_skel.rs"));
}

/// `--help`'s closing text: requirements, examples, exit statuses, the suite.
fn long_help() -> String {
    scx_core::cli::long_help(&[
        ("scx_pair", "pair CPU i with i + nr_cpu_ids / 2"),
        (
            "scx_pair --smt --stats 1",
            "pair SMT siblings, stats every second",
        ),
        (
            "scx_pair -S 1 --max-cgroups 256",
            "pair neighbours, track at most 256 cgroups",
        ),
    ])
}

/// The BPF side's limits (MAX_CPUS and MAX_CGRPS in main.bpf.c).
const MAX_CPUS: usize = 1024;
const MAX_CGROUPS: u32 = 4096;
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// A sched_ext scheduler: the two CPUs of a pair only ever run tasks of one cgroup at a time.
#[derive(Parser, Debug)]
#[command(name = "scx_pair", version = scx_core::VERSION, after_long_help = long_help())]
struct Opts {
    /// Pair CPU i with CPU (i + STRIDE) mod nr_cpu_ids [default: nr_cpu_ids / 2]
    #[arg(short = 'S', long, value_name = "STRIDE", allow_negative_numbers = true,
          value_parser = scx_core::cli::whole::<usize>(1, MAX_CPUS as i64 - 1))]
    stride: Option<usize>,

    /// Pair real SMT siblings, read from the CPU topology, instead of using a stride
    #[arg(long, conflicts_with = "stride")]
    smt: bool,

    /// How many cgroups can be tracked; creating one more fails with EBUSY (at most 4096)
    #[arg(long, value_name = "N", default_value_t = MAX_CGROUPS,
          allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, MAX_CGROUPS as i64))]
    max_cgroups: u32,

    #[command(flatten)]
    common: CommonOpts,
}

/// Counts since the scheduler was attached: `struct pair_stats` of `src/bpf/intf.h`
/// under the names its comments give, and the cgroups tracked now.
#[derive(Serialize)]
struct Stats {
    /// Tasks enqueued.
    total: u64,
    /// Tasks moved from their cgroup's queue to a CPU of the pair serving it.
    dispatched: u64,
    /// Tasks whose cgroup had no slot (being removed): run outside the pair rule.
    missing: u64,
    /// Affinity-restricted tasks run where queued, outside the pair rule.
    bypass: u64,
    /// Tasks that used their slice with nothing else queued and kept their CPU, inside
    /// the pair rule; with `dispatched`, `missing` and `bypass` it accounts for where
    /// the enqueued tasks went.
    kept: u64,
    /// Kicks sent to a partner CPU.
    kicks: u64,
    /// Times a higher sched class took a CPU of a pair.
    preemptions: u64,
    /// Batches ended by time.
    expirations: u64,
    /// Batches ended because the cgroup had nothing left.
    exp_empty: u64,
    /// Times a CPU idled while its partner finished the old cgroup.
    waits: u64,
    /// Times a pair took a new cgroup.
    cgroup_switches: u64,
    /// Cgroups popped from the global queue that another pair had drained already.
    collisions: u64,
    /// Cgroups tracked now, and the limit.
    cgroups: u64,
    max_cgroups: u32,
    /// Cgroup creations refused because the limit was reached.
    refused: u64,
}

impl Stats {
    fn new(s: &bpf::types::pair_stats, cgroups: u64, max_cgroups: u32) -> Self {
        Stats {
            total: s.nr_total,
            dispatched: s.nr_dispatched,
            missing: s.nr_missing,
            bypass: s.nr_bypass,
            kept: s.nr_kept,
            kicks: s.nr_kicks,
            preemptions: s.nr_preemptions,
            expirations: s.nr_exps,
            exp_empty: s.nr_exp_empty,
            waits: s.nr_exp_waits,
            cgroup_switches: s.nr_cgrp_next,
            collisions: s.nr_cgrp_coll,
            cgroups,
            max_cgroups,
            refused: s.nr_refused,
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "total={} dispatched={} missing={} bypass={} kept={} kicks={} preemptions={} expirations={} \
             exp_empty={} waits={} cgroup_switches={} collisions={} cgroups={}/{} refused={}",
            self.total,
            self.dispatched,
            self.missing,
            self.bypass,
            self.kept,
            self.kicks,
            self.preemptions,
            self.expirations,
            self.exp_empty,
            self.waits,
            self.cgroup_switches,
            self.collisions,
            self.cgroups,
            self.max_cgroups,
            self.refused
        )
    }
}

fn refuse(message: String) -> anyhow::Error {
    Refusal {
        status: status::USAGE,
        message,
    }
    .into()
}

/// The pairs for this machine, or a one-sentence refusal.
fn make_pairs(opts: &Opts, topo: &Topology) -> Result<Pairs> {
    let nr = topo.nr_cpu_ids;
    if nr > MAX_CPUS {
        return Err(refuse(format!(
            "scx_pair supports at most {MAX_CPUS} CPUs, and this machine has {nr}"
        )));
    }
    let pairs = if opts.smt {
        let siblings: Vec<Option<Vec<usize>>> = (0..nr)
            .map(|c| topo.cpus.get(&c).map(|cpu| cpu.siblings.iter().collect()))
            .collect();
        pairing::smt_pairs(&siblings)
    } else {
        pairing::stride_pairs(nr, opts.stride.unwrap_or(nr / 2))
    };
    pairs.map_err(refuse)
}

/// Cgroups that will have a cpu controller (the root, and every child of a cgroup
/// with `cpu` in its subtree_control): each takes one slot when the scheduler loads.
fn count_cpu_cgroups(dir: &Path) -> u64 {
    let enabled = fs::read_to_string(dir.join("cgroup.subtree_control"))
        .is_ok_and(|s| s.split_whitespace().any(|c| c == "cpu"));
    let Ok(entries) = fs::read_dir(dir) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            n += u64::from(enabled) + count_cpu_cgroups(&e.path());
        }
    }
    n
}

/// Warns when pairs cannot tell cgroups apart, refuses when the limit is already exceeded.
fn check_cgroups(max: u32) -> Result<()> {
    let root = Path::new(CGROUP_ROOT);
    if !root.join("cgroup.controllers").exists() {
        log::warn!("no cgroup v2 hierarchy at {CGROUP_ROOT}: every task counts as one cgroup");
        return Ok(());
    }
    let control = fs::read_to_string(root.join("cgroup.subtree_control")).unwrap_or_default();
    if !control.split_whitespace().any(|c| c == "cpu") {
        log::warn!(
            "the cpu controller is not enabled in {CGROUP_ROOT}/cgroup.subtree_control, so every task counts as the \
             root cgroup's (enable it with: echo +cpu > {CGROUP_ROOT}/cgroup.subtree_control)"
        );
    }
    let existing = 1 + count_cpu_cgroups(root);
    if existing > u64::from(max) {
        return Err(refuse(format!(
            "{existing} cgroups use the cpu controller and scx_pair can track at most {max}: raise --max-cgroups \
             (up to {MAX_CGROUPS}) or remove cgroups"
        )));
    }
    Ok(())
}

struct Scheduler<'obj> {
    skel: bpf::MainSkel<'obj>,
    max_cgroups: u32,
    refused_seen: u64,
    /// The sched_switch tracepoint standing in for cpu_acquire/release (7.1+).
    _switch_tp: Option<Link>,
}

impl<'obj> Scheduler<'obj> {
    fn init(
        opts: &Opts,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Attached<'obj, Stats>> {
        // Pair the CPUs first: a bad stride is refused before anything is loaded.
        let topo = Topology::new().context("failed to read the CPU topology")?;
        let pairs = make_pairs(opts, &topo)?;

        // Open the object (after the system checks); scx-core sets the shared fields.
        let mut open = scx_core::open(bpf::MainSkelBuilder::default(), storage, &opts.common)?;

        // Kfuncs main.bpf.c calls without a fallback: refused clearly where unusable.
        compat::require_kfuncs(&["scx_bpf_kick_cpu"])?;

        log::info!("pairs: {pairs}");
        check_cgroups(opts.max_cgroups)?;

        // The pair table and the cgroup limit, fixed once loaded.
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        rodata.nr_cpus = topo.nr_cpu_ids as u32;
        rodata.max_cgroups = opts.max_cgroups;
        for (cpu, (partner, id, side)) in pairs.table(topo.nr_cpu_ids).into_iter().enumerate() {
            rodata.pair_cpu[cpu] = partner as i32;
            rodata.pair_id[cpu] = id;
            rodata.pair_side[cpu] = side;
        }

        // A higher class taking a CPU: from 7.1 SCX_ENQ_IMMED and the sched_switch
        // tracepoint replace ops.cpu_acquire/release (deprecated in 7.2), which are
        // cleared so that the kernel never sees them; before 7.1 the tracepoint stays out.
        let use_switch_tp = compat::enum_value("scx_enq_flags", "SCX_ENQ_IMMED").is_some();
        if use_switch_tp {
            let ops = open.struct_ops.pair_ops_mut();
            ops.cpu_acquire = std::ptr::null_mut();
            ops.cpu_release = std::ptr::null_mut();
            open.progs.pair_cpu_acquire.set_autoload(false);
            open.progs.pair_cpu_release.set_autoload(false);
        } else {
            open.progs.pair_sched_switch.set_autoload(false);
        }

        // Load (the verifier runs here) and attach.
        let mut skel = scx_core::load(open)?;
        let link = scx_core::attach(&mut skel)?;
        let switch_tp = if use_switch_tp {
            Some(
                skel.progs
                    .pair_sched_switch
                    .attach()
                    .context("failed to attach the sched_switch tracepoint")?,
            )
        } else {
            None
        };
        log::info!("tracking at most {} cgroups", opts.max_cgroups);
        let sched = Scheduler {
            skel,
            max_cgroups: opts.max_cgroups,
            refused_seen: 0,
            _switch_tp: switch_tp,
        };
        Ok(Attached::new(sched, link))
    }
}

impl scx_core::Scheduler for Scheduler<'_> {
    type Stats = Stats;

    fn object(&self) -> &Object {
        self.skel.object()
    }

    fn watch(&mut self) {
        let Some(bss) = self.skel.maps.bss_data.as_deref() else {
            return;
        };
        let refused = bss.stats.nr_refused;
        if refused > self.refused_seen {
            log::warn!(
                "{} cgroup creation(s) refused with EBUSY: scx_pair tracks at most {} cgroups",
                refused - self.refused_seen,
                self.max_cgroups
            );
            self.refused_seen = refused;
        }
    }

    fn stats(&mut self) -> Result<Stats> {
        let bss = self
            .skel
            .maps
            .bss_data
            .as_deref()
            .context("the BPF object has no .bss")?;
        Ok(Stats::new(&bss.stats, bss.nr_cgroups, self.max_cgroups))
    }
}

fn main() -> std::process::ExitCode {
    let opts: Opts = scx_core::cli::parse();
    scx_core::run(&opts.common, |storage| Scheduler::init(&opts, storage))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_well_formed() {
        Opts::command().debug_assert();
    }

    #[test]
    fn options_follow_the_suite_vocabulary() {
        scx_core::cli::check_vocabulary(&Opts::command()).unwrap();
    }

    #[test]
    fn bad_numbers_name_the_option_and_its_range() {
        let cases: &[(&[&str], &str)] = &[
            (
                &["-S", "-2"],
                "-S/--stride takes a whole number from 1 to 1023",
            ),
            (
                &["-S", "0"],
                "-S/--stride takes a whole number from 1 to 1023",
            ),
            (
                &["--max-cgroups", "4097"],
                "--max-cgroups takes a whole number from 1 to 4096",
            ),
            (
                &["--stats", "3601"],
                "--stats takes a number of seconds from 0.1 to 3600",
            ),
        ];
        for (args, expect) in cases {
            let argv: Vec<&str> = std::iter::once("scx_pair")
                .chain(args.iter().copied())
                .collect();
            scx_core::cli_test::assert_refused::<Opts>(&argv, expect);
        }
    }

    #[test]
    fn options_parse_and_are_checked() {
        let o = Opts::try_parse_from(["scx_pair", "-S", "2", "--max-cgroups", "64"]).unwrap();
        assert_eq!(o.stride, Some(2));
        assert_eq!(o.max_cgroups, 64);
        assert!(!o.smt);
        assert!(Opts::try_parse_from(["scx_pair", "--smt"]).unwrap().smt);
        assert!(Opts::try_parse_from(["scx_pair", "--smt", "-S", "2"]).is_err());
        assert!(Opts::try_parse_from(["scx_pair", "-S", "-1"]).is_err());
        assert!(Opts::try_parse_from(["scx_pair", "--max-cgroups", "0"]).is_err());
        assert!(Opts::try_parse_from(["scx_pair", "--max-cgroups", "4097"]).is_err());
    }

    #[test]
    fn stats_come_from_the_typed_struct_under_stable_names() {
        let c = bpf::types::pair_stats {
            nr_total: 1,
            nr_dispatched: 2,
            nr_missing: 3,
            nr_bypass: 4,
            nr_kept: 5,
            nr_kicks: 6,
            nr_preemptions: 7,
            nr_exps: 8,
            nr_exp_empty: 9,
            nr_exp_waits: 10,
            nr_cgrp_next: 11,
            nr_cgrp_coll: 12,
            nr_refused: 13,
        };
        let s = Stats::new(&c, 3, 4096);
        assert_eq!(
            s.to_string(),
            "total=1 dispatched=2 missing=3 bypass=4 kept=5 kicks=6 preemptions=7 expirations=8 \
             exp_empty=9 waits=10 cgroup_switches=11 collisions=12 cgroups=3/4096 refused=13"
        );
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"total":1,"dispatched":2,"missing":3,"bypass":4,"kept":5,"kicks":6,"preemptions":7,"#
                .to_string()
                + r#""expirations":8,"exp_empty":9,"waits":10,"cgroup_switches":11,"collisions":12,"#
                + r#""cgroups":3,"max_cgroups":4096,"refused":13}"#
        );
    }
}
