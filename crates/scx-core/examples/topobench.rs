//! Compares scx-core's topology reader with scx_utils' `Topology` on this machine: the
//! time of one `Topology::new()` each (median of N runs) and whether they agree on what
//! the schedulers use (nr_cpu_ids, online CPUs, SMT siblings, LLCs, NUMA nodes).
//!
//! `cargo run --release -p scx-core --example topobench [-- RUNS [SYSFS_ROOT]]`. With a
//! SYSFS_ROOT (a fake tree), scx_utils reads it through `SCX_SYSFS_PREFIX`, which it
//! reads once per process; scx-core reads it through `Topology::from_root`.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

/// What a scheduler of the suite takes from a topology, in one comparable form.
#[derive(Debug, PartialEq)]
struct Summary {
    nr_cpu_ids: usize,
    online: Vec<usize>,
    siblings: Vec<Vec<usize>>,
    llcs: BTreeSet<Vec<usize>>,
    nodes: BTreeSet<Vec<usize>>,
}

fn ours(root: &Path) -> Result<Summary> {
    let t = scx_core::topology::Topology::from_root(root)?;
    Ok(Summary {
        nr_cpu_ids: t.nr_cpu_ids,
        online: t.cpus.keys().copied().collect(),
        siblings: t
            .cpus
            .values()
            .map(|c| c.siblings.iter().collect())
            .collect(),
        llcs: t.llcs.iter().map(|m| m.iter().collect()).collect(),
        nodes: t.nodes.values().map(|m| m.iter().collect()).collect(),
    })
}

fn theirs() -> Result<Summary> {
    let t = scx_utils::Topology::new()?;
    Ok(Summary {
        nr_cpu_ids: *scx_utils::NR_CPU_IDS,
        online: t.all_cpus.keys().copied().collect(),
        siblings: t
            .all_cpus
            .values()
            .map(|c| t.all_cores[&c.core_id].span.iter().collect())
            .collect(),
        llcs: t
            .all_llcs
            .values()
            .map(|l| l.span.iter().collect())
            .collect(),
        nodes: t.nodes.values().map(|n| n.span.iter().collect()).collect(),
    })
}

fn median(runs: usize, mut f: impl FnMut() -> Result<Summary>) -> (Duration, Result<Summary>) {
    let mut times = Vec::with_capacity(runs);
    let mut last = f();
    for _ in 0..runs {
        let t0 = Instant::now();
        last = f();
        times.push(t0.elapsed());
    }
    times.sort_unstable();
    (times[times.len() / 2], last)
}

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args
        .next()
        .map_or(Ok(200), |a| a.parse())
        .context("RUNS must be a whole number")?
        .max(1);
    let root = args.next();
    if let Some(r) = &root {
        // Before scx_utils' first read: its prefix is fixed for the process.
        std::env::set_var("SCX_SYSFS_PREFIX", r);
    }
    let root = Path::new(root.as_deref().unwrap_or("/")).to_path_buf();

    let (t_ours, s_ours) = median(runs, || ours(&root));
    let (t_theirs, s_theirs) = median(runs, theirs);
    println!("runs: {runs}, sysfs root: {}", root.display());
    println!("scx-core  Topology::from_root: median {t_ours:?}");
    println!("scx_utils Topology::new:       median {t_theirs:?}");
    match (&s_ours, &s_theirs) {
        (Ok(a), Ok(b)) if a == b => println!("same answer: {a:?}"),
        _ => {
            let show = |s: &Result<Summary>| match s {
                Ok(s) => format!("{s:?}"),
                Err(e) => format!("error: {e:#}"),
            };
            println!(
                "answers differ:\n  scx-core:  {}\n  scx_utils: {}",
                show(&s_ours),
                show(&s_theirs)
            );
        }
    }
    Ok(())
}
