#[test]
fn release_build_is_narrowed_by_sched() {
    let all = release_build_args(false, ["scx_a"].into_iter());
    assert_eq!(all.last().map(String::as_str), Some("--bins"));
    let some = release_build_args(true, ["scx_a", "scx_fixture_error"].into_iter());
    assert_eq!(
        some[4..],
        ["--bin", "scx_a", "--bin", "scx_fixture_error"].map(String::from)
    );
}

use super::*;
use crate::plan::CheckPlan;
use crate::plan::{Mode, SchedPlan};

#[test]
fn jobs_by_host_size() {
    assert_eq!(default_jobs_for(1), 1);
    assert_eq!(default_jobs_for(2), 2);
    assert_eq!(default_jobs_for(3), 2);
    assert_eq!(default_jobs_for(8), 4);
}

#[test]
fn timeout_grows_with_the_plan() {
    let sched = |checks: Vec<u64>| SchedPlan {
        name: "x".into(),
        ops: "x".into(),
        binary: "/b".into(),
        expect_fail: false,
        args: vec![],
        smoke: true,
        dir: "/s".into(),
        checks: checks
            .into_iter()
            .map(|t| CheckPlan {
                name: "c".into(),
                script: "/c.sh".into(),
                timeout_secs: t,
                newest_kernel_only: false,
            })
            .collect(),
    };
    let mut plan = Plan {
        mode: Mode::Test,
        kernel: "7.3.4".into(),
        results_dir: "/r".into(),
        lib_sh: "/l".into(),
        scheds: vec![sched(vec![])],
        stress_secs: 10,
        soak_secs: 0,
    };
    let one = vm_timeout(&plan);
    assert_eq!(one, Duration::from_secs(BOOT_ALLOWANCE_SECS + 235));
    plan.scheds.push(sched(vec![60, 180]));
    assert_eq!(vm_timeout(&plan), one + Duration::from_secs(235 + 90 + 210));
    // No smoke scenario, no room for it.
    plan.scheds[1].smoke = false;
    assert_eq!(vm_timeout(&plan), one + Duration::from_secs(90 + 210));
}
