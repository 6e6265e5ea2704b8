//! Running the calling thread on one CPU for a while, then putting its affinity back;
//! keeping it off one CPU.
//!
//! Generic enough for scx-core (any scheduler that must run a SEC("syscall") program on
//! a given CPU); kept here until a second scheduler needs it.

use std::io;
use std::mem;

/// The calling thread's previous affinity; dropping it restores that affinity.
pub struct PinnedThread {
    saved: libc::cpu_set_t,
}

impl Drop for PinnedThread {
    fn drop(&mut self) {
        // SAFETY: `saved` is a valid cpu_set_t of the size passed; pid 0 is this thread.
        let rc = unsafe { libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &self.saved) };
        if rc != 0 {
            log::warn!(
                "failed to restore the loader's CPU affinity: {}",
                io::Error::last_os_error()
            );
        }
    }
}

/// Moves the calling thread to `cpu` and keeps it there until the result is dropped.
/// Fails when `cpu` is outside the thread's allowed CPUs (a cpuset), offline, or beyond
/// what a `cpu_set_t` holds.
pub fn pin_current_thread(cpu: usize) -> io::Result<PinnedThread> {
    let setsize = libc::CPU_SETSIZE as usize;
    if cpu >= setsize {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("CPU {cpu} is beyond CPU_SETSIZE {setsize}"),
        ));
    }
    // SAFETY: cpu_set_t is plain data, all zeroes is an empty set; the calls get its
    // exact size and pid 0, the calling thread.
    unsafe {
        let mut saved: libc::cpu_set_t = mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut saved) != 0 {
            return Err(io::Error::last_os_error());
        }
        let mut only: libc::cpu_set_t = mem::zeroed();
        libc::CPU_SET(cpu, &mut only);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &only) != 0 {
            return Err(io::Error::last_os_error());
        }
        // The kernel migrates the caller before sched_setaffinity() returns.
        let now = libc::sched_getcpu();
        let pinned = PinnedThread { saved };
        if now != cpu as i32 {
            return Err(io::Error::other(format!(
                "still on CPU {now} after pinning to CPU {cpu}"
            )));
        }
        Ok(pinned)
    }
}

/// Takes `cpu` out of the calling thread's allowed CPUs when at least one other CPU
/// remains; returns whether it did (false: `cpu` was not allowed anyway, or it is the
/// only CPU the thread may use, which is left as it is).
pub fn avoid_cpu(cpu: usize) -> io::Result<bool> {
    if cpu >= libc::CPU_SETSIZE as usize {
        return Ok(false);
    }
    // SAFETY: as in pin_current_thread.
    unsafe {
        let mut set: libc::cpu_set_t = mem::zeroed();
        if libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut set) != 0 {
            return Err(io::Error::last_os_error());
        }
        if !libc::CPU_ISSET(cpu, &set) || libc::CPU_COUNT(&set) < 2 {
            return Ok(false);
        }
        libc::CPU_CLR(cpu, &mut set);
        if libc::sched_setaffinity(0, size_of::<libc::cpu_set_t>(), &set) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_and_restores() {
        // SAFETY: as above.
        let before = unsafe {
            let mut s: libc::cpu_set_t = mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut s),
                0
            );
            s
        };
        let first = (0..libc::CPU_SETSIZE as usize)
            .find(|&c| unsafe { libc::CPU_ISSET(c, &before) })
            .unwrap();
        {
            let _pin = pin_current_thread(first).unwrap();
            assert_eq!(unsafe { libc::sched_getcpu() }, first as i32);
        }
        let after = unsafe {
            let mut s: libc::cpu_set_t = mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut s),
                0
            );
            s
        };
        assert!(unsafe { libc::CPU_EQUAL(&before, &after) });
    }

    #[test]
    fn avoids_a_cpu_and_never_the_last_one() {
        // SAFETY: as above.
        let allowed = || unsafe {
            let mut s: libc::cpu_set_t = mem::zeroed();
            assert_eq!(
                libc::sched_getaffinity(0, size_of::<libc::cpu_set_t>(), &mut s),
                0
            );
            (0..libc::CPU_SETSIZE as usize)
                .filter(|&c| libc::CPU_ISSET(c, &s))
                .collect::<Vec<_>>()
        };
        // A thread of its own, so the test harness's thread keeps its affinity.
        std::thread::spawn(move || {
            let before = allowed();
            let first = before[0];
            assert!(!avoid_cpu(libc::CPU_SETSIZE as usize).unwrap());
            if before.len() > 1 {
                assert!(avoid_cpu(first).unwrap());
                assert_eq!(allowed(), before[1..].to_vec());
                assert!(!avoid_cpu(first).unwrap(), "already avoided");
            }
            // Down to one CPU: that one is kept.
            let last = *allowed().last().unwrap();
            let _pin = pin_current_thread(last).unwrap();
            assert!(!avoid_cpu(last).unwrap());
            assert_eq!(allowed(), vec![last]);
        })
        .join()
        .unwrap();
    }

    #[test]
    fn out_of_range_cpu_is_an_error() {
        assert_eq!(
            pin_current_thread(1 << 20).err().map(|e| e.kind()),
            Some(io::ErrorKind::InvalidInput)
        );
    }
}
