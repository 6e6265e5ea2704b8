#!/usr/bin/python3
"""Pair-invariant observer: reads an ftrace sched_switch log and reports, for each
CPU pair, the fraction of the measured time during which its two CPUs ran tasks of
two different cgroups at once.

usage: overlap.py TRACE NR_CPUS A_PIDS_FILE B_PIDS_FILE

Pairs are (i, i + NR_CPUS/2), the scheduler's default. A task counts as group "A" or
"B" when its pid is listed in the file of that cgroup's loops, "other" when it is any
other task, and nothing when the CPU is idle (pid 0). Printed: one line per pair with
the A/B overlap (both CPUs running loops of different cgroups), the any-cgroup overlap
(either side may be "other") and the time both CPUs ran loops, then "max_ab=<fraction>".
"""
import re
import sys

LINE = re.compile(r"\[(\d+)\]\s+\S+\s+([\d.]+):\s+sched_switch:.*next_pid=(\d+)")


def main():
    trace, nr_cpus, a_file, b_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    a = set(open(a_file).read().split())
    b = set(open(b_file).read().split())

    def group(pid):
        if pid == "0":
            return None
        if pid in a:
            return "A"
        if pid in b:
            return "B"
        return "other"

    events = []
    for line in open(trace, errors="replace"):
        m = LINE.search(line)
        if m:
            events.append((float(m.group(2)), int(m.group(1)), group(m.group(3))))
    events.sort()
    if not events:
        print("no sched_switch events")
        print("max_ab=1.0")
        return

    # Measure from the moment every CPU has switched at least once (its state is known).
    first = {}
    for t, cpu, _ in events:
        first.setdefault(cpu, t)
    if len(first) < nr_cpus:
        print(f"only {len(first)} of {nr_cpus} CPUs switched during the trace")
    start = max(first.values())
    end = events[-1][0]
    state = {}
    half = nr_cpus // 2
    pairs = [(i, i + half) for i in range(half)]
    ab = {p: 0.0 for p in pairs}
    anydiff = {p: 0.0 for p in pairs}
    both = {p: 0.0 for p in pairs}
    last = start
    for t, cpu, g in events:
        if t > start:
            dt = t - last
            for p in pairs:
                x, y = state.get(p[0]), state.get(p[1])
                if x is not None and y is not None and x != y:
                    anydiff[p] += dt
                    if {x, y} == {"A", "B"}:
                        ab[p] += dt
                if x in ("A", "B") and y in ("A", "B"):
                    both[p] += dt
            last = t
        state[cpu] = g
    span = max(end - start, 1e-9)
    worst = 0.0
    for p in pairs:
        f = ab[p] / span
        worst = max(worst, f)
        print(f"pair {p[0]},{p[1]}: A/B overlap {100 * f:.2f}% any-cgroup overlap "
              f"{100 * anydiff[p] / span:.2f}% both running loops {100 * both[p] / span:.1f}% "
              f"of {span:.1f} s")
    print(f"events={len(events)} span={span:.1f}s")
    print(f"max_ab={worst:.4f}")


main()
