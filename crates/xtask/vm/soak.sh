#!/bin/bash
# The soak (`cargo xtask soak`, not part of `cargo xtask test`): the hostile
# load of crates/xtask/vm/faults/hostile.sh (1,000 threads over every nice
# level and policy, affinity and policy churn, RT bursts, hrtimers, a
# fork/exec/exit storm, cgroup churn, CPU hotplug, stress-ng's scheduler
# stressors) for SCX_SOAK_SECS (default 300) instead of 8 s, with the same
# verdict: never ejected, kernel log no worse than under EEVDF with the same
# load (run once per boot, the first scheduler's soak runs it), the longest
# run-queue wait under the scheduler's bound, side by side with EEVDF's.
# The timeout comes from `xtask soak` (twice the soak plus 240 s: the EEVDF
# reference and the scheduler's run).
set -u
secs=${SCX_SOAK_SECS:-300}
[ "$secs" -gt 0 ] || secs=300
HOSTILE_SECS=$secs exec bash "$(dirname "${BASH_SOURCE[0]}")/faults/hostile.sh"
