//! Thin, checked wrappers over the system calls the user-space scheduler needs.
//!
//! `lock_all_memory`, `set_current_thread_sched_ext` and `nice_current_thread` are
//! generic (no userland policy in them): candidates for scx-core.

use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::ptr::NonNull;
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// The scheduling policy number of sched_ext (`SCHED_EXT` in linux/sched.h).
pub const SCHED_EXT: libc::c_int = 7;

/// `mlockall(MCL_CURRENT | MCL_FUTURE)`: every page the process has or will map
/// stays in RAM, so the scheduler never waits for a page fault (and for the tasks
/// that would have to run to serve it) while it holds tasks.
pub fn lock_all_memory() -> Result<()> {
    // SAFETY: no pointers involved.
    if unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE) } != 0 {
        return Err(io::Error::last_os_error())
            .context("failed to lock the process's memory (mlockall)");
    }
    Ok(())
}

/// Puts the calling thread (not the whole process) under `SCHED_EXT`.
pub fn set_current_thread_sched_ext() -> Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: pid 0 is the calling thread; param is a valid sched_param.
    if unsafe { libc::sched_setscheduler(0, SCHED_EXT, &param) } != 0 {
        return Err(io::Error::last_os_error())
            .context("failed to set the scheduler thread's policy to SCHED_EXT");
    }
    Ok(())
}

/// Sets the nice value of the calling thread only.
pub fn nice_current_thread(nice: i32) -> Result<()> {
    // SAFETY: gettid has no arguments; setpriority with a tid affects that thread.
    let tid = unsafe { libc::gettid() };
    if unsafe { libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, nice) } != 0 {
        return Err(io::Error::last_os_error())
            .with_context(|| format!("failed to set nice {nice}"));
    }
    Ok(())
}

/// Runs a `SEC("syscall")` BPF program once in the calling thread's context and
/// returns its return value.
pub fn run_syscall_prog(prog: BorrowedFd<'_>) -> Result<u32> {
    // SAFETY: an all-zero bpf_test_run_opts is valid; sz is set as libbpf wants.
    let mut opts: libbpf_rs::libbpf_sys::bpf_test_run_opts = unsafe { std::mem::zeroed() };
    opts.sz = size_of::<libbpf_rs::libbpf_sys::bpf_test_run_opts>() as _;
    // SAFETY: prog is an open program fd and opts outlives the call.
    let err = unsafe { libbpf_rs::libbpf_sys::bpf_prog_test_run_opts(prog.as_raw_fd(), &mut opts) };
    if err != 0 {
        return Err(io::Error::from_raw_os_error(-err))
            .context("failed to run a BPF syscall program");
    }
    Ok(opts.retval)
}

/// An eventfd: the way to wake the scheduler thread out of `epoll_wait`.
pub struct EventFd(OwnedFd);

impl EventFd {
    pub fn new() -> Result<Self> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("failed to create an eventfd");
        }
        // SAFETY: fd was just returned to us and is owned by nobody else.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    pub fn signal(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. A full counter (EAGAIN) is fine:
        // the waiter is woken either way.
        let _ = unsafe { libc::write(self.0.as_raw_fd(), (&raw const one).cast(), 8) };
    }

    pub fn fd(&self) -> RawFd {
        self.0.as_raw_fd()
    }
}

/// A small epoll set.
pub struct Epoll(OwnedFd);

impl Epoll {
    pub fn new() -> Result<Self> {
        // SAFETY: plain syscall.
        let fd = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error()).context("failed to create an epoll set");
        }
        // SAFETY: fd was just returned to us.
        Ok(Self(unsafe { OwnedFd::from_raw_fd(fd) }))
    }

    /// Watches `fd` for `events` (`EPOLLIN`, `EPOLLOUT | EPOLLET`, ...).
    pub fn add(&self, fd: RawFd, events: u32, what: &str) -> Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: fd as u64,
        };
        // SAFETY: ev is valid for the call; the kernel copies it.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_ADD, fd, &mut ev) } != 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("failed to watch {what} with epoll"));
        }
        Ok(())
    }

    /// Changes the events `fd` is watched for.
    pub fn modify(&self, fd: RawFd, events: u32, what: &str) -> Result<()> {
        let mut ev = libc::epoll_event {
            events,
            u64: fd as u64,
        };
        // SAFETY: as in add.
        if unsafe { libc::epoll_ctl(self.0.as_raw_fd(), libc::EPOLL_CTL_MOD, fd, &mut ev) } != 0 {
            return Err(io::Error::last_os_error())
                .with_context(|| format!("failed to re-arm epoll for {what}"));
        }
        Ok(())
    }

    /// Waits until something is ready or `timeout` passes. Interrupted waits count
    /// as wakeups.
    pub fn wait(&self, timeout: Duration) -> Result<()> {
        let mut evs = [libc::epoll_event { events: 0, u64: 0 }; 4];
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: evs is a valid array of the length given.
        let n =
            unsafe { libc::epoll_wait(self.0.as_raw_fd(), evs.as_mut_ptr(), evs.len() as i32, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() != io::ErrorKind::Interrupted {
                return Err(e).context("epoll_wait failed");
            }
        }
        Ok(())
    }
}

/// A shared, writable mapping of a BPF array map created with `BPF_F_MMAPABLE`
/// (libbpf creates `.bss` that way): the scheduler's counters, read and written
/// with atomics, without a system call.
pub struct SharedMap {
    ptr: NonNull<u8>,
    len: usize,
}

// SAFETY: the mapping is plain shared memory, only accessed through atomics.
unsafe impl Send for SharedMap {}
// SAFETY: as above.
unsafe impl Sync for SharedMap {}

impl SharedMap {
    /// Maps the first `len` bytes of the map behind `fd`. The mapping keeps the map
    /// alive on its own, independently of the skeleton.
    pub fn new(fd: BorrowedFd<'_>, len: usize) -> Result<Self> {
        // SAFETY: a fresh shared mapping of a BPF map fd; the kernel checks the size.
        let p = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                len,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_SHARED,
                fd.as_raw_fd(),
                0,
            )
        };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error()).context("failed to map the scheduler's .bss");
        }
        let ptr = NonNull::new(p.cast()).context("mmap returned a null mapping")?;
        Ok(Self { ptr, len })
    }

    /// The `u64` at byte `off`, as an atomic.
    pub fn u64_at(&self, off: usize) -> Result<&std::sync::atomic::AtomicU64> {
        if !off.is_multiple_of(8) || off + 8 > self.len {
            bail!(
                "offset {off} is not an aligned u64 inside the {}-byte mapping",
                self.len
            );
        }
        // SAFETY: in bounds and 8-byte aligned (the mapping is page aligned); the
        // memory lives as long as self, and AtomicU64 has u64's layout.
        Ok(unsafe {
            &*self
                .ptr
                .as_ptr()
                .add(off)
                .cast::<std::sync::atomic::AtomicU64>()
        })
    }
}

impl Drop for SharedMap {
    fn drop(&mut self) {
        // SAFETY: ptr/len came from a successful mmap and are unmapped only here.
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}
