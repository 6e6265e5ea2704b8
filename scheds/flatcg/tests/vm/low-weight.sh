#!/bin/bash
# A nice-19 task among 16 busy nice-0 tasks, all in one cgroup, with a 5 s
# watchdog: it runs, gets less than a quarter of a nice-0 task's CPU time, and
# the scheduler stays attached (the check is crates/xtask/vm/low-weight.bash).
# The soak found this: khugepaged (nice 19) waited 32.7 s behind about 70
# stress-ng tasks and the kernel ejected scx_flatcg; with the old code this
# check ends in a stall exit after about 24 s.
# timeout: 150
set -u
source "$SCX_LIB"
source "$(dirname "$SCX_LIB")/low-weight.bash"
