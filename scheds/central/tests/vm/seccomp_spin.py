#!/usr/bin/env python3
"""Spend most of the time inside migrate_disable() sections, for SECONDS.

The kernel runs a process's seccomp filters for every system call through
bpf_prog_run_pin_on_cpu(), which disables migration around them. This process
installs FILTERS "allow everything" filters of about 4000 instructions each
that read a system call argument (so the kernel's seccomp cache cannot skip
them), then calls getppid() in a loop: a preemption will nearly always catch it
with migration disabled. Usage: seccomp_spin.py SECONDS [FILTERS]
"""
import ctypes
import os
import sys
import time

PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
BPF_LD_W_ABS = 0x20          # BPF_LD | BPF_W | BPF_ABS
BPF_RET_K = 0x06             # BPF_RET | BPF_K
SECCOMP_RET_ALLOW = 0x7FFF0000
ARG0_OFFSET = 16             # struct seccomp_data: nr, arch, instruction_pointer, args[]
FILTER_LEN = 4000            # under BPF_MAXINSNS (4096)


class SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(SockFilter))]


def install(libc, count):
    insns = (SockFilter * FILTER_LEN)()
    for i in range(FILTER_LEN - 1):
        insns[i] = SockFilter(BPF_LD_W_ABS, 0, 0, ARG0_OFFSET)
    insns[FILTER_LEN - 1] = SockFilter(BPF_RET_K, 0, 0, SECCOMP_RET_ALLOW)
    prog = SockFprog(FILTER_LEN, insns)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    for _ in range(count):
        if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP)")


def main():
    seconds = float(sys.argv[1])
    filters = int(sys.argv[2]) if len(sys.argv) > 2 else 7
    libc = ctypes.CDLL(None, use_errno=True)
    install(libc, filters)
    calls = 0
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(100):
            os.getppid()
        calls += 100
    print(f"{calls} filtered system calls in {seconds:g} s")


if __name__ == "__main__":
    main()
