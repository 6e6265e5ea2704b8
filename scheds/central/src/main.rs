//! scx_central: one central CPU makes every scheduling decision. Tasks wait in one
//! queue; the central CPU hands them to the other CPUs, which run them with infinite
//! slices until a 1 ms timer pinned to the central CPU preempts a task that overstayed.
//! The policy and its trade-offs are described at the top of `src/bpf/main.bpf.c`.

mod pin;

use std::fmt;
use std::io;
use std::mem::MaybeUninit;

use anyhow::{bail, Context, Result};
use clap::Parser;
use libbpf_rs::skel::{OpenSkel, Skel};
use libbpf_rs::{Object, OpenObject, ProgramInput};
use scx_core::exit::status;
use scx_core::preflight::Refusal;
use scx_core::topology::format_cpulist;
use scx_core::{Attached, CommonOpts, Topology};
use serde::Serialize;

/// The largest CPU number a kernel can have (x86-64 NR_CPUS at most 8192); whether
/// the CPU is online is checked when the scheduler starts.
const NR_CPUS_MAX: i64 = 8191;

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
        ("scx_central", "CPU 0 decides for every CPU"),
        (
            "scx_central -c 2 -s 5000 --stats 1",
            "CPU 2 decides, 5 ms slices, stats every second",
        ),
        ("scx_central --stats 5 --stats-json", "JSON stats every 5 s"),
    ])
}

/// A sched_ext scheduler: one central CPU makes every scheduling decision.
#[derive(Parser, Debug)]
#[command(name = "scx_central", version = scx_core::VERSION, after_long_help = long_help())]
struct Opts {
    /// Time slice in microseconds: how long a task may run while others wait
    /// (checked every millisecond)
    #[arg(short, long, default_value_t = 20_000, allow_negative_numbers = true, value_parser = scx_core::cli::slice_us())]
    slice_us: u64,

    /// The CPU that makes every scheduling decision; must be online
    #[arg(short = 'c', long, value_name = "CPU", default_value_t = 0,
          allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(0, NR_CPUS_MAX))]
    central_cpu: u32,

    #[command(flatten)]
    common: CommonOpts,
}

/// Refuses a central CPU that is not online, naming the ones that are.
fn check_central_cpu(cpu: u32, online: &[usize]) -> Result<usize, Refusal> {
    let cpu = cpu as usize;
    if online.contains(&cpu) {
        return Ok(cpu);
    }
    Err(Refusal {
        status: status::USAGE,
        message: format!(
            "CPU {cpu} cannot be the central CPU because it is not online: pass -c/--central-cpu one of {}",
            format_cpulist(online.iter().copied())
        ),
    })
}

/// Counts since the scheduler was attached: `struct central_stats` of
/// `src/bpf/intf.h`, printed under the kernel example's names.
#[derive(Serialize, Debug)]
struct Stats {
    /// Tasks enqueued.
    total: u64,
    /// Tasks kept on their own CPU at enqueue (per-CPU kthreads, migration-disabled tasks).
    local: u64,
    /// Tasks pushed into the central queue.
    queued: u64,
    /// Queued pids whose task was gone when popped.
    lost: u64,
    /// Timer firings.
    timer: u64,
    /// Tasks the central CPU placed on a CPU's local queue.
    dispatch: u64,
    /// Popped tasks that could not run on the CPU being filled.
    mismatch: u64,
    /// Dispatch rounds cut short by a full dispatch buffer.
    retry: u64,
    /// Tasks that found the central queue full (sent to the fallback queue).
    overflow: u64,
    /// Ours: popped tasks with migration disabled (other than the central CPU's current
    /// task), sent to their own CPU instead of the CPU being filled.
    mig_disabled: u64,
    /// Ours: CPUs the timer preempted.
    preempt: u64,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "total={} local={} queued={} lost={} timer={} dispatch={} mismatch={} retry={} overflow={} \
             mig_disabled={} preempt={}",
            self.total,
            self.local,
            self.queued,
            self.lost,
            self.timer,
            self.dispatch,
            self.mismatch,
            self.retry,
            self.overflow,
            self.mig_disabled,
            self.preempt
        )
    }
}

impl From<&bpf::types::central_stats> for Stats {
    fn from(s: &bpf::types::central_stats) -> Self {
        Stats {
            total: s.nr_total,
            local: s.nr_locals,
            queued: s.nr_queued,
            lost: s.nr_lost_pids,
            timer: s.nr_timers,
            dispatch: s.nr_dispatches,
            mismatch: s.nr_mismatches,
            retry: s.nr_retries,
            overflow: s.nr_overflows,
            mig_disabled: s.nr_mig_disabled,
            preempt: s.nr_preempts,
        }
    }
}

/// Sizes a `RESIZABLE_ARRAY(data, name)` global to `n` elements of `elem` bytes.
fn resize_array(obj: &mut OpenObject, name: &str, elem: usize, n: usize) -> Result<()> {
    let section = format!(".data.{name}");
    let mut map = obj
        .maps_mut()
        .find(|m| m.name() == section.as_str())
        .with_context(|| format!("the BPF object has no {section} map"))?;
    map.set_value_size((elem * n) as u32)
        .with_context(|| format!("failed to size {name} to {n} entries"))
}

/// What `start_timer` returns, as in main.bpf.c's enum timer_start_status.
const TIMER_PINNED: i32 = 0;
const TIMER_NOT_ON_CENTRAL: i32 = 1;
const TIMER_PIN_UNSUPPORTED: i32 = 2;

/// Starts the preemption timer from a thread pinned to the central CPU; returns whether
/// the timer is pinned there.
fn start_timer(skel: &bpf::MainSkel<'_>, central_cpu: usize) -> Result<bool> {
    let pinned = pin::pin_current_thread(central_cpu);
    if let Err(e) = &pinned {
        log::warn!("failed to move the loader to the central CPU {central_cpu}: {e}");
    }
    let out = skel
        .progs
        .start_timer
        .test_run(ProgramInput::default())
        .context("failed to run start_timer")?;
    drop(pinned);
    match out.return_value as i32 {
        TIMER_PINNED => {
            log::info!("preemption timer pinned to the central CPU {central_cpu}");
            Ok(true)
        }
        TIMER_NOT_ON_CENTRAL => {
            log::warn!("the preemption timer is not pinned: it was started off the central CPU {central_cpu}");
            Ok(false)
        }
        TIMER_PIN_UNSUPPORTED => {
            log::warn!("the preemption timer is not pinned: this kernel refuses BPF_F_TIMER_CPU_PIN (6.7 or newer needed)");
            Ok(false)
        }
        e if e < 0 => {
            Err(io::Error::from_raw_os_error(-e)).context("failed to start the preemption timer")
        }
        other => bail!("start_timer returned the unknown status {other}"),
    }
}

struct Scheduler<'obj> {
    skel: bpf::MainSkel<'obj>,
}

impl<'obj> Scheduler<'obj> {
    fn init(
        opts: &Opts,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Attached<'obj, Stats>> {
        // The central CPU must be online: checked before anything is loaded.
        let topo = Topology::new().context("failed to read the CPU topology")?;
        let online: Vec<usize> = topo.cpus.keys().copied().collect();
        let central_cpu = check_central_cpu(opts.central_cpu, &online)?;

        // Open the object; scx-core sets the fields every scheduler shares.
        let mut open = scx_core::open(bpf::MainSkelBuilder::default(), storage, &opts.common)?;

        // Kfuncs main.bpf.c calls without a fallback: refused clearly where unusable.
        scx_core::compat::require_kfuncs(&["scx_bpf_kick_cpu"])?;

        // The policy's knobs, fixed once loaded.
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        rodata.central_cpu = central_cpu as i32;
        rodata.nr_cpu_ids = topo.nr_cpu_ids as u32;
        rodata.slice_ns = opts.slice_us * 1000;

        // Per-CPU arrays hold nr_cpu_ids entries, not the kernel's NR_CPUS.
        let obj = open.open_object_mut();
        resize_array(obj, "cpu_gimme_task", size_of::<u32>(), topo.nr_cpu_ids)?;
        resize_array(obj, "cpu_started_at", size_of::<u64>(), topo.nr_cpu_ids)?;

        // Load (the verifier runs here) and attach.
        let mut skel = scx_core::load(open)?;
        let link = scx_core::attach(&mut skel)?;

        // Only now, on the central CPU: the timer that preempts overstaying tasks.
        start_timer(&skel, central_cpu)?;

        // Then the loader leaves the central CPU to the dispatcher. The central CPU runs
        // ops.dispatch() for every CPU in the context of the task it switches away from,
        // so a loader that slept there was charged for that work.
        match pin::avoid_cpu(central_cpu) {
            Ok(true) => log::debug!("the loader runs off the central CPU {central_cpu}"),
            Ok(false) => log::debug!("the loader's affinity is left as it is"),
            Err(e) => {
                log::warn!("failed to move the loader off the central CPU {central_cpu}: {e}")
            }
        }
        Ok(Attached::new(Scheduler { skel }, link))
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
        Ok(Stats::from(&bss.stats))
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
                &["-c", "99999"],
                "-c/--central-cpu takes a whole number from 0 to 8191",
            ),
            (
                &["-c", "-1"],
                "-c/--central-cpu takes a whole number from 0 to 8191",
            ),
            (
                &["-s", "999"],
                "-s/--slice-us takes a whole number from 1000 to 1000000",
            ),
            (
                &["--stats", "-2"],
                "--stats takes a number of seconds from 0.1 to 3600",
            ),
        ];
        for (args, expect) in cases {
            let argv: Vec<&str> = std::iter::once("scx_central")
                .chain(args.iter().copied())
                .collect();
            scx_core::cli_test::assert_refused::<Opts>(&argv, expect);
        }
    }

    #[test]
    fn options_parse_and_are_checked() {
        let o = Opts::try_parse_from(["scx_central"]).unwrap();
        assert_eq!((o.slice_us, o.central_cpu), (20_000, 0));
        let o =
            Opts::try_parse_from(["scx_central", "-s", "5000", "-c", "0", "--stats-json"]).unwrap();
        assert_eq!((o.slice_us, o.central_cpu), (5000, 0));
        assert!(o.common.stats_json);
        let o = Opts::try_parse_from(["scx_central", "--slice-us", "1000", "--central-cpu", "1"])
            .unwrap();
        assert_eq!((o.slice_us, o.central_cpu), (1000, 1));
        for bad in [
            &["-s", "999"][..],
            &["-s", "10000001"],
            &["-c", "-1"],
            &["-c", "x"],
            &["--bogus"],
        ] {
            let args = std::iter::once("scx_central").chain(bad.iter().copied());
            assert!(Opts::try_parse_from(args).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn central_cpu_must_be_online() {
        assert_eq!(check_central_cpu(2, &[0, 1, 2, 3]), Ok(2));
        assert_eq!(check_central_cpu(0, &[0, 1, 2, 3]), Ok(0));
        let e = check_central_cpu(99, &[0, 1, 2, 3]).unwrap_err();
        assert_eq!(e.status, status::USAGE);
        assert!(
            e.message.contains("CPU 99") && e.message.ends_with("one of 0-3"),
            "{e}"
        );
        assert_eq!(e.message.lines().count(), 1);
        // An offline CPU in the middle is refused and left out of the range.
        let e = check_central_cpu(2, &[0, 1, 3]).unwrap_err();
        assert!(e.message.ends_with("one of 0-1,3"), "{e}");
    }

    #[test]
    fn stats_come_from_the_typed_struct_under_the_kernel_names() {
        let c = bpf::types::central_stats {
            nr_total: 1,
            nr_locals: 2,
            nr_queued: 3,
            nr_lost_pids: 4,
            nr_timers: 5,
            nr_dispatches: 6,
            nr_mismatches: 7,
            nr_retries: 8,
            nr_overflows: 9,
            nr_mig_disabled: 10,
            nr_preempts: 11,
        };
        let s = Stats::from(&c);
        assert_eq!(
            s.to_string(),
            "total=1 local=2 queued=3 lost=4 timer=5 dispatch=6 mismatch=7 retry=8 overflow=9 \
             mig_disabled=10 preempt=11"
        );
        // The VM checks read these keys (tests/vm/central.bash's last_stat).
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"total":1,"local":2,"queued":3,"lost":4,"timer":5,"dispatch":6,"mismatch":7,"#
                .to_string()
                + r#""retry":8,"overflow":9,"mig_disabled":10,"preempt":11}"#
        );
    }
}
