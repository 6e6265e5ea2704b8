//! The Markdown report of a run (`results.md`) and the comparison of two runs.

use std::fmt::Write as _;

use super::agent::HISTOGRAM_US;
use super::model::{BenchResults, Metric, SchedBench, DEFAULT_SCHED, METRICS};
use super::stats::{ratio, Change, Summary, SPREAD_LIMIT};

/// Loader targets: CPU (% of one CPU at a 1 s stats interval) and peak RSS.
pub const LOADER_CPU_TARGET_PCT: f64 = 1.0;
pub const LOADER_RSS_TARGET_MIB: f64 = 16.0;
pub const USERLAND_RSS_TARGET_MIB: f64 = 64.0;

pub fn rss_target_mib(sched: &str) -> f64 {
    if sched == "userland" {
        USERLAND_RSS_TARGET_MIB
    } else {
        LOADER_RSS_TARGET_MIB
    }
}

/// A number with about four significant digits.
pub fn fmt_num(v: f64) -> String {
    let a = v.abs();
    if a >= 1000.0 {
        format!("{v:.0}")
    } else if a >= 100.0 {
        format!("{v:.1}")
    } else if a >= 10.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

pub fn summary(s: &SchedBench, m: &Metric) -> Option<Summary> {
    s.samples.get(m.id).and_then(|v| Summary::of(v))
}

fn default_of(r: &BenchResults) -> Option<&SchedBench> {
    r.scheds.iter().find(|s| s.name == DEFAULT_SCHED)
}

/// Ratio of this scheduler's median to the default scheduler's.
pub fn ratio_to_default(r: &BenchResults, s: &SchedBench, m: &Metric) -> Option<f64> {
    let d = summary(default_of(r)?, m)?;
    ratio(summary(s, m)?.median, d.median)
}

/// Does a ratio to the default mean better (true), worse (false), or about the same (None, within 5%)?
pub fn better(m: &Metric, ratio: f64) -> Option<bool> {
    if (ratio - 1.0).abs() < 0.05 {
        return None;
    }
    Some((ratio > 1.0) == m.higher_is_better)
}

pub fn markdown(r: &BenchResults) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Benchmark results\n");
    let _ = writeln!(
        o,
        "Kernel {} (`{}`), {} vCPUs, {}, {} repetitions, {}.\n",
        r.kernel, r.uname, r.nr_cpus, r.accel, r.reps, r.date
    );
    if !r.command.is_empty() {
        let _ = writeln!(o, "Command: `{}`\n", r.command);
    }
    if !r.complete {
        let _ = writeln!(
            o,
            "**Incomplete run: the VM ended before every scheduler was measured.**\n"
        );
    }
    for p in &r.problems {
        let _ = writeln!(o, "- problem: {p}");
    }

    let _ = writeln!(o, "## Ratios to the default scheduler\n");
    let _ = writeln!(
        o,
        "Median of each scheduler divided by the default scheduler's median. \
         `+` marks a result better than the default by more than 5%, `−` one worse by more than 5%, \
         `~` marks spread above {:.0}% of the median. `default-again` is the default scheduler measured \
         once more after all the others: its distance from 1.00 shows how much the host drifted during the run, \
         so smaller differences between schedulers mean nothing.\n",
        SPREAD_LIMIT * 100.0
    );
    let names: Vec<&str> = r.scheds.iter().map(|s| s.name.as_str()).collect();
    let _ = writeln!(o, "| metric | {} |", names.join(" | "));
    let _ = writeln!(o, "|---|{}", "---:|".repeat(names.len()));
    for m in METRICS {
        let cells: Vec<String> = r
            .scheds
            .iter()
            .map(|s| {
                let noisy = summary(s, m).is_some_and(|x| x.noisy());
                let tilde = if noisy { " ~" } else { "" };
                match ratio_to_default(r, s, m) {
                    Some(x) => {
                        let mark = match better(m, x) {
                            Some(true) => " +",
                            Some(false) => " −",
                            None => "",
                        };
                        format!("{x:.2}{mark}{tilde}")
                    }
                    None => "–".to_string(),
                }
            })
            .collect();
        let _ = writeln!(
            o,
            "| {} {} ({}, {}) | {} |",
            m.workload,
            m.what,
            m.unit,
            m.direction(),
            cells.join(" | ")
        );
    }

    let _ = writeln!(o, "\n## Workloads\n");
    let _ = writeln!(
        o,
        "Spread is (max − min) / median; above {:.0}% it is flagged **noisy**.\n",
        SPREAD_LIMIT * 100.0
    );
    for m in METRICS {
        let _ = writeln!(
            o,
            "### {}: {} ({}, {})\n",
            m.workload,
            m.what,
            m.unit,
            m.direction()
        );
        let _ = writeln!(
            o,
            "| scheduler | median | min–max | spread | ratio to default | samples |"
        );
        let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|");
        for s in &r.scheds {
            let past = past_histogram(s, m);
            let Some(x) = summary(s, m) else {
                let why = if past > 0 {
                    format!("> {HISTOGRAM_US} µs in all {past} runs")
                } else {
                    "–".to_string()
                };
                let _ = writeln!(o, "| {} | {why} | – | – | – | 0 |", s.name);
                continue;
            };
            let spread = match x.rel_spread() {
                Some(v) if x.noisy() => format!("**{:.0}% noisy**", v * 100.0),
                Some(v) => format!("{:.0}%", v * 100.0),
                None if x.noisy() => "**noisy**".to_string(),
                None => "0%".to_string(),
            };
            let rt = ratio_to_default(r, s, m).map_or("–".to_string(), |v| format!("{v:.2}"));
            let n = if past > 0 {
                format!("{} (+{past} past {} µs)", x.n, HISTOGRAM_US)
            } else {
                x.n.to_string()
            };
            let _ = writeln!(
                o,
                "| {} | {} | {}–{} | {} | {} | {n} |",
                s.name,
                fmt_num(x.median),
                fmt_num(x.min),
                fmt_num(x.max),
                spread,
                rt,
            );
        }
        let _ = writeln!(o);
    }
    fairness_shares(r, &mut o);
    overhead(r, &mut o);
    targets(r, &mut o);
    problems(r, &mut o);
    o
}

/// cyclictest runs whose 99th percentile lay beyond the histogram: they have
/// an average but no percentile.
pub fn past_histogram(s: &SchedBench, m: &Metric) -> usize {
    if m.id != "cyclictest_p99" {
        return 0;
    }
    let n = |id: &str| s.samples.get(id).map_or(0, Vec::len);
    n("cyclictest_avg").saturating_sub(n("cyclictest_p99"))
}

fn fairness_shares(r: &BenchResults, o: &mut String) {
    let _ = writeln!(
        o,
        "### Fairness: median CPU shares per nice level (0 / 5 / 10)\n\n\
         The kernel's weights 1024 / 335 / 110 entitle them to 69.7% / 22.8% / 7.5%.\n"
    );
    let _ = writeln!(
        o,
        "| scheduler | pinned: nice 0 | nice 5 | nice 10 | unpinned: nice 0 | nice 5 | nice 10 |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|");
    let medians = |runs: &[Vec<f64>]| -> Vec<String> {
        (0..3)
            .map(|i| {
                let v: Vec<f64> = runs.iter().filter_map(|x| x.get(i).copied()).collect();
                Summary::of(&v).map_or("–".to_string(), |x| format!("{:.1}%", x.median * 100.0))
            })
            .collect()
    };
    for s in &r.scheds {
        let mut cells = medians(&s.fair_shares);
        cells.extend(medians(&s.fair_free_shares));
        let _ = writeln!(o, "| {} | {} |", s.name, cells.join(" | "));
    }
    let _ = writeln!(o);
}

fn overhead(r: &BenchResults, o: &mut String) {
    let _ = writeln!(o, "## Overhead\n");
    let _ = writeln!(
        o,
        "Measured over the workloads (kernel.bpf_stats_enabled=1). BPF share: the struct_ops programs' \
         run time as a share of all CPUs' time. Loader CPU: utime+stime of the loader process as a share \
         of one CPU (stats printed every second); total includes loading and verifying.\n"
    );
    let _ = writeln!(
        o,
        "| scheduler | load time | calls/s | ns/call (mean) | BPF share of CPU | verified insns | loader CPU | loader CPU total | peak RSS | decisions/s |"
    );
    let _ = writeln!(o, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for s in r.scheds.iter().filter(|s| !s.is_default()) {
        let Some(ov) = &s.overhead else {
            let _ = writeln!(o, "| {} | – | – | – | – | – | – | – | – | – |", s.name);
            continue;
        };
        let opt = |v: Option<f64>, f: &dyn Fn(f64) -> String| v.map_or("–".to_string(), f);
        let calls_s = (ov.window_secs > 0.0).then(|| ov.calls() as f64 / ov.window_secs);
        let _ = writeln!(
            o,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            s.name,
            opt(s.load_secs, &|v| format!("{v:.1} s")),
            opt(calls_s, &|v| format!("{v:.0}")),
            opt(ov.ns_per_call(), &|v| format!("{v:.0}")),
            opt(ov.bpf_cpu_pct, &|v| format!("{v:.2}%")),
            ov.verified_insns()
                .map_or("–".to_string(), |v| v.to_string()),
            opt(ov.loader_cpu_pct, &|v| format!("{v:.2}%")),
            opt(ov.loader_cpu_total_secs, &|v| format!("{v:.2} s")),
            opt(ov.peak_rss_kib.map(|k| k as f64 / 1024.0), &|v| format!(
                "{v:.1} MiB"
            )),
            opt(ov.decisions_per_sec, &|v| format!("{v:.0}")),
        );
    }
    let _ = writeln!(o, "\n### Per program\n");
    let _ = writeln!(
        o,
        "| scheduler | program | calls | ns/call | verified insns |"
    );
    let _ = writeln!(o, "|---|---|---:|---:|---:|");
    for s in &r.scheds {
        let Some(ov) = &s.overhead else { continue };
        for p in &ov.progs {
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} |",
                s.name,
                p.name,
                p.calls,
                p.ns_per_call()
                    .map_or("–".to_string(), |v| format!("{v:.0}")),
                p.verified_insns.map_or("–".to_string(), |v| v.to_string())
            );
        }
    }
    let _ = writeln!(o);
}

/// One scheduler against the targets: (target, met, what was seen).
pub fn target_checks(s: &SchedBench) -> Vec<(String, bool, String)> {
    let mut out = Vec::new();
    let ov = s.overhead.as_ref();
    let cpu = ov.and_then(|o| o.loader_cpu_pct);
    out.push((
        format!("loader CPU < {LOADER_CPU_TARGET_PCT}% of one CPU"),
        cpu.is_some_and(|c| c < LOADER_CPU_TARGET_PCT),
        cpu.map_or("not measured".into(), |c| format!("{c:.2}%")),
    ));
    let rss = ov.and_then(|o| o.peak_rss_kib).map(|k| k as f64 / 1024.0);
    let lim = rss_target_mib(&s.name);
    out.push((
        format!("peak RSS < {lim:.0} MiB"),
        rss.is_some_and(|m| m < lim),
        rss.map_or("not measured".into(), |m| format!("{m:.1} MiB")),
    ));
    out.push((
        "not ejected, exit 0, detached".into(),
        s.clean(),
        match (&s.ejected, s.exit_status) {
            (Some(e), _) => format!("ejected: {e}"),
            (None, Some(0)) if s.state_after == "disabled" => "clean".into(),
            (None, st) => format!(
                "exit {}, state after `{}`",
                st.map_or("none".into(), |c| c.to_string()),
                s.state_after
            ),
        },
    ));
    out
}

fn targets(r: &BenchResults, o: &mut String) {
    let _ = writeln!(o, "## Targets\n");
    let _ = writeln!(o, "| scheduler | loader CPU < 1% | peak RSS < 16 MiB (userland 64) | not ejected, exit 0, detached |");
    let _ = writeln!(o, "|---|---|---|---|");
    for s in r.scheds.iter().filter(|s| !s.is_default()) {
        let cells: Vec<String> = target_checks(s)
            .into_iter()
            .map(|(_, ok, seen)| format!("{} {seen}", if ok { "met:" } else { "**MISSED**:" }))
            .collect();
        let _ = writeln!(o, "| {} | {} |", s.name, cells.join(" | "));
    }
    let _ = writeln!(o);
}

fn problems(r: &BenchResults, o: &mut String) {
    let any = r.scheds.iter().any(|s| !s.problems.is_empty());
    if !any {
        return;
    }
    let _ = writeln!(o, "## Problems\n");
    for s in &r.scheds {
        for p in &s.problems {
            let _ = writeln!(o, "- {}: {p}", s.name);
        }
    }
    let _ = writeln!(o);
}

/// One line per metric and scheduler found in both runs.
pub fn compare(a: &BenchResults, b: &BenchResults) -> (String, usize) {
    let mut o = String::new();
    let mut changed = 0;
    let _ = writeln!(
        o,
        "A: kernel {}, {} vCPUs, {}\nB: kernel {}, {} vCPUs, {}\n",
        a.kernel, a.nr_cpus, a.date, b.kernel, b.nr_cpus, b.date
    );
    let _ = writeln!(
        o,
        "{:<16} {:<20} {:>10} {:>10} {:>7} {:>10}  {:<16}  vs default A → B",
        "scheduler", "metric", "median A", "median B", "B/A", "spread", "verdict"
    );
    for sa in &a.scheds {
        let Some(sb) = b.scheds.iter().find(|s| s.name == sa.name) else {
            continue;
        };
        for m in METRICS {
            let (Some(x), Some(y)) = (summary(sa, m), summary(sb, m)) else {
                continue;
            };
            let c = Change {
                before: x,
                after: y,
            };
            let verdict = if c.significant() {
                changed += 1;
                let r = c.ratio().unwrap_or(1.0);
                if (r > 1.0) == m.higher_is_better {
                    "CHANGED (better)"
                } else {
                    "CHANGED (worse)"
                }
            } else {
                "within spread"
            };
            // Across boots the host's load moves everything; the ratio to
            // each run's own default scheduler is steadier.
            let rel = match (ratio_to_default(a, sa, m), ratio_to_default(b, sb, m)) {
                (Some(p), Some(q)) if sa.name != DEFAULT_SCHED => format!("{p:.2} → {q:.2}"),
                _ => String::new(),
            };
            let line = format!(
                "{:<16} {:<20} {:>10} {:>10} {:>7} {:>10}  {verdict:<16}  {rel}",
                sa.name,
                m.id,
                fmt_num(x.median),
                fmt_num(y.median),
                c.ratio().map_or("–".into(), |v| format!("{v:.2}")),
                fmt_num(c.combined_spread()),
            );
            let _ = writeln!(o, "{}", line.trim_end());
        }
        if let (Some(oa), Some(ob)) = (&sa.overhead, &sb.overhead) {
            let pairs = [
                ("ns/call", oa.ns_per_call(), ob.ns_per_call()),
                ("loader CPU %", oa.loader_cpu_pct, ob.loader_cpu_pct),
                (
                    "peak RSS KiB",
                    oa.peak_rss_kib.map(|v| v as f64),
                    ob.peak_rss_kib.map(|v| v as f64),
                ),
            ];
            for (what, x, y) in pairs {
                if let (Some(x), Some(y)) = (x, y) {
                    let _ = writeln!(
                        o,
                        "{:<16} {:<20} {:>10} {:>10} {:>7} {:>10}  (one value per run)",
                        sa.name,
                        what,
                        fmt_num(x),
                        fmt_num(y),
                        ratio(y, x).map_or("–".into(), |v| format!("{v:.2}")),
                        "–"
                    );
                }
            }
        }
    }
    let _ = writeln!(
        o,
        "\n{changed} change(s) larger than the two runs' combined spread (max − min of A plus that of B)"
    );
    (o, changed)
}

#[cfg(test)]
mod tests;
