//! scx_qmap: five FIFOs kept in BPF, picked by task weight and drained in weighted
//! turns through one shared queue; the example that shows nearly every sched_ext
//! feature at once (direct dispatch, re-enqueue, DSQ iteration, debug dumps, CPU
//! performance targets, hotplug, failure injection). The policy and its trade-offs
//! are described at the top of `src/bpf/main.bpf.c`.

use std::fmt;
use std::mem::MaybeUninit;

use anyhow::{Context, Result};
use clap::Parser;
use libbpf_rs::skel::Skel;
use libbpf_rs::{Link, Object, OpenObject};
use scx_core::{compat, Attached, CommonOpts};
use serde::Serialize;

/// The kernel's largest possible process id (PID_MAX_LIMIT on 64-bit).
const PID_MAX_LIMIT: i64 = 4_194_304;

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
            "scx_qmap --stats 1",
            "the five FIFOs, a stats line every second",
        ),
        (
            "scx_qmap -H -P --stats 2",
            "boost nice -20 tasks, show the shared DSQ",
        ),
        (
            "scx_qmap -e 100",
            "test: end with scx_bpf_error() after 100 enqueues (status 5)",
        ),
    ])
}

/// A sched_ext scheduler: five BPF FIFOs, a demonstration of the sched_ext feature set.
/// Its watchdog timeout is 5 s unless --timeout-ms says otherwise.
#[derive(Parser, Debug)]
#[command(name = "scx_qmap", version = scx_core::VERSION, after_long_help = long_help())]
struct Opts {
    /// Time slice in microseconds
    #[arg(short, long, default_value_t = 20_000, allow_negative_numbers = true, value_parser = scx_core::cli::slice_us())]
    slice_us: u64,

    /// Test: call scx_bpf_error() after N enqueues
    #[arg(short = 'e', long, value_name = "N", allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, u32::MAX as i64))]
    error_after: Option<u32>,

    /// Test: stall every Nth user thread (never dispatch it)
    #[arg(short = 't', long, value_name = "N", allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, u32::MAX as i64))]
    stall_user_nth: Option<u32>,

    /// Test: stall every Nth kernel thread
    #[arg(short = 'T', long, value_name = "N", allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, u32::MAX as i64))]
    stall_kernel_nth: Option<u32>,

    /// Test: make ops.dispatch() loop forever after N dispatches
    #[arg(short = 'l', long, value_name = "N", allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, u32::MAX as i64))]
    dispatch_loop_after: Option<u32>,

    /// Tasks moved from the FIFOs by one ops.dispatch() call
    #[arg(short = 'b', long, value_name = "N", default_value_t = 1, allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1, 32))]
    batch: u32,

    /// Print the length and the head of the shared DSQ with each stats report
    #[arg(short = 'P', long)]
    print_shared_dsq: bool,

    /// Boost nice -20 tasks: move them ahead through a high-priority DSQ
    #[arg(short = 'H', long)]
    highpri_boost: bool,

    /// Keep the process PID out of sched_ext; -1 means this process, 0 none
    #[arg(short = 'd', long, value_name = "PID", allow_negative_numbers = true,
          value_parser = scx_core::cli::whole::<i32>(-1, PID_MAX_LIMIT))]
    disallow: Option<i32>,

    /// Size in bytes of the debug dump kept on an error exit (as --exit-dump-len)
    #[arg(short = 'D', long, value_name = "LEN", conflicts_with = "exit_dump_len",
          allow_negative_numbers = true, value_parser = scx_core::cli::whole::<u32>(1024, 1 << 24))]
    dump_len: Option<u32>,

    /// Leave qmap's own lines out of the debug dump (no short option: -S is pair's stride)
    #[arg(long)]
    suppress_dump: bool,

    #[command(flatten)]
    common: CommonOpts,
}

/// CPU performance levels, in units of 1/1024 of the fastest (`SCX_CPUPERF_ONE`).
#[derive(Serialize)]
struct Cpuperf {
    cur_min: u32,
    cur_avg: u32,
    cur_max: u32,
    target_min: u32,
    target_avg: u32,
    target_max: u32,
}

/// Counts since the scheduler was attached, plus the FIFOs' current depth.
#[derive(Serialize)]
struct Stats {
    /// Tasks queued on a FIFO.
    enq: u64,
    /// Tasks taken from a FIFO into the shared DSQ.
    dsp: u64,
    /// Tasks handed back because a higher scheduling class took their CPU.
    reenq: u64,
    /// Tasks that left qmap's custody (ops.dequeue()).
    deq: u64,
    /// Tasks picked by core scheduling (SCHED_CORE kernels only).
    core: u64,
    /// Direct dispatches from ops.enqueue() to an idle CPU.
    enq_ddsp: u64,
    /// -H: high-priority tasks sent to this CPU, to another, from the timer, lost.
    exp_local: u64,
    exp_remote: u64,
    exp_timer: u64,
    exp_lost: u64,
    /// PIDs in each FIFO now.
    queued: [i64; 5],
    /// CPU hotplug events seen (ops.cpu_online() / ops.cpu_offline()).
    cpu_online: u64,
    cpu_offline: u64,
    /// Current and target CPU performance, when the kernel has cpuperf.
    cpuperf: Option<Cpuperf>,
    /// -P: tasks in the shared DSQ and the PIDs at its head.
    shared_dsq: Option<(i32, Vec<i32>)>,
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let q = self.queued;
        writeln!(
            f,
            "stats  : enq={} dsp={} delta={} reenq={} deq={} core={} enq_ddsp={}",
            self.enq,
            self.dsp,
            self.enq as i64 - self.dsp as i64,
            self.reenq,
            self.deq,
            self.core,
            self.enq_ddsp
        )?;
        write!(
            f,
            "         exp_local={} exp_remote={} exp_timer={} exp_lost={} queued={}/{}/{}/{}/{} hotplug=+{}/-{}",
            self.exp_local,
            self.exp_remote,
            self.exp_timer,
            self.exp_lost,
            q[0],
            q[1],
            q[2],
            q[3],
            q[4],
            self.cpu_online,
            self.cpu_offline
        )?;
        if let Some(c) = &self.cpuperf {
            write!(
                f,
                "\ncpuperf: cur min/avg/max={}/{}/{} target min/avg/max={}/{}/{}",
                c.cur_min, c.cur_avg, c.cur_max, c.target_min, c.target_avg, c.target_max
            )?;
        }
        if let Some((nr, head)) = &self.shared_dsq {
            let pids: Vec<String> = head.iter().map(i32::to_string).collect();
            write!(f, "\nshared : nr={nr} head=[{}]", pids.join(" "))?;
        }
        Ok(())
    }
}

// SAFETY: `struct cpu_ctx` of main.bpf.c holds integers only: every bit pattern is valid.
unsafe impl scx_core::Plain for bpf::types::cpu_ctx {}

/// Min/avg/max of the current and target performance levels over the CPUs the timer
/// has sampled (each CPU's `struct cpu_ctx` in `cpu_ctx_stor`). The average of the
/// current level is weighted by capacity, as the kernel's qmap does.
fn cpuperf(cpus: &[bpf::types::cpu_ctx]) -> Option<Cpuperf> {
    let cpus: Vec<&bpf::types::cpu_ctx> = cpus.iter().filter(|c| c.cpuperf_cap > 0).collect();
    if cpus.is_empty() {
        return None;
    }
    let n = cpus.len() as u64;
    let cap_sum: u64 = cpus.iter().map(|c| u64::from(c.cpuperf_cap)).sum();
    let cur_sum: u64 = cpus
        .iter()
        .map(|c| u64::from(c.cpuperf_cur) * u64::from(c.cpuperf_cap) / 1024)
        .sum();
    let target_sum: u64 = cpus.iter().map(|c| u64::from(c.cpuperf_target)).sum();
    let cur = cpus.iter().map(|c| c.cpuperf_cur);
    let target = cpus.iter().map(|c| c.cpuperf_target);
    Some(Cpuperf {
        cur_min: cur.clone().min().unwrap_or(0),
        cur_avg: (cur_sum * 1024 / cap_sum) as u32,
        cur_max: cur.max().unwrap_or(0),
        target_min: target.clone().min().unwrap_or(0),
        target_avg: (target_sum / n) as u32,
        target_max: target.max().unwrap_or(0),
    })
}

impl Stats {
    /// The counters of `struct qmap_stats` (`src/bpf/intf.h`) under their printed
    /// names, with the FIFOs' depth; cpuperf and the shared DSQ start empty.
    fn new(s: &bpf::types::qmap_stats, queued: [i64; 5]) -> Self {
        Stats {
            enq: s.nr_enqueued,
            dsp: s.nr_dispatched,
            reenq: s.nr_reenqueued,
            deq: s.nr_dequeued,
            core: s.nr_core_sched_execed,
            enq_ddsp: s.nr_ddsp_from_enq,
            exp_local: s.nr_expedited_local,
            exp_remote: s.nr_expedited_remote,
            exp_timer: s.nr_expedited_from_timer,
            exp_lost: s.nr_expedited_lost,
            queued,
            cpu_online: s.nr_cpu_online,
            cpu_offline: s.nr_cpu_offline,
            cpuperf: None,
            shared_dsq: None,
        }
    }
}

struct Scheduler<'obj> {
    skel: bpf::MainSkel<'obj>,
    has_cpuperf: bool,
    print_shared_dsq: bool,
    /// The sched_switch program on 7.2+, detached when this is dropped.
    _reenq_link: Option<Link>,
}

impl<'obj> Scheduler<'obj> {
    fn init(
        opts: &Opts,
        common: &CommonOpts,
        storage: &'obj mut MaybeUninit<OpenObject>,
    ) -> Result<Attached<'obj, Stats>> {
        // Open the object; scx-core sets the fields every scheduler shares.
        let mut open = scx_core::open(bpf::MainSkelBuilder::default(), storage, common)?;

        // Kfuncs main.bpf.c calls without a fallback: refused clearly where unusable.
        compat::require_kfuncs(&["scx_bpf_kick_cpu", "bpf_iter_scx_dsq_new"])?;

        // The policy's knobs and the failure injections, fixed once loaded.
        let rodata = open
            .maps
            .rodata_data
            .as_deref_mut()
            .context("the BPF object has no .rodata")?;
        rodata.slice_ns = opts.slice_us * 1000;
        rodata.stall_user_nth = opts.stall_user_nth.unwrap_or(0);
        rodata.stall_kernel_nth = opts.stall_kernel_nth.unwrap_or(0);
        rodata.dsp_inf_loop_after = opts.dispatch_loop_after.unwrap_or(0);
        rodata.dsp_batch = opts.batch;
        rodata.highpri_boosting = opts.highpri_boost;
        rodata.print_shared_dsq = opts.print_shared_dsq;
        rodata.suppress_dump = opts.suppress_dump;
        rodata.disallow_tgid = match opts.disallow {
            Some(-1) => {
                i32::try_from(std::process::id()).context("this process id does not fit a pid_t")?
            }
            Some(pid) => pid,
            None => 0,
        };
        let bss = open
            .maps
            .bss_data
            .as_deref_mut()
            .context("the BPF object has no .bss")?;
        bss.test_error_cnt = opts.error_after.unwrap_or(0);

        // Re-enqueue on a higher class taking the CPU: 7.2 deprecated ops.cpu_release()
        // in favour of the sched_switch tracepoint (and logs a warning when it is set).
        let use_tp = compat::struct_has_field("sched_ext_ops_cid", "enqueue")
            && compat::has_kfunc("scx_bpf_dsq_reenq");
        if use_tp {
            open.struct_ops.qmap_ops_mut().cpu_release = std::ptr::null_mut();
            open.progs.qmap_cpu_release.set_autoload(false);
            open.progs.qmap_sched_switch.set_autoload(true);
        }
        let has_cpuperf = compat::has_kfunc("scx_bpf_cpuperf_cur");

        // Load (the verifier runs here) and attach.
        let mut skel = scx_core::load(open)?;
        let link = scx_core::attach(&mut skel)?;
        let reenq_link = if use_tp {
            Some(
                skel.progs
                    .qmap_sched_switch
                    .attach()
                    .context("failed to attach the sched_switch program")?,
            )
        } else {
            None
        };
        log::debug!(
            "re-enqueue through {}",
            if use_tp {
                "the sched_switch tracepoint"
            } else {
                "ops.cpu_release()"
            }
        );
        Ok(Attached::new(
            Scheduler {
                skel,
                has_cpuperf,
                print_shared_dsq: opts.print_shared_dsq,
                _reenq_link: reenq_link,
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
        let b = self
            .skel
            .maps
            .bss_data
            .as_deref()
            .context("the BPF object has no .bss")?;
        let mut stats = Stats::new(&b.stats, b.queue_depth);
        if self.has_cpuperf {
            stats.cpuperf = cpuperf(&scx_core::percpu_values(&self.skel.maps.cpu_ctx_stor, 0)?);
        }
        if self.print_shared_dsq {
            let len = (b.shared_dsq_snap_len as usize).min(b.shared_dsq_snap.len());
            stats.shared_dsq = Some((b.shared_dsq_nr, b.shared_dsq_snap[..len].to_vec()));
        }
        Ok(stats)
    }
}

fn main() -> std::process::ExitCode {
    let opts: Opts = scx_core::cli::parse();
    let mut common = opts.common.clone();
    if let Some(len) = opts.dump_len {
        common.exit_dump_len = len;
    }
    scx_core::run(&common, |storage| Scheduler::init(&opts, &common, storage))
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
                &["--stats", "0.01"],
                "--stats takes a number of seconds from 0.1 to 3600",
            ),
            (
                &["-b", "-1"],
                "-b/--batch takes a whole number from 1 to 32",
            ),
            (
                &["-d", "-2"],
                "-d/--disallow takes a whole number from -1 to 4194304",
            ),
            (
                &["-D", "100"],
                "-D/--dump-len takes a whole number from 1024 to 16777216",
            ),
            (
                &["-e", "0"],
                "-e/--error-after takes a whole number from 1 to 4294967295",
            ),
        ];
        for (args, expect) in cases {
            let argv: Vec<&str> = std::iter::once("scx_qmap")
                .chain(args.iter().copied())
                .collect();
            scx_core::cli_test::assert_refused::<Opts>(&argv, expect);
        }
    }

    #[test]
    fn kernel_example_flags_parse() {
        let o = Opts::try_parse_from([
            "scx_qmap",
            "-s",
            "5000",
            "-e",
            "100",
            "-t",
            "20",
            "-T",
            "3",
            "-l",
            "1000",
            "-b",
            "4",
            "-P",
            "-H",
            "-d",
            "-1",
            "-D",
            "65536",
            "--suppress-dump",
            "-p",
        ])
        .unwrap();
        assert_eq!(o.slice_us, 5000);
        assert_eq!(o.error_after, Some(100));
        assert_eq!((o.stall_user_nth, o.stall_kernel_nth), (Some(20), Some(3)));
        assert_eq!(o.dispatch_loop_after, Some(1000));
        assert_eq!(o.batch, 4);
        assert!(o.print_shared_dsq && o.highpri_boost && o.suppress_dump && o.common.partial);
        assert_eq!(o.disallow, Some(-1));
        assert_eq!(o.dump_len, Some(65536));
    }

    #[test]
    fn bad_values_are_refused() {
        for args in [
            &["-d", "-2"][..],
            &["-S"],
            &["-b", "0"],
            &["-b", "33"],
            &["-e", "0"],
            &["-D", "10"],
            &["-D", "4096", "--exit-dump-len", "8192"],
        ] {
            let argv = std::iter::once("scx_qmap").chain(args.iter().copied());
            assert!(Opts::try_parse_from(argv).is_err(), "{args:?}");
        }
    }

    #[test]
    fn stats_lines() {
        let c = bpf::types::qmap_stats {
            nr_enqueued: 10,
            nr_dispatched: 7,
            nr_reenqueued: 1,
            nr_dequeued: 9,
            nr_core_sched_execed: 0,
            nr_ddsp_from_enq: 2,
            nr_expedited_local: 11,
            nr_expedited_remote: 12,
            nr_expedited_lost: 14,
            nr_expedited_from_timer: 13,
            nr_cpu_online: 1,
            nr_cpu_offline: 1,
        };
        let mut s = Stats::new(&c, [0, 0, 3, 0, 0]);
        s.shared_dsq = Some((2, vec![5, 6]));
        assert_eq!(
            s.to_string(),
            "stats  : enq=10 dsp=7 delta=3 reenq=1 deq=9 core=0 enq_ddsp=2\n         \
             exp_local=11 exp_remote=12 exp_timer=13 exp_lost=14 queued=0/0/3/0/0 hotplug=+1/-1\n\
             shared : nr=2 head=[5 6]"
        );
        let json = serde_json::to_string(&s).unwrap();
        assert!(
            json.starts_with(r#"{"enq":10,"dsp":7,"reenq":1,"deq":9,"core":0,"enq_ddsp":2,"#),
            "{json}"
        );
    }

    fn ctx(target: u32, cur: u32, cap: u32) -> bpf::types::cpu_ctx {
        bpf::types::cpu_ctx {
            cpuperf_target: target,
            cpuperf_cur: cur,
            cpuperf_cap: cap,
            ..Default::default()
        }
    }

    #[test]
    fn cpuperf_skips_unsampled_cpus_and_weights_by_capacity() {
        assert!(cpuperf(&[ctx(512, 512, 0)]).is_none());
        let p = cpuperf(&[ctx(256, 1024, 1024), ctx(768, 512, 512), ctx(9, 9, 0)]).unwrap();
        assert_eq!((p.cur_min, p.cur_max), (512, 1024));
        // (1024 * 1024 / 1024 + 512 * 512 / 1024) * 1024 / 1536 = 853.
        assert_eq!(p.cur_avg, 853);
        assert_eq!((p.target_min, p.target_avg, p.target_max), (256, 512, 768));
    }
}
