//! The machine's CPU topology as sched_ext schedulers need it: possible and online
//! CPUs, SMT siblings, last-level caches and NUMA nodes, as [`CpuSet`]s.
//!
//! Everything is read below a sysfs root, `/` on a real system, so tests can describe a
//! machine with a fake tree. Offline CPUs keep no topology files; they appear in
//! `possible` but in no sibling, LLC or node set until they come online (a hotplug
//! restart reads the topology again).
//!
//! Why not `scx_utils::Topology` (measured in docs/architecture.md, "What comes from
//! scx_utils"): its sysfs root is a process-global set once from `SCX_SYSFS_PREFIX`,
//! and its `Cpumask` is as wide as the CPU directories present at first use, narrower
//! than the kernel's `nr_cpu_ids` on a machine whose `possible` list exceeds its
//! `present` one (hot-pluggable CPUs), where a mask of `possible` cannot be built.
//! A [`CpuSet`] is as wide as the kernel's `nr_cpu_ids`, read from the same tree.

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use bitvec::vec::BitVec;

/// Parses a kernel cpulist such as `0-3,8,10-11` (empty means no CPU).
pub fn parse_cpulist(list: &str) -> Result<Vec<usize>> {
    let mut cpus = Vec::new();
    for part in list
        .trim()
        .split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let (lo, hi) = match part.split_once('-') {
            Some((lo, hi)) => (lo, hi),
            None => (part, part),
        };
        let lo: usize = lo
            .trim()
            .parse()
            .with_context(|| format!("invalid CPU '{lo}' in cpulist '{list}'"))?;
        let hi: usize = hi
            .trim()
            .parse()
            .with_context(|| format!("invalid CPU '{hi}' in cpulist '{list}'"))?;
        anyhow::ensure!(lo <= hi, "invalid range {lo}-{hi} in cpulist '{list}'");
        cpus.extend(lo..=hi);
    }
    Ok(cpus)
}

/// Formats CPUs as a kernel cpulist, merging runs: `[0,1,2,5]` gives `0-2,5`.
pub fn format_cpulist(cpus: impl IntoIterator<Item = usize>) -> String {
    let mut cpus: Vec<usize> = cpus.into_iter().collect();
    cpus.sort_unstable();
    cpus.dedup();
    let mut out = Vec::new();
    let mut i = 0;
    while i < cpus.len() {
        let start = cpus[i];
        while i + 1 < cpus.len() && cpus[i + 1] == cpus[i] + 1 {
            i += 1;
        }
        out.push(if start == cpus[i] {
            start.to_string()
        } else {
            format!("{start}-{}", cpus[i])
        });
        i += 1;
    }
    out.join(",")
}

/// A set of CPU ids below the kernel's `nr_cpu_ids`: one bit per id.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CpuSet(BitVec);

impl CpuSet {
    /// The empty set of a machine with `nr_cpu_ids` CPU ids.
    pub fn new(nr_cpu_ids: usize) -> Self {
        Self(BitVec::repeat(false, nr_cpu_ids))
    }

    /// The set of `cpus`, each of which must be below `nr_cpu_ids`.
    pub fn from_cpus(nr_cpu_ids: usize, cpus: &[usize]) -> Result<Self> {
        let mut set = Self::new(nr_cpu_ids);
        for &cpu in cpus {
            anyhow::ensure!(
                cpu < nr_cpu_ids,
                "CPU {cpu} is beyond the {nr_cpu_ids} CPU ids the kernel allows"
            );
            set.0.set(cpu, true);
        }
        Ok(set)
    }

    /// Whether `cpu` is in the set (false beyond `nr_cpu_ids`).
    pub fn test_cpu(&self, cpu: usize) -> bool {
        self.0.get(cpu).is_some_and(|b| *b)
    }

    /// The number of CPUs in the set.
    pub fn weight(&self) -> usize {
        self.0.count_ones()
    }

    /// The CPUs of the set, in increasing order.
    pub fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter_ones()
    }

    /// The set as a kernel cpulist (`0-3,8`).
    pub fn to_cpulist(&self) -> String {
        format_cpulist(self.iter())
    }
}

impl fmt::Debug for CpuSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CpuSet({})", self.to_cpulist())
    }
}

/// What the topology knows about one online CPU.
#[derive(Debug, Clone)]
pub struct Cpu {
    pub id: usize,
    /// The CPU's SMT siblings, itself included.
    pub siblings: CpuSet,
    /// Index into [`Topology::llcs`].
    pub llc: usize,
    /// NUMA node id.
    pub node: usize,
}

#[derive(Debug, Clone)]
pub struct Topology {
    /// One more than the highest possible CPU id: the size of per-CPU arrays.
    pub nr_cpu_ids: usize,
    pub possible: CpuSet,
    pub online: CpuSet,
    /// Online CPUs by id.
    pub cpus: BTreeMap<usize, Cpu>,
    /// CPUs sharing each last-level cache.
    pub llcs: Vec<CpuSet>,
    /// CPUs of each NUMA node, by node id.
    pub nodes: BTreeMap<usize, CpuSet>,
}

struct Sysfs(PathBuf);

impl Sysfs {
    fn read(&self, rel: impl AsRef<Path>) -> Result<String> {
        let p = self.0.join(rel);
        Ok(fs::read_to_string(&p)
            .with_context(|| format!("failed to read {}", p.display()))?
            .trim()
            .to_string())
    }

    /// The CPUs sharing `cpu`'s highest-level cache, or just `cpu` without cache info.
    fn llc_of(&self, cpu: usize) -> Result<Vec<usize>> {
        let dir = self
            .0
            .join(format!("sys/devices/system/cpu/cpu{cpu}/cache"));
        let mut best: Option<(u32, Vec<usize>)> = None;
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(vec![cpu]);
        };
        for e in entries.flatten() {
            let name = e.file_name();
            if !name.to_string_lossy().starts_with("index") {
                continue;
            }
            let level: u32 = match self
                .read(e.path().join("level"))
                .ok()
                .and_then(|l| l.parse().ok())
            {
                Some(l) => l,
                None => continue,
            };
            let shared = match self.read(e.path().join("shared_cpu_list")) {
                Ok(s) => parse_cpulist(&s)?,
                Err(_) => continue,
            };
            if best.as_ref().is_none_or(|(l, _)| level > *l) {
                best = Some((level, shared));
            }
        }
        Ok(best.map_or_else(|| vec![cpu], |(_, s)| s))
    }
}

impl Topology {
    /// The running machine.
    pub fn new() -> Result<Self> {
        Self::from_root(Path::new("/"))
    }

    /// The machine described by the sysfs tree below `root`.
    pub fn from_root(root: &Path) -> Result<Self> {
        let sys = Sysfs(root.to_path_buf());
        let possible = parse_cpulist(&sys.read("sys/devices/system/cpu/possible")?)?;
        let online = parse_cpulist(&sys.read("sys/devices/system/cpu/online")?)?;
        let nr_cpu_ids = possible.iter().max().map_or(0, |m| m + 1);
        let mask_of = |cpus: &[usize]| CpuSet::from_cpus(nr_cpu_ids, cpus);

        let mut nodes = BTreeMap::new();
        let mut node_of = BTreeMap::new();
        if let Ok(entries) = fs::read_dir(root.join("sys/devices/system/node")) {
            for e in entries.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(id) = name
                    .strip_prefix("node")
                    .and_then(|n| n.parse::<usize>().ok())
                else {
                    continue;
                };
                let cpus = parse_cpulist(&sys.read(e.path().join("cpulist"))?)?;
                for &c in &cpus {
                    node_of.insert(c, id);
                }
                nodes.insert(id, mask_of(&cpus)?);
            }
        }
        if nodes.is_empty() {
            // Kernels without NUMA expose no node directory: one node holds every CPU.
            nodes.insert(0, mask_of(&online)?);
        }

        let mut llcs: Vec<Vec<usize>> = Vec::new();
        let mut cpus = BTreeMap::new();
        for &id in &online {
            let siblings = sys
                .read(format!(
                    "sys/devices/system/cpu/cpu{id}/topology/thread_siblings_list"
                ))
                .map_or_else(|_| Ok(vec![id]), |s| parse_cpulist(&s))?;
            let llc_cpus = sys.llc_of(id)?;
            let llc = match llcs.iter().position(|l| *l == llc_cpus) {
                Some(i) => i,
                None => {
                    llcs.push(llc_cpus);
                    llcs.len() - 1
                }
            };
            let node = node_of.get(&id).copied().unwrap_or(0);
            cpus.insert(
                id,
                Cpu {
                    id,
                    siblings: mask_of(&siblings)?,
                    llc,
                    node,
                },
            );
        }

        Ok(Self {
            nr_cpu_ids,
            possible: mask_of(&possible)?,
            online: mask_of(&online)?,
            cpus,
            llcs: llcs.iter().map(|l| mask_of(l)).collect::<Result<_>>()?,
            nodes,
        })
    }

    /// Whether any online CPU has an SMT sibling.
    pub fn has_smt(&self) -> bool {
        self.cpus.values().any(|c| c.siblings.weight() > 1)
    }

    /// Whether `cpu` is online.
    pub fn is_online(&self, cpu: usize) -> bool {
        cpu < self.nr_cpu_ids && self.online.test_cpu(cpu)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpulists_round_trip() {
        assert_eq!(
            parse_cpulist("0-3,8,10-11\n").unwrap(),
            vec![0, 1, 2, 3, 8, 10, 11]
        );
        assert_eq!(parse_cpulist("").unwrap(), Vec::<usize>::new());
        assert_eq!(format_cpulist([11, 0, 1, 2, 3, 8, 10]), "0-3,8,10-11");
        assert_eq!(format_cpulist([5]), "5");
        assert_eq!(format_cpulist([]), "");
        for bad in ["a", "3-1", "1-", "-2", "1,,x"] {
            assert!(parse_cpulist(bad).is_err(), "{bad}");
        }
    }

    /// A fake machine: 8 possible CPUs, 0-5 online, SMT pairs (i, i+4), two LLCs and two
    /// NUMA nodes split 0-1,4-5 / 2-3,6-7.
    fn fake_sysfs(tag: &str) -> PathBuf {
        let root = std::env::temp_dir().join(format!("scx-core-topo-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let w = |rel: &str, text: &str| {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
        };
        w("sys/devices/system/cpu/possible", "0-7\n");
        w("sys/devices/system/cpu/online", "0-5\n");
        for cpu in 0..6 {
            let sib = format!("{},{}", cpu % 4, cpu % 4 + 4);
            w(
                &format!("sys/devices/system/cpu/cpu{cpu}/topology/thread_siblings_list"),
                &sib,
            );
            let llc = if cpu % 4 < 2 { "0-1,4-5" } else { "2-3,6-7" };
            w(
                &format!("sys/devices/system/cpu/cpu{cpu}/cache/index0/level"),
                "1",
            );
            w(
                &format!("sys/devices/system/cpu/cpu{cpu}/cache/index0/shared_cpu_list"),
                &sib,
            );
            w(
                &format!("sys/devices/system/cpu/cpu{cpu}/cache/index3/level"),
                "3",
            );
            w(
                &format!("sys/devices/system/cpu/cpu{cpu}/cache/index3/shared_cpu_list"),
                llc,
            );
        }
        w("sys/devices/system/node/node0/cpulist", "0-1,4-5");
        w("sys/devices/system/node/node1/cpulist", "2-3,6-7");
        root
    }

    #[test]
    fn reads_a_fake_machine() {
        let root = fake_sysfs("full");
        let t = Topology::from_root(&root).unwrap();
        assert_eq!(t.nr_cpu_ids, 8);
        assert_eq!(t.possible.weight(), 8);
        assert_eq!(t.online.to_cpulist(), "0-5");
        assert!(t.is_online(5) && !t.is_online(6) && !t.is_online(100));
        assert_eq!(t.cpus.len(), 6);
        assert_eq!(t.cpus[&1].siblings.to_cpulist(), "1,5");
        assert!(t.has_smt());
        assert_eq!(t.llcs.len(), 2);
        assert_eq!(t.cpus[&0].llc, t.cpus[&5].llc);
        assert_ne!(t.cpus[&0].llc, t.cpus[&2].llc);
        assert_eq!(t.nodes.len(), 2);
        assert_eq!(t.cpus[&3].node, 1);
        assert_eq!(t.nodes[&1].to_cpulist(), "2-3,6-7");
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn machine_without_numa_or_cache_info() {
        let root = std::env::temp_dir().join(format!("scx-core-topo-min-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        fs::create_dir_all(root.join("sys/devices/system/cpu")).unwrap();
        fs::write(root.join("sys/devices/system/cpu/possible"), "0-3").unwrap();
        fs::write(root.join("sys/devices/system/cpu/online"), "0-3").unwrap();
        let t = Topology::from_root(&root).unwrap();
        assert!(!t.has_smt());
        assert_eq!(t.nodes.len(), 1);
        assert_eq!(t.nodes[&0].weight(), 4);
        assert_eq!(
            t.llcs.len(),
            4,
            "without cache info every CPU is its own LLC"
        );
        fs::remove_dir_all(root).unwrap();
    }

    /// Hot-pluggable CPUs: `possible` lists more CPUs than have sysfs directories. The
    /// sets are as wide as the kernel's nr_cpu_ids, not as the CPUs present.
    #[test]
    fn possible_cpus_beyond_the_present_ones() {
        let root = std::env::temp_dir().join(format!("scx-core-topo-hp-{}", std::process::id()));
        let _ = fs::remove_dir_all(&root);
        let cpu = root.join("sys/devices/system/cpu");
        fs::create_dir_all(cpu.join("cpu1/topology")).unwrap();
        fs::write(cpu.join("possible"), "0-63\n").unwrap();
        fs::write(cpu.join("online"), "0-1\n").unwrap();
        fs::write(cpu.join("cpu1/topology/thread_siblings_list"), "0-1").unwrap();
        let t = Topology::from_root(&root).unwrap();
        assert_eq!(t.nr_cpu_ids, 64);
        assert_eq!(t.possible.to_cpulist(), "0-63");
        assert_eq!(t.cpus[&1].siblings.iter().collect::<Vec<_>>(), [0, 1]);
        assert!(!t.possible.test_cpu(64) && !t.is_online(63));
        assert!(CpuSet::from_cpus(64, &[64]).is_err());
        fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn missing_sysfs_is_an_error_not_a_panic() {
        let err = Topology::from_root(Path::new("/nonexistent-scx-root")).unwrap_err();
        assert!(format!("{err:#}").contains("possible"), "{err:#}");
    }
}
