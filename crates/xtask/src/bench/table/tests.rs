use super::*;
use crate::bench::model::Overhead;

fn sched(name: &str, msg: &[f64], cpu: &[f64]) -> SchedBench {
    let mut s = SchedBench {
        name: name.into(),
        enabled: true,
        exit_status: Some(0),
        state_after: "disabled".into(),
        done: true,
        ..SchedBench::default()
    };
    s.samples.insert("messaging".into(), msg.to_vec());
    s.samples.insert("stress_cpu".into(), cpu.to_vec());
    s
}

fn results() -> BenchResults {
    BenchResults {
        kernel: "7.3.4".into(),
        nr_cpus: 2,
        reps: 3,
        complete: true,
        scheds: vec![
            sched(DEFAULT_SCHED, &[2.0, 2.1, 2.2], &[100.0, 101.0, 99.0]),
            sched("simple", &[3.0, 4.0, 5.0], &[110.0, 111.0, 112.0]),
        ],
        ..BenchResults::default()
    }
}

#[test]
fn ratios_and_flags_in_the_table() {
    let r = results();
    let m = super::super::model::metric("messaging").expect("metric");
    let x = ratio_to_default(&r, &r.scheds[1], m).expect("ratio");
    assert!((x - 4.0 / 2.1).abs() < 1e-12);
    assert_eq!(better(m, x), Some(false));
    let md = markdown(&r);
    assert!(
        md.contains("| simple | 4.000 | 3.000–5.000 | **50% noisy** | 1.90 | 3 |"),
        "{md}"
    );
    assert!(
        md.contains("| default | 2.100 | 2.000–2.200 | 10% | 1.00 | 3 |"),
        "{md}"
    );
    // stress-ng --cpu: 111/100 is better (higher is better).
    assert!(md.contains("| 1.00 | 1.11 + |"), "{md}");
    assert!(md.contains("| 1.00 | 1.90 − ~ |"), "{md}");
}

#[test]
fn percentiles_past_the_histogram_are_counted() {
    let mut r = results();
    r.scheds[1]
        .samples
        .insert("cyclictest_avg".into(), vec![1.0, 2.0, 3.0]);
    r.scheds[1]
        .samples
        .insert("cyclictest_p99".into(), vec![10.0]);
    let m = super::super::model::metric("cyclictest_p99").expect("metric");
    assert_eq!(past_histogram(&r.scheds[1], m), 2);
    assert_eq!(past_histogram(&r.scheds[0], m), 0);
    let md = markdown(&r);
    assert!(md.contains("| 1 (+2 past 50000 µs) |"), "{md}");
    r.scheds[1].samples.remove("cyclictest_p99");
    assert!(markdown(&r).contains("| simple | > 50000 µs in all 3 runs |"));
}

#[test]
fn targets_are_judged() {
    let mut s = sched("userland", &[1.0], &[1.0]);
    s.overhead = Some(Overhead {
        loader_cpu_pct: Some(1.5),
        peak_rss_kib: Some(20 * 1024),
        ..Overhead::default()
    });
    let t = target_checks(&s);
    assert!(!t[0].1, "1.5% is over the 1% CPU target");
    assert!(t[1].1, "20 MiB is within userland's 64 MiB");
    assert!(t[2].1);
    s.name = "simple".into();
    s.ejected = Some("state `disabled`".into());
    let t = target_checks(&s);
    assert!(!t[1].1, "20 MiB is over 16 MiB");
    assert!(!t[2].1);
    assert!(t[2].2.starts_with("ejected"));
}

#[test]
fn comparing_runs() {
    let a = results();
    let mut b = results();
    // messaging of simple: 4.0 → 8.0, spreads 2 + 1 < 4: changed (worse).
    b.scheds[1]
        .samples
        .insert("messaging".into(), vec![7.5, 8.0, 8.5]);
    let (text, changed) = compare(&a, &b);
    assert_eq!(changed, 1, "{text}");
    assert!(text.contains("CHANGED (worse)"), "{text}");
    // simple's messaging relative to its run's default: 4.0/2.1 → 8.0/2.1.
    assert!(text.contains("1.90 → 3.81"), "{text}");
    let (_, none) = compare(&a, &a);
    assert_eq!(none, 0);
}

#[test]
fn numbers() {
    assert_eq!(fmt_num(12345.6), "12346");
    assert_eq!(fmt_num(123.45), "123.5");
    assert_eq!(fmt_num(12.345), "12.35");
    assert_eq!(fmt_num(1.23456), "1.235");
}
