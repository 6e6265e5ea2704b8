#!/bin/bash
# A nice-19 task among 16 busy nice-0 tasks with a 5 s watchdog: it runs, gets
# less than a quarter of a nice-0 task's CPU time, and the scheduler stays
# attached (the check is crates/xtask/vm/low-weight.bash).
# timeout: 150
set -u
source "$SCX_LIB"
source "$(dirname "$SCX_LIB")/low-weight.bash"
