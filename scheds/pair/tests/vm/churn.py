#!/usr/bin/python3
"""Cgroup churn for scx_pair's checks.

churn.py churn ROOT N: creates N cgroups below ROOT in rounds of 10; in each round
every cgroup gets a child process that moves itself in and spins for 50 ms, and one
long-running spinner is moved through all of them; then the round's cgroups are
removed. Prints "created=N removed=N".

churn.py limit ROOT N: tries to create N cgroups below ROOT and prints
"created=C refused=R other=O" (refused = EBUSY), then removes the ones it made.
"""
import errno
import os
import sys
import time


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def spin(secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        pass


def rmdir(path):
    for _ in range(100):
        try:
            os.rmdir(path)
            return True
        except OSError as e:
            if e.errno != errno.EBUSY:
                raise
            time.sleep(0.01)
    return False


def churn(root, n):
    os.makedirs(root, exist_ok=True)
    write(f"{root}/cgroup.subtree_control", "+cpu")
    spinner = os.fork()
    if spinner == 0:
        while True:
            pass
    created = removed = 0
    try:
        for base in range(0, n, 10):
            dirs = [f"{root}/cg{i}" for i in range(base, min(base + 10, n))]
            kids = []
            for d in dirs:
                os.mkdir(d)
                created += 1
                pid = os.fork()
                if pid == 0:
                    write(f"{d}/cgroup.procs", str(os.getpid()))
                    spin(0.05)
                    os._exit(0)
                kids.append(pid)
            for d in dirs:
                write(f"{d}/cgroup.procs", str(spinner))
                spin(0.005)
            write("/sys/fs/cgroup/cgroup.procs", str(spinner))
            for pid in kids:
                os.waitpid(pid, 0)
            for d in dirs:
                if rmdir(d):
                    removed += 1
    finally:
        os.kill(spinner, 9)
        os.waitpid(spinner, 0)
    rmdir(root)
    print(f"created={created} removed={removed}")


def limit(root, n):
    os.makedirs(root, exist_ok=True)
    write(f"{root}/cgroup.subtree_control", "+cpu")
    made, refused, other = [], 0, 0
    for i in range(n):
        d = f"{root}/lim{i}"
        try:
            os.mkdir(d)
            made.append(d)
        except OSError as e:
            if e.errno == errno.EBUSY:
                refused += 1
            else:
                other += 1
                print(f"mkdir {d}: {e}", file=sys.stderr)
    for d in made:
        rmdir(d)
    rmdir(root)
    print(f"created={len(made)} refused={refused} other={other}")


{"churn": churn, "limit": limit}[sys.argv[1]](sys.argv[2], int(sys.argv[3]))
