//! scx_flatcg: cgroup weights honoured across nested cgroups at the cost of a flat
//! scheduler. Each cgroup's share of the whole machine is the product of its shares at
//! every level (counting only active siblings), and all cgroups are scheduled on one
//! level by cgroup virtual time. The policy and its trade-offs are described at the top
//! of `src/bpf/main.bpf.c`.

use std::fmt;
use std::fs;
use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::skel::{OpenSkel, Skel};
use libbpf_rs::{Object, OpenObject};
use scx_core::{compat, Attached, CommonOpts};
use serde::Serialize;

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
        ("scx_flatcg", "cgroup weights flattened, quiet"),
        ("scx_flatcg -i 2", "the same, stats every 2 s"),
        (
            "scx_flatcg -f -s 5000 --stats 1 --stats-json",
            "FIFO inside cgroups, 5 ms slices, JSON stats",
        ),
    ])
}

/// A sched_ext scheduler that flattens the cgroup hierarchy: hierarchical cgroup weights,
/// one level of scheduling.
#[derive(Parser, Debug)]
#[command(name = "scx_flatcg", version = scx_core::VERSION, after_long_help = long_help())]
struct Opts {
    /// Cgroup slice in microseconds: how long a CPU stays on one cgroup (also the task slice)
    #[arg(short, long, default_value_t = 20_000, allow_negative_numbers = true, value_parser = scx_core::cli::slice_us())]
    slice_us: u64,

    /// Print stats every SECS seconds (the same as --stats)
    #[arg(short, long, value_name = "SECS", conflicts_with = "stats", allow_negative_numbers = true,
          value_parser = scx_core::cli::stats_secs())]
    interval: Option<f64>,

    /// Run the tasks inside a cgroup in FIFO order instead of weighted virtual time
    #[arg(short, long)]
    fifo: bool,

    #[command(flatten)]
    common: CommonOpts,
}

/// One interval's changes of `struct fcg_stats` (`src/bpf/intf.h`), under its field
/// names; the comments there say what each counts.
#[derive(Serialize, Debug, Default, PartialEq)]
struct Counts {
    act: u64,
    deact: u64,
    local: u64,
    global: u64,
    hwt_cache: u64,
    hwt_update: u64,
    enq_skip: u64,
    enq_race: u64,
    cns_keep: u64,
    cns_expire: u64,
    cns_empty: u64,
    cns_gone: u64,
    pnc_next: u64,
    pnc_empty: u64,
    pnc_idle: u64,
    pnc_gone: u64,
    pnc_race: u64,
    rescue: u64,
}

impl Counts {
    /// What each counter gained from `prev` to `now` (wrapping, as the counters do).
    fn delta(now: &bpf::types::fcg_stats, prev: &bpf::types::fcg_stats) -> Self {
        let d = |f: fn(&bpf::types::fcg_stats) -> u64| f(now).wrapping_sub(f(prev));
        Counts {
            act: d(|s| s.act),
            deact: d(|s| s.deact),
            local: d(|s| s.local),
            global: d(|s| s.global),
            hwt_cache: d(|s| s.hwt_cache),
            hwt_update: d(|s| s.hwt_update),
            enq_skip: d(|s| s.enq_skip),
            enq_race: d(|s| s.enq_race),
            cns_keep: d(|s| s.cns_keep),
            cns_expire: d(|s| s.cns_expire),
            cns_empty: d(|s| s.cns_empty),
            cns_gone: d(|s| s.cns_gone),
            pnc_next: d(|s| s.pnc_next),
            pnc_empty: d(|s| s.pnc_empty),
            pnc_idle: d(|s| s.pnc_idle),
            pnc_gone: d(|s| s.pnc_gone),
            pnc_race: d(|s| s.pnc_race),
            rescue: d(|s| s.rescue),
        }
    }
}

/// One interval's report: counter deltas since the previous one.
#[derive(Serialize)]
struct Stats {
    seq: u64,
    /// Busy share of all CPUs over the interval, from /proc/stat (percent).
    cpu_busy_pct: f64,
    hweight_gen: u64,
    counts: Counts,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let c = &self.counts;
        write!(
            f,
            "[SEQ {} cpu={:5.1}% hweight_gen={}] act={} deact={} global={} local={} | \
             HWT cache={} update={} | ENQ skip={} race={} | CNS keep={} expire={} empty={} gone={} | \
             PNC next={} empty={} idle={} gone={} race={} | rescue={}",
            self.seq,
            self.cpu_busy_pct,
            self.hweight_gen,
            c.act,
            c.deact,
            c.global,
            c.local,
            c.hwt_cache,
            c.hwt_update,
            c.enq_skip,
            c.enq_race,
            c.cns_keep,
            c.cns_expire,
            c.cns_empty,
            c.cns_gone,
            c.pnc_next,
            c.pnc_empty,
            c.pnc_idle,
            c.pnc_gone,
            c.pnc_race,
            c.rescue,
        )
    }
}

/// (busy, total) jiffies of all CPUs from the first line of /proc/stat.
fn cpu_times() -> Option<(u64, u64)> {
    let text = fs::read_to_string("/proc/stat").ok()?;
    let vals: Vec<u64> = text
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let total: u64 = vals.iter().sum();
    let idle = vals.get(3).copied().unwrap_or(0) + vals.get(4).copied().unwrap_or(0);
    Some((total - idle, total))
}

struct Scheduler<'obj> {
    skel: bpf::MainSkel<'obj>,
    seq: u64,
    /// The counters at the previous report.
    prev: bpf::types::fcg_stats,
    prev_cpu: Option<(u64, u64)>,
}

impl<'obj> Scheduler<'obj> {
    fn init(
        opts: &Opts,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Attached<'obj, Stats>> {
        // Open the object; scx-core sets the fields every scheduler shares.
        let mut open = scx_core::open(bpf::MainSkelBuilder::default(), storage, &opts.common)?;

        // Kernels before 7.1 only pass cgroup weights to a scheduler that says it
        // handles them; 7.1 removed the flag and rejects it, so set it only where known.
        let weight_flag = compat::ops_flag("SCX_OPS_HAS_CGROUP_WEIGHT");
        scx_core::add_ops_flags(open.open_object_mut(), weight_flag)?;

        // The policy's knobs, fixed once loaded.
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        rodata.cgrp_slice_ns = opts.slice_us * 1000;
        rodata.fifo_sched = opts.fifo;

        // Load (the verifier runs here) and attach.
        let mut skel = scx_core::load(open)?;
        let link = scx_core::attach(&mut skel)?;
        log::info!(
            "slice={}us mode={} cgroup-weight flag={}",
            opts.slice_us,
            if opts.fifo { "fifo" } else { "vtime" },
            if weight_flag != 0 {
                "set"
            } else {
                "absent (7.1+)"
            }
        );
        Ok(Attached::new(
            Scheduler {
                skel,
                seq: 0,
                prev: Default::default(),
                prev_cpu: cpu_times(),
            },
            link,
        ))
    }
}

impl scx_core::Scheduler for Scheduler<'_> {
    type Stats = Stats;

    fn object(&self) -> &Object {
        self.skel.object()
    }

    fn stats(&mut self) -> Result<Stats> {
        let now = self
            .skel
            .maps
            .bss_data
            .as_deref()
            .context("the BPF object has no .bss")?
            .stats;
        let counts = Counts::delta(&now, &self.prev);
        self.prev = now;

        let cpu = cpu_times();
        let cpu_busy_pct = match (self.prev_cpu, cpu) {
            (Some((b0, t0)), Some((b1, t1))) if t1 > t0 => {
                (b1 - b0) as f64 * 100.0 / (t1 - t0) as f64
            }
            _ => 0.0,
        };
        self.prev_cpu = cpu;

        let hweight_gen = self
            .skel
            .maps
            .data_data
            .as_deref()
            .map_or(0, |d| d.hweight_gen);
        self.seq += 1;
        Ok(Stats {
            seq: self.seq,
            cpu_busy_pct,
            hweight_gen,
            counts,
        })
    }
}

fn main() -> std::process::ExitCode {
    let opts: Opts = scx_core::cli::parse();
    let mut common = opts.common.clone();
    if let Some(secs) = opts.interval {
        common.stats = secs;
    }
    scx_core::run(&common, |storage| Scheduler::init(&opts, storage))
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
                &["-s", "0"],
                "-s/--slice-us takes a whole number from 1000 to 1000000",
            ),
            (
                &["-i", "-1"],
                "-i/--interval takes a number of seconds from 0.1 to 3600",
            ),
            (
                &["-i", "4000"],
                "-i/--interval takes a number of seconds from 0.1 to 3600",
            ),
            (
                &["--stats", "0.01"],
                "--stats takes a number of seconds from 0.1 to 3600",
            ),
        ];
        for (args, expect) in cases {
            let argv: Vec<&str> = std::iter::once("scx_flatcg")
                .chain(args.iter().copied())
                .collect();
            scx_core::cli_test::assert_refused::<Opts>(&argv, expect);
        }
    }

    #[test]
    fn options_parse_and_are_checked() {
        let o = Opts::try_parse_from(["scx_flatcg", "-f", "-s", "5000", "-i", "0.5"]).unwrap();
        assert!(o.fifo);
        assert_eq!(o.slice_us, 5000);
        assert_eq!(o.interval, Some(0.5));
        assert!(Opts::try_parse_from(["scx_flatcg", "-s", "0"]).is_err());
        assert!(Opts::try_parse_from(["scx_flatcg", "-i", "-1"]).is_err());
        assert!(Opts::try_parse_from(["scx_flatcg", "-i", "1", "--stats-interval", "2"]).is_err());
    }

    #[test]
    fn stats_line_shows_each_counters_delta() {
        let prev = bpf::types::fcg_stats {
            act: 10,
            rescue: u64::MAX,
            ..Default::default()
        };
        let now = bpf::types::fcg_stats {
            act: 110,
            deact: 101,
            local: 102,
            global: 103,
            hwt_cache: 104,
            hwt_update: 105,
            enq_skip: 106,
            enq_race: 107,
            cns_keep: 108,
            cns_expire: 109,
            cns_empty: 110,
            cns_gone: 111,
            pnc_next: 112,
            pnc_empty: 113,
            pnc_idle: 114,
            pnc_gone: 115,
            pnc_race: 116,
            rescue: 116,
        };
        let s = Stats {
            seq: 1,
            cpu_busy_pct: 50.0,
            hweight_gen: 7,
            counts: Counts::delta(&now, &prev),
        };
        assert_eq!(
            s.to_string(),
            "[SEQ 1 cpu= 50.0% hweight_gen=7] act=100 deact=101 global=103 local=102 | \
             HWT cache=104 update=105 | ENQ skip=106 race=107 | CNS keep=108 expire=109 empty=110 gone=111 | \
             PNC next=112 empty=113 idle=114 gone=115 race=116 | rescue=117"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(
                r#"{"seq":1,"cpu_busy_pct":50.0,"hweight_gen":7,"counts":{"act":100,"deact":101,"#
            ),
            "{json}"
        );
        assert!(json.ends_with(r#""pnc_race":116,"rescue":117}}"#), "{json}");
    }
}
