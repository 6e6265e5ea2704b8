//! How CPUs are split into pairs: by stride (CPU i with (i + stride) mod nr_cpu_ids) or
//! by real SMT siblings. Pure functions over CPU counts and sibling lists, so that 2-,
//! 3- and 4-CPU machines can be tested without one.

/// CPU pairs, as (lower, higher) CPU ids, in the order of their lower CPU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pairs(pub Vec<(usize, usize)>);

impl Pairs {
    /// Builds the pairs from a partner table (`partner[cpu]`), which must be an
    /// involution without fixed points; the callers check that.
    fn from_partners(partner: &[usize]) -> Self {
        Pairs(
            partner
                .iter()
                .enumerate()
                .filter(|&(i, &j)| i < j)
                .map(|(i, &j)| (i, j))
                .collect(),
        )
    }

    /// For each CPU: its partner, the index of its pair and its side (0 lower, 1 higher).
    pub fn table(&self, nr_cpus: usize) -> Vec<(usize, u32, u8)> {
        let mut t = vec![(0, 0, 0); nr_cpus];
        for (id, &(a, b)) in self.0.iter().enumerate() {
            t[a] = (b, id as u32, 0);
            t[b] = (a, id as u32, 1);
        }
        t
    }
}

impl std::fmt::Display for Pairs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let list: Vec<String> = self.0.iter().map(|(a, b)| format!("[{a},{b}]")).collect();
        f.write_str(&list.join(" "))
    }
}

/// Pairs CPU i with (i + stride) mod `nr_cpus`. Every refusal is one sentence that says why.
pub fn stride_pairs(nr_cpus: usize, stride: usize) -> Result<Pairs, String> {
    if nr_cpus < 2 || !nr_cpus.is_multiple_of(2) {
        return Err(format!(
            "scx_pair splits the CPUs into pairs, so it needs an even number of them, and this machine has {nr_cpus}"
        ));
    }
    let half = nr_cpus / 2;
    if stride.is_multiple_of(nr_cpus) {
        return Err(format!(
            "stride {stride} would pair every CPU with itself on {nr_cpus} CPUs: use a stride of {half}"
        ));
    }
    let partner: Vec<usize> = (0..nr_cpus).map(|i| (i + stride) % nr_cpus).collect();
    for (i, &j) in partner.iter().enumerate() {
        if partner[j] != i {
            return Err(format!(
                "stride {stride} on {nr_cpus} CPUs would pair CPU {j} with both CPU {i} and CPU {}, \
                 and a pair has two CPUs: use a stride of {half}",
                partner[j]
            ));
        }
    }
    Ok(Pairs::from_partners(&partner))
}

/// Pairs each CPU with its SMT sibling. `siblings[cpu]` lists the hardware threads of
/// CPU `cpu`'s core (itself included), or is `None` for an offline CPU.
pub fn smt_pairs(siblings: &[Option<Vec<usize>>]) -> Result<Pairs, String> {
    let mut partner = vec![usize::MAX; siblings.len()];
    for (cpu, sib) in siblings.iter().enumerate() {
        let Some(sib) = sib else {
            return Err(format!("--smt needs every CPU online to pair it with its sibling, and CPU {cpu} is offline"));
        };
        let others: Vec<usize> = sib.iter().copied().filter(|&s| s != cpu).collect();
        match others.as_slice() {
            [] => {
                return Err(format!(
                    "--smt pairs SMT siblings, and CPU {cpu} has none (this machine has no SMT): use --stride instead"
                ))
            }
            [other] if *other < siblings.len() => partner[cpu] = *other,
            _ => {
                return Err(format!(
                    "--smt needs cores of exactly two hardware threads, and CPU {cpu} shares its core with {}: \
                     use --stride instead",
                    others.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
                ))
            }
        }
    }
    for (cpu, &p) in partner.iter().enumerate() {
        if partner[p] != cpu {
            return Err(format!(
                "the SMT topology is inconsistent: CPU {cpu} lists {p} as its sibling but not back"
            ));
        }
    }
    Ok(Pairs::from_partners(&partner))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_stride_pairs_halves() {
        assert_eq!(stride_pairs(4, 2).unwrap(), Pairs(vec![(0, 2), (1, 3)]));
        assert_eq!(
            stride_pairs(8, 4).unwrap().to_string(),
            "[0,4] [1,5] [2,6] [3,7]"
        );
        // A stride of n/2 plus a multiple of n is the same pairing.
        assert_eq!(stride_pairs(4, 6).unwrap(), stride_pairs(4, 2).unwrap());
    }

    #[test]
    fn stride_one_works_on_two_cpus() {
        assert_eq!(stride_pairs(2, 1).unwrap(), Pairs(vec![(0, 1)]));
    }

    #[test]
    fn self_pairing_is_refused() {
        let e = stride_pairs(4, 0).unwrap_err();
        assert!(e.contains("itself") && e.contains("stride of 2"), "{e}");
        assert!(stride_pairs(4, 4).unwrap_err().contains("itself"));
        assert!(stride_pairs(2, 2).unwrap_err().contains("itself"));
    }

    #[test]
    fn three_way_pairing_is_refused() {
        let e = stride_pairs(4, 1).unwrap_err();
        assert!(e.contains("CPU 1 with both CPU 0 and CPU 2"), "{e}");
        assert!(stride_pairs(4, 3).unwrap_err().contains("with both"));
        assert!(stride_pairs(8, 2).unwrap_err().contains("with both"));
    }

    #[test]
    fn odd_cpu_counts_are_refused_for_any_stride() {
        for stride in 0..7 {
            let e = stride_pairs(3, stride).unwrap_err();
            assert!(e.contains("even number") && e.contains("has 3"), "{e}");
        }
        assert!(stride_pairs(1, 1).is_err());
        assert!(stride_pairs(0, 1).is_err());
    }

    #[test]
    fn table_lists_partner_pair_and_side() {
        let t = stride_pairs(4, 2).unwrap().table(4);
        assert_eq!(t, vec![(2, 0, 0), (3, 1, 0), (0, 0, 1), (1, 1, 1)]);
    }

    #[test]
    fn smt_siblings_pair_up() {
        // Two cores with threads (0,2) and (1,3), as many x86 machines number them.
        let sib = vec![
            Some(vec![0, 2]),
            Some(vec![1, 3]),
            Some(vec![0, 2]),
            Some(vec![1, 3]),
        ];
        assert_eq!(smt_pairs(&sib).unwrap(), Pairs(vec![(0, 2), (1, 3)]));
        let adjacent = vec![Some(vec![0, 1]), Some(vec![0, 1])];
        assert_eq!(smt_pairs(&adjacent).unwrap(), Pairs(vec![(0, 1)]));
    }

    #[test]
    fn smt_is_refused_without_two_thread_cores() {
        let none = vec![Some(vec![0]), Some(vec![1])];
        assert!(smt_pairs(&none).unwrap_err().contains("no SMT"));
        let four = vec![Some(vec![0, 1, 2, 3]); 4];
        assert!(smt_pairs(&four).unwrap_err().contains("exactly two"));
        let offline = vec![Some(vec![0, 1]), None];
        assert!(smt_pairs(&offline).unwrap_err().contains("offline"));
        let lopsided = vec![Some(vec![0, 1]), Some(vec![1, 2]), Some(vec![1, 2])];
        assert!(smt_pairs(&lopsided).is_err());
    }
}
