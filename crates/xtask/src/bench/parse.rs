//! Reading the figures out of each tool's output and out of procfs.

use std::collections::BTreeMap;

/// `perf bench sched messaging`: `     Total time: 2.839 [sec]`.
pub fn perf_messaging_secs(out: &str) -> Option<f64> {
    out.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("Total time:")?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// `perf bench sched pipe`: `     111.884600 usecs/op`.
pub fn perf_pipe_usecs(out: &str) -> Option<f64> {
    out.lines().find_map(|l| {
        let mut w = l.split_whitespace();
        let v = w.next()?;
        (w.next()? == "usecs/op").then(|| v.parse().ok())?
    })
}

/// rt-tests hackbench: `Time: 1.971`.
pub fn hackbench_secs(out: &str) -> Option<f64> {
    out.lines()
        .find_map(|l| l.trim().strip_prefix("Time:")?.trim().parse().ok())
}

/// stress-ng `--metrics-brief`: bogo ops/s over real time of one stressor.
///
/// ```text
/// stress-ng: metrc: [145] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
/// stress-ng: metrc: [145] cpu                 138      3.50      4.51      1.45        39.46          23.16
/// ```
pub fn stress_ng_rate(out: &str, stressor: &str) -> Option<f64> {
    out.lines().find_map(|l| {
        let rest = l.split_once("] ")?.1;
        let mut w = rest.split_whitespace();
        if w.next()? != stressor {
            return None;
        }
        let nums: Vec<f64> = w.map(|x| x.parse::<f64>()).collect::<Result<_, _>>().ok()?;
        // bogo ops, real, usr, sys, ops/s (real), ops/s (usr+sys)
        (nums.len() >= 5).then(|| nums[4])
    })
}

/// cyclictest latencies (µs) from `-q -h N` output of one thread.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cyclic {
    pub avg: f64,
    pub max: f64,
    /// `None` when the 99th percentile lies beyond the histogram.
    pub p99: Option<f64>,
    pub samples: u64,
}

pub fn cyclictest(out: &str) -> Option<Cyclic> {
    let mut avg = None;
    let mut max = None;
    let mut overflows = 0u64;
    let mut buckets: Vec<(u64, u64)> = Vec::new();
    for l in out.lines() {
        let l = l.trim();
        if let Some(rest) = l.strip_prefix('#') {
            let Some((k, v)) = rest.split_once(':') else {
                continue;
            };
            let first = v.split_whitespace().next();
            match k.trim() {
                "Avg Latencies" => avg = first.and_then(|x| x.parse::<f64>().ok()),
                "Max Latencies" => max = first.and_then(|x| x.parse::<f64>().ok()),
                "Histogram Overflows" => {
                    overflows = first.and_then(|x| x.parse().ok()).unwrap_or(0)
                }
                _ => {}
            }
            continue;
        }
        let mut w = l.split_whitespace();
        if let (Some(a), Some(b)) = (w.next(), w.next()) {
            if let (Ok(lat), Ok(n)) = (a.parse::<u64>(), b.parse::<u64>()) {
                buckets.push((lat, n));
            }
        }
    }
    let samples = buckets.iter().map(|b| b.1).sum::<u64>() + overflows;
    Some(Cyclic {
        avg: avg?,
        max: max?,
        p99: percentile(&buckets, samples, 0.99),
        samples,
    })
}

/// The smallest bucket value at or below which `q` of `total` samples lie.
fn percentile(buckets: &[(u64, u64)], total: u64, q: f64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let want = (q * total as f64).ceil() as u64;
    let mut seen = 0;
    for (lat, n) in buckets {
        seen += n;
        if seen >= want {
            return Some(*lat as f64);
        }
    }
    None
}

/// The `key:\tvalue` lines of a /proc/PID/fdinfo file.
pub fn fdinfo(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_string(), v.trim().to_string()))
        })
        .collect()
}

/// One BPF program as an fdinfo file shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProgInfo {
    pub id: u32,
    pub prog_type: u32,
    pub run_time_ns: u64,
    pub run_cnt: u64,
    pub verified_insns: Option<u64>,
}

/// `BPF_PROG_TYPE_STRUCT_OPS` in the kernel's enum bpf_prog_type.
pub const PROG_TYPE_STRUCT_OPS: u32 = 27;

pub fn prog_info(text: &str) -> Option<ProgInfo> {
    let f = fdinfo(text);
    let num = |k: &str| f.get(k).and_then(|v| v.parse::<u64>().ok());
    Some(ProgInfo {
        id: u32::try_from(num("prog_id")?).ok()?,
        prog_type: u32::try_from(num("prog_type")?).ok()?,
        run_time_ns: num("run_time_ns").unwrap_or(0),
        run_cnt: num("run_cnt").unwrap_or(0),
        verified_insns: num("verified_insns"),
    })
}

/// id → name from `bpftool prog show --json`.
pub fn bpftool_names(json: &str) -> BTreeMap<u32, String> {
    let Ok(serde_json::Value::Array(progs)) = serde_json::from_str(json) else {
        return BTreeMap::new();
    };
    progs
        .iter()
        .filter_map(|p| {
            let id = u32::try_from(p.get("id")?.as_u64()?).ok()?;
            let name = p.get("name")?.as_str()?.to_string();
            Some((id, name))
        })
        .collect()
}

/// utime + stime (clock ticks) from /proc/PID/stat.
pub fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    // The command name may hold spaces and parentheses: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime is field 14, stime 15.
    let utime: u64 = f.get(11)?.parse().ok()?;
    let stime: u64 = f.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A `Key:   N kB` line of /proc/PID/status, in KiB.
pub fn status_kib(status: &str, key: &str) -> Option<u64> {
    status.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        if k.trim() != key {
            return None;
        }
        v.split_whitespace().next()?.parse().ok()
    })
}

/// Time on the CPU (ns) from /proc/PID/schedstat.
pub fn schedstat_ns(text: &str) -> Option<u64> {
    text.split_whitespace().next()?.parse().ok()
}

/// A counter of a `--stats-json` line.
pub fn stats_counter(line: &str, key: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(line.trim()).ok()?;
    v.get(key)?.as_u64()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perf_bench() {
        let m = "# Running 'sched/messaging' benchmark:\n\
                 # 20 sender and receiver processes per group\n\
                 # 2 groups == 80 processes run\n\n     Total time: 2.839 [sec]\n";
        assert_eq!(perf_messaging_secs(m), Some(2.839));
        assert_eq!(perf_messaging_secs("# nothing\n"), None);
        let p = "# Running 'sched/pipe' benchmark:\n\
                 # Executed 20000 pipe operations between two processes\n\n\
                      Total time: 2.237 [sec]\n\n      111.884600 usecs/op\n           8937 ops/sec\n";
        assert_eq!(perf_pipe_usecs(p), Some(111.8846));
        assert_eq!(perf_pipe_usecs("8937 ops/sec\n"), None);
    }

    #[test]
    fn hackbench() {
        let h =
            "Running in process mode with 2 groups using 40 file descriptors each (== 80 tasks)\n\
                 Each sender will pass 50 messages of 100 bytes\nTime: 1.971\n";
        assert_eq!(hackbench_secs(h), Some(1.971));
        assert_eq!(hackbench_secs("Time: soon\n"), None);
    }

    #[test]
    fn stress_ng() {
        let out = "\
stress-ng: info:  [153] dispatching hogs: 2 switch
stress-ng: metrc: [153] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [153]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [153] switch             8953      3.01      0.62      5.41      2969.69        1485.49
stress-ng: metrc: [153] miscellaneous metrics:
stress-ng: metrc: [153] switch            669491.63 nanosecs per context switch (pipe method) (geometic mean of 2 instances)
stress-ng: info:  [153] successful run completed in 3.06s
";
        assert_eq!(stress_ng_rate(out, "switch"), Some(2969.69));
        assert_eq!(stress_ng_rate(out, "cpu"), None);
        let cpu = "stress-ng: metrc: [145] cpu                 138      3.50      4.51      1.45        39.46          23.16\n";
        assert_eq!(stress_ng_rate(cpu, "cpu"), Some(39.46));
    }

    #[test]
    fn cyclictest_histogram() {
        let mut out = String::from("# /dev/cpu_dma_latency set to 0us\n# Histogram\n");
        // 100 samples: 90 at 10 µs, 8 at 500 µs, 1 at 900 µs, 1 overflow.
        for lat in 0..1000u32 {
            let n = match lat {
                10 => 90,
                500 => 8,
                900 => 1,
                _ => 0,
            };
            out.push_str(&format!("{lat:06} {n:06}\n"));
        }
        out.push_str(
            "# Total: 000000099\n# Min Latencies: 00010\n# Avg Latencies: 00395\n\
             # Max Latencies: 08144\n# Histogram Overflows: 00001\n\
             # Histogram Overflow at cycle number:\n# Thread 0: 00047\n",
        );
        let c = cyclictest(&out).expect("parsed");
        assert_eq!(c.avg, 395.0);
        assert_eq!(c.max, 8144.0);
        assert_eq!(c.samples, 100);
        assert_eq!(c.p99, Some(900.0));
        // With 2 overflows of 100, the 99th percentile is past the histogram.
        let more = out.replace("Overflows: 00001", "Overflows: 00002");
        assert_eq!(cyclictest(&more).expect("parsed").p99, None);
        assert_eq!(cyclictest("# Histogram\n"), None);
    }

    #[test]
    fn fdinfo_of_a_prog() {
        let t =
            "pos:\t0\nflags:\t02000002\nmnt_id:\t21\nino:\t1052\nprog_type:\t27\nprog_jited:\t1\n\
                 prog_tag:\t662e1819136f98e4\nmemlock:\t4096\nprog_id:\t7\nrun_time_ns:\t49631661\n\
                 run_cnt:\t2269\nrecursion_misses:\t0\nverified_insns:\t33\n";
        assert_eq!(
            prog_info(t),
            Some(ProgInfo {
                id: 7,
                prog_type: PROG_TYPE_STRUCT_OPS,
                run_time_ns: 49_631_661,
                run_cnt: 2269,
                verified_insns: Some(33),
            })
        );
        // A map's fdinfo is no program.
        assert_eq!(prog_info("map_type:\t2\nmap_id:\t4\n"), None);
    }

    #[test]
    fn bpftool_json() {
        let j = r#"[{"id":7,"type":"struct_ops","name":"simple_select_cpu","run_time_ns":1},
                    {"id":9,"type":"struct_ops","name":"simple_enqueue"},{"id":"x"}]"#;
        let n = bpftool_names(j);
        assert_eq!(n.len(), 2);
        assert_eq!(n.get(&9).map(String::as_str), Some("simple_enqueue"));
        assert!(bpftool_names("not json").is_empty());
    }

    #[test]
    fn procfs() {
        let stat = "175 (scx simple) S 143 142 142 0 -1 4194560 497 0 253 0 51 61 0 0 20 0 1 0 4167 6680576 786";
        assert_eq!(stat_cpu_ticks(stat), Some(112));
        assert_eq!(stat_cpu_ticks("garbage"), None);
        let status = "Name:\tscx_simple\nVmHWM:\t    3416 kB\nVmRSS:\t    3400 kB\n";
        assert_eq!(status_kib(status, "VmHWM"), Some(3416));
        assert_eq!(status_kib(status, "VmSwap"), None);
        assert_eq!(schedstat_ns("573338638 29288071 354\n"), Some(573_338_638));
        let line = r#"{"nr_vruntime_dispatches":1263,"decisions_per_sec":743,"batch":8}"#;
        assert_eq!(stats_counter(line, "nr_vruntime_dispatches"), Some(1263));
        assert_eq!(stats_counter("enq: kern=1", "nr_vruntime_dispatches"), None);
    }
}
