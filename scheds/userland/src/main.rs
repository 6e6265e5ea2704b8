//! scx_userland: the scheduling decisions are made by an ordinary thread of this
//! process. The BPF side hands every runnable task to it; it charges each task's run
//! time scaled by its weight, orders the tasks by vruntime and sends them back in
//! batches; the BPF side dispatches them in that order. The design, and why the
//! scheduler can never starve itself, is described at the top of
//! `src/bpf/main.bpf.c`; the policy is `src/vruntime.rs`.

mod intf;
mod sys;
mod usersched;
mod vruntime;

use std::fmt;
use std::mem::{offset_of, size_of, MaybeUninit};
use std::os::fd::AsFd;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::{MapHandle, Object, OpenObject};
use scx_core::{Attached, CommonOpts};
use serde::Serialize;

use crate::sys::SharedMap;
use crate::usersched::{BssLayout, Channels, UserSched};

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

type Bss = bpf::types::bss;

/// `--help`'s closing text: requirements, examples, exit statuses, the suite.
fn long_help() -> String {
    scx_core::cli::long_help(&[
        ("scx_userland", "user-space vruntime scheduling"),
        (
            "scx_userland -b 16 --stats 1",
            "send 16 tasks ahead, stats every second",
        ),
        ("scx_userland -p", "only SCHED_EXT tasks"),
    ])
}

/// A sched_ext scheduler whose decisions are made in user space by a vruntime scheduler.
#[derive(Parser, Debug)]
#[command(name = "scx_userland", version = scx_core::VERSION, after_long_help = long_help())]
struct Opts {
    /// Tasks the user-space scheduler sends ahead of what the CPUs have taken
    #[arg(short, long, default_value_t = 8, allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, 1024))]
    batch: u32,

    #[command(flatten)]
    common: CommonOpts,
}

/// Counts since the scheduler was attached (the BPF side's `struct userland_stats` of
/// `src/bpf/intf.h` and user space's own; the kernel's C scx_userland names where it
/// has them), the decision rate over the last interval, and the options in force.
#[derive(Serialize, Debug, Default)]
struct Stats {
    /// Tasks kept in the kernel path (restricted affinity, this process).
    nr_kernel_enqueues: u64,
    /// Tasks handed to user space.
    nr_user_enqueues: u64,
    /// Handoffs refused because the ring buffer was full (scheduled FIFO instead).
    nr_failed_enqueues: u64,
    /// Tasks the user-space scheduler received.
    nr_vruntime_enqueues: u64,
    /// Tasks it sent back in vruntime order: its decisions.
    nr_vruntime_dispatches: u64,
    /// Sends that found the dispatch ring full.
    nr_vruntime_failed: u64,
    /// Tasks dispatched by BPF in user space's order.
    nr_dispatched: u64,
    /// Tasks sent back after they had exited.
    nr_lost: u64,
    /// Times the scheduler thread itself was served.
    nr_usersched_dispatches: u64,
    /// CPUs preempted to serve it because it had a woken task to place.
    nr_usersched_preempts: u64,
    /// Times it was woken because the CPUs were running out of decisions.
    nr_kicks: u64,
    /// Slices extended because no other decision was ready.
    nr_kept: u64,
    /// Tasks waiting in user space right now.
    nr_queued: u64,
    /// User-space scheduling decisions per second over the last interval.
    decisions_per_sec: u64,
    /// The `--batch` in force.
    batch: u32,
}

impl From<&bpf::types::userland_stats> for Stats {
    /// The BPF side's counters; user space's own are left at 0.
    fn from(s: &bpf::types::userland_stats) -> Self {
        Stats {
            nr_kernel_enqueues: s.nr_kernel_enqueues,
            nr_user_enqueues: s.nr_user_enqueues,
            nr_failed_enqueues: s.nr_failed_enqueues,
            nr_dispatched: s.nr_dispatched,
            nr_lost: s.nr_lost,
            nr_usersched_dispatches: s.nr_usersched_dispatches,
            nr_usersched_preempts: s.nr_usersched_preempts,
            nr_kicks: s.nr_kicks,
            nr_kept: s.nr_kept,
            ..Default::default()
        }
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "enq: kern={} user={} failed={} | vruntime: enq={} disp={} failed={} queued={} | \
             dispatched={} lost={} usersched={} preempts={} kicks={} kept={} | {} decisions/s batch={}",
            self.nr_kernel_enqueues,
            self.nr_user_enqueues,
            self.nr_failed_enqueues,
            self.nr_vruntime_enqueues,
            self.nr_vruntime_dispatches,
            self.nr_vruntime_failed,
            self.nr_queued,
            self.nr_dispatched,
            self.nr_lost,
            self.nr_usersched_dispatches,
            self.nr_usersched_preempts,
            self.nr_kicks,
            self.nr_kept,
            self.decisions_per_sec,
            self.batch
        )
    }
}

struct Scheduler<'obj> {
    usersched: UserSched,
    skel: bpf::MainSkel<'obj>,
    batch: u32,
    last: (Instant, u64),
}

impl<'obj> Scheduler<'obj> {
    fn init(
        opts: &Opts,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Attached<'obj, Stats>> {
        // Open the object; scx-core sets the fields every scheduler shares. The
        // policy has no knobs on the BPF side.
        let open = scx_core::open(bpf::MainSkelBuilder::default(), storage, &opts.common)?;

        // Kfuncs main.bpf.c calls without a fallback: refused clearly where unusable.
        scx_core::compat::require_kfuncs(&["scx_bpf_kick_cpu"])?;

        // Load (the verifier runs here).
        let skel = scx_core::load(open)?;

        // From here on this process may hold tasks: no page faults any more.
        sys::lock_all_memory()?;

        // Start the user-space scheduler; it registers itself with the BPF side
        // before anything is attached, and shares nothing with the skeleton.
        let bss = Arc::new(SharedMap::new(skel.maps.bss.as_fd(), size_of::<Bss>())?);
        let channels = Channels {
            enqueued: MapHandle::try_from(&skel.maps.enqueued)
                .context("failed to share the enqueued map")?,
            dispatched: MapHandle::try_from(&skel.maps.dispatched)
                .context("failed to share the dispatched map")?,
            bss,
            layout: BssLayout {
                nr_sent: offset_of!(Bss, nr_sent),
                nr_drained: offset_of!(Bss, nr_drained),
                vtime_now: offset_of!(Bss, vtime_now),
                kick_pending: offset_of!(Bss, kick_pending),
            },
            register_prog: skel.progs.register_usersched.as_fd().try_clone_to_owned()?,
            failed_prog: skel.progs.usersched_failed.as_fd().try_clone_to_owned()?,
            batch: opts.batch,
            partial: opts.common.partial,
        };
        let usersched = UserSched::start(channels)?;
        let mut sched = Scheduler {
            usersched,
            skel,
            batch: opts.batch,
            last: (Instant::now(), 0),
        };

        // Attach: from here on user space schedules.
        let link = scx_core::attach(&mut sched.skel)?;
        Ok(Attached::new(sched, link))
    }
}

impl Drop for Scheduler<'_> {
    fn drop(&mut self) {
        // The thread owns its fds and mapping, so order is not a matter of safety;
        // stopping it first just keeps it from working on a dying object.
        self.usersched.stop();
    }
}

impl scx_core::Scheduler for Scheduler<'_> {
    type Stats = Stats;

    fn object(&self) -> &Object {
        self.skel.object()
    }

    fn stats(&mut self) -> Result<Stats> {
        let c = &self.usersched.counters;
        let disp = c.vruntime_dispatches.load(Ordering::Relaxed);
        let now = Instant::now();
        let secs = now.duration_since(self.last.0).as_secs_f64();
        let rate = if secs > 0.0 {
            (disp.saturating_sub(self.last.1) as f64 / secs).round() as u64
        } else {
            0
        };
        self.last = (now, disp);
        let bss = self
            .skel
            .maps
            .bss_data
            .as_deref()
            .context("the BPF object has no .bss")?;
        Ok(Stats {
            nr_vruntime_enqueues: c.vruntime_enqueues.load(Ordering::Relaxed),
            nr_vruntime_dispatches: disp,
            nr_vruntime_failed: c.vruntime_failed.load(Ordering::Relaxed),
            nr_queued: c.queued.load(Ordering::Relaxed),
            decisions_per_sec: rate,
            batch: self.batch,
            ..Stats::from(&bss.stats)
        })
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
                &["-b", "0"],
                "-b/--batch takes a whole number from 1 to 1024",
            ),
            (
                &["-b", "-3"],
                "-b/--batch takes a whole number from 1 to 1024",
            ),
            (
                &["--exit-dump-len", "-1"],
                "--exit-dump-len takes a whole number from 1024 to 16777216",
            ),
            (
                &["--stats", "0.05"],
                "--stats takes a number of seconds from 0.1 to 3600",
            ),
        ];
        for (args, expect) in cases {
            let argv: Vec<&str> = std::iter::once("scx_userland")
                .chain(args.iter().copied())
                .collect();
            scx_core::cli_test::assert_refused::<Opts>(&argv, expect);
        }
    }

    #[test]
    fn batch_defaults_to_8_and_is_checked() {
        assert_eq!(Opts::try_parse_from(["scx_userland"]).unwrap().batch, 8);
        let o = Opts::try_parse_from(["scx_userland", "-b", "32", "-p"]).unwrap();
        assert_eq!(o.batch, 32);
        assert!(o.common.partial);
        assert_eq!(
            Opts::try_parse_from(["scx_userland", "--batch", "1024"])
                .unwrap()
                .batch,
            1024
        );
        for bad in ["0", "1025", "-1", "x"] {
            assert!(
                Opts::try_parse_from(["scx_userland", "-b", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn bss_counters_are_aligned_u64s() {
        for off in [
            offset_of!(Bss, nr_sent),
            offset_of!(Bss, nr_drained),
            offset_of!(Bss, vtime_now),
            offset_of!(Bss, kick_pending),
        ] {
            assert_eq!(off % 8, 0);
            assert!(off + 8 <= size_of::<Bss>());
        }
    }

    #[test]
    fn stats_line_names_every_counter_and_the_options() {
        let c = bpf::types::userland_stats {
            nr_kernel_enqueues: 1,
            nr_user_enqueues: 2,
            nr_failed_enqueues: 3,
            nr_dispatched: 4,
            nr_lost: 5,
            nr_usersched_dispatches: 6,
            nr_usersched_preempts: 7,
            nr_kicks: 8,
            nr_kept: 9,
        };
        let s = Stats {
            nr_vruntime_enqueues: 10,
            nr_vruntime_dispatches: 11,
            nr_vruntime_failed: 12,
            nr_queued: 13,
            decisions_per_sec: 1200,
            batch: 4,
            ..Stats::from(&c)
        };
        assert_eq!(
            s.to_string(),
            "enq: kern=1 user=2 failed=3 | vruntime: enq=10 disp=11 failed=12 queued=13 | \
             dispatched=4 lost=5 usersched=6 preempts=7 kicks=8 kept=9 | 1200 decisions/s batch=4"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(
                r#"{"nr_kernel_enqueues":1,"nr_user_enqueues":2,"nr_failed_enqueues":3,"#
            ),
            "{json}"
        );
        assert!(
            json.ends_with(r#""decisions_per_sec":1200,"batch":4}"#),
            "{json}"
        );
    }
}
