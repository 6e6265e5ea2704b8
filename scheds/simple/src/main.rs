//! scx_simple: every task in one shared queue, ordered by weighted virtual time (or
//! FIFO with `-f`); a task waking up to an idle CPU goes straight to it. The policy and
//! its trade-offs are described at the top of `src/bpf/main.bpf.c`.

use std::fmt;
use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::{Object, OpenObject};
use scx_core::{Attached, CommonOpts};
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
        (
            "scx_simple",
            "weighted virtual time, quiet; stop with Ctrl-C",
        ),
        (
            "scx_simple -f -s 5000 --stats 1",
            "FIFO with 5 ms slices, a stats line every second",
        ),
        (
            "scx_simple -p --stats 10 --stats-json",
            "only SCHED_EXT tasks, JSON stats every 10 s",
        ),
    ])
}

/// A sched_ext scheduler: one shared queue in weighted virtual time (default) or FIFO order.
#[derive(Parser, Debug)]
#[command(name = "scx_simple", version = scx_core::VERSION, after_long_help = long_help())]
struct Opts {
    /// Schedule in FIFO order instead of weighted virtual time
    #[arg(short, long)]
    fifo: bool,

    /// Time slice in microseconds (1000 to 1000000)
    #[arg(short, long, default_value_t = 20_000, allow_negative_numbers = true, value_parser = scx_core::cli::slice_us())]
    slice_us: u64,

    #[command(flatten)]
    common: CommonOpts,
}

/// Counts since the scheduler was attached (`struct simple_stats` of
/// `src/bpf/intf.h`, under its field names). The text line is the kernel's
/// scx_simple's; `kthread`, ours, is in the JSON only.
#[derive(Serialize)]
struct Stats {
    /// Tasks woken onto an idle CPU, inserted straight into its local queue.
    local: u64,
    /// Tasks inserted into the shared queue.
    global: u64,
    /// Per-CPU kernel threads put at the head of their CPU's local queue.
    kthread: u64,
    /// "vtime" or "fifo": the mode the loaded scheduler runs in.
    mode: &'static str,
}

impl Stats {
    fn new(s: &bpf::types::simple_stats, fifo: bool) -> Self {
        Stats {
            local: s.local,
            global: s.global,
            kthread: s.kthread,
            mode: if fifo { "fifo" } else { "vtime" },
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "local={} global={} mode={}",
            self.local, self.global, self.mode
        )
    }
}

struct Scheduler<'obj> {
    skel: bpf::MainSkel<'obj>,
    fifo: bool,
}

impl<'obj> Scheduler<'obj> {
    fn init(
        opts: &Opts,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Attached<'obj, Stats>> {
        // Open the object; scx-core sets the fields every scheduler shares.
        let mut open = scx_core::open(bpf::MainSkelBuilder::default(), storage, &opts.common)?;

        // The policy's knobs, fixed once loaded.
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        rodata.fifo_sched = opts.fifo;
        rodata.slice_ns = opts.slice_us * 1000;

        // Load (the verifier runs here) and attach.
        let mut skel = scx_core::load(open)?;
        let link = scx_core::attach(&mut skel)?;
        Ok(Attached::new(
            Scheduler {
                skel,
                fifo: opts.fifo,
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
        let bss = self
            .skel
            .maps
            .bss_data
            .as_deref()
            .context("the BPF object has no .bss")?;
        Ok(Stats::new(&bss.stats, self.fifo))
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
                &["-s", "-2"],
                "-s/--slice-us takes a whole number from 1000 to 1000000",
            ),
            (
                &["--slice-us", "1000001"],
                "-s/--slice-us takes a whole number from 1000 to 1000000",
            ),
            (
                &["--stats", "0.01"],
                "--stats takes a number of seconds from 0.1 to 3600",
            ),
            (
                &["--timeout-ms", "-1"],
                "--timeout-ms takes a whole number from 1 to 30000",
            ),
        ];
        for (args, expect) in cases {
            let argv: Vec<&str> = std::iter::once("scx_simple")
                .chain(args.iter().copied())
                .collect();
            scx_core::cli_test::assert_refused::<Opts>(&argv, expect);
        }
    }

    #[test]
    fn options_parse_and_are_checked() {
        let o = Opts::try_parse_from(["scx_simple", "-f", "-s", "5000", "--timeout-ms", "5000"])
            .unwrap();
        assert!(o.fifo);
        assert_eq!(o.slice_us, 5000);
        assert_eq!(o.common.timeout_ms, Some(5000));
        assert!(Opts::try_parse_from(["scx_simple", "-s", "0"]).is_err());
        assert!(Opts::try_parse_from(["scx_simple", "--bogus"]).is_err());
    }

    #[test]
    fn stats_line_matches_the_kernel_example() {
        let s = bpf::types::simple_stats {
            local: 3,
            global: 4,
            kthread: 5,
        };
        assert_eq!(
            Stats::new(&s, false).to_string(),
            "local=3 global=4 mode=vtime"
        );
        let json = serde_json::to_string(&Stats::new(&s, true)).unwrap();
        assert_eq!(json, r#"{"local":3,"global":4,"kthread":5,"mode":"fifo"}"#);
    }
}
