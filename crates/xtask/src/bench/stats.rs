//! Summaries of repeated samples and the comparison of two runs.

/// A workload whose spread (max − min) exceeds this share of its median is flagged.
pub const SPREAD_LIMIT: f64 = 0.20;

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for no samples; non-finite samples are ignored.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut v: Vec<f64> = samples.iter().copied().filter(|x| x.is_finite()).collect();
        if v.is_empty() {
            return None;
        }
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Some(Summary {
            n,
            median,
            min: v[0],
            max: v[n - 1],
        })
    }

    /// max − min.
    pub fn spread(&self) -> f64 {
        self.max - self.min
    }

    /// Spread as a share of the median (`None` for a zero median).
    pub fn rel_spread(&self) -> Option<f64> {
        (self.median != 0.0).then(|| self.spread() / self.median.abs())
    }

    /// Spread above [`SPREAD_LIMIT`] of the median (any spread around a zero median).
    pub fn noisy(&self) -> bool {
        match self.rel_spread() {
            Some(r) => r > SPREAD_LIMIT,
            None => self.spread() > 0.0,
        }
    }
}

/// `a / b`, when both are usable.
pub fn ratio(a: f64, b: f64) -> Option<f64> {
    (b != 0.0 && a.is_finite() && b.is_finite()).then(|| a / b)
}

/// One metric of one scheduler in two runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Change {
    pub before: Summary,
    pub after: Summary,
}

impl Change {
    /// after / before, of the medians.
    pub fn ratio(&self) -> Option<f64> {
        ratio(self.after.median, self.before.median)
    }

    /// The two runs' spreads added: a smaller move of the median is noise.
    pub fn combined_spread(&self) -> f64 {
        self.before.spread() + self.after.spread()
    }

    /// The medians moved further apart than the combined spread.
    pub fn significant(&self) -> bool {
        (self.after.median - self.before.median).abs() > self.combined_spread()
    }
}

/// The error of a fairness run: the largest distance, in percentage points,
/// between an observed CPU share and the share its weight entitles it to.
pub fn fairness_error(observed: &[f64], weights: &[f64]) -> Option<f64> {
    if observed.len() != weights.len() || observed.is_empty() {
        return None;
    }
    let tot_obs: f64 = observed.iter().sum();
    let tot_w: f64 = weights.iter().sum();
    if tot_obs <= 0.0 || tot_w <= 0.0 {
        return None;
    }
    observed
        .iter()
        .zip(weights)
        .map(|(o, w)| ((o / tot_obs) - (w / tot_w)).abs() * 100.0)
        .reduce(f64::max)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summaries() {
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[f64::NAN]), None);
        let s = Summary::of(&[3.0, 1.0, 2.0]).expect("summary");
        assert_eq!((s.n, s.median, s.min, s.max), (3, 2.0, 1.0, 3.0));
        let s = Summary::of(&[4.0, 1.0, 2.0, 3.0]).expect("summary");
        assert_eq!(s.median, 2.5);
        assert_eq!(s.spread(), 3.0);
        let s = Summary::of(&[7.0]).expect("summary");
        assert_eq!((s.median, s.spread()), (7.0, 0.0));
        assert!(!s.noisy());
    }

    #[test]
    fn spread_flag() {
        // 10 ± 1: spread 2 = 20% of the median, not above the limit.
        let s = Summary::of(&[9.0, 10.0, 11.0]).expect("summary");
        assert!((s.rel_spread().expect("rel") - 0.2).abs() < 1e-12);
        assert!(!s.noisy());
        let s = Summary::of(&[9.0, 10.0, 11.5]).expect("summary");
        assert!(s.noisy());
        let s = Summary::of(&[0.0, 0.0, 0.0]).expect("summary");
        assert!(!s.noisy());
        let s = Summary::of(&[-1.0, 0.0, 1.0]).expect("summary");
        assert!(s.noisy());
    }

    #[test]
    fn ratios() {
        assert_eq!(ratio(3.0, 2.0), Some(1.5));
        assert_eq!(ratio(1.0, 0.0), None);
        assert_eq!(ratio(f64::NAN, 1.0), None);
    }

    #[test]
    fn changes() {
        let a = Summary::of(&[10.0, 10.5, 11.0]).expect("a");
        let b = Summary::of(&[12.0, 12.2, 12.5]).expect("b");
        let c = Change {
            before: a,
            after: b,
        };
        assert!((c.ratio().expect("ratio") - 12.2 / 10.5).abs() < 1e-12);
        assert_eq!(c.combined_spread(), 1.5);
        assert!(c.significant());
        let b = Summary::of(&[10.2, 11.0, 11.6]).expect("b");
        let c = Change {
            before: a,
            after: b,
        };
        assert!(!c.significant());
    }

    #[test]
    fn fairness() {
        let w = [1024.0, 335.0, 110.0];
        let exact: Vec<f64> = w.iter().map(|x| x * 3.0).collect();
        assert!(fairness_error(&exact, &w).expect("err") < 1e-9);
        // Equal shares: nice 0 gets 33.3% instead of 69.7%.
        let e = fairness_error(&[1.0, 1.0, 1.0], &w).expect("err");
        assert!((e - (1024.0 / 1469.0 - 1.0 / 3.0) * 100.0).abs() < 1e-9);
        assert_eq!(fairness_error(&[0.0, 0.0, 0.0], &w), None);
        assert_eq!(fairness_error(&[1.0], &w), None);
    }
}
