//! The records of `src/bpf/intf.h`, byte for byte, in native byte order.

/// Kernel → user space: a runnable task handed over (`struct enqueued_task`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EnqueuedTask {
    pub pid: i32,
    /// `p->scx.weight`: 100 at nice 0.
    pub weight: u32,
    pub start_time: u64,
    /// Nanoseconds the task has run in total.
    pub sum_exec_runtime: u64,
    /// What user space stored at the task's last dispatch (0 the first time).
    pub vruntime: u64,
    /// The part of `sum_exec_runtime` already charged into `vruntime`.
    pub charged: u64,
    /// `ENQUEUED_*`.
    pub flags: u32,
}

/// The task woke up (or is new): a sleeper.
pub const ENQUEUED_WAKEUP: u32 = 1 << 0;
/// Not a task: a request to run, sent when the CPUs are running out of decisions.
pub const ENQUEUED_KICK: u32 = 1 << 1;

/// User space → kernel: a task to run, its place and its slice (`struct dispatched_task`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DispatchedTask {
    pub pid: i32,
    pub start_time: u64,
    pub vruntime: u64,
    pub charged: u64,
    pub slice_ns: u64,
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&b[off..off + 8]);
    u64::from_ne_bytes(w)
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[off..off + 4]);
    u32::from_ne_bytes(w)
}

impl EnqueuedTask {
    pub const SIZE: usize = 48;

    /// Decodes one ring buffer record; `None` if it has the wrong size.
    pub fn decode(b: &[u8]) -> Option<Self> {
        if b.len() != Self::SIZE {
            return None;
        }
        Some(Self {
            pid: u32_at(b, 0) as i32,
            weight: u32_at(b, 4),
            start_time: u64_at(b, 8),
            sum_exec_runtime: u64_at(b, 16),
            vruntime: u64_at(b, 24),
            charged: u64_at(b, 32),
            flags: u32_at(b, 40),
        })
    }

    #[cfg(test)]
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut b = [0u8; Self::SIZE];
        b[0..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&self.weight.to_ne_bytes());
        b[8..16].copy_from_slice(&self.start_time.to_ne_bytes());
        b[16..24].copy_from_slice(&self.sum_exec_runtime.to_ne_bytes());
        b[24..32].copy_from_slice(&self.vruntime.to_ne_bytes());
        b[32..40].copy_from_slice(&self.charged.to_ne_bytes());
        b[40..44].copy_from_slice(&self.flags.to_ne_bytes());
        b
    }
}

impl DispatchedTask {
    pub const SIZE: usize = 40;

    /// Writes the record into a reserved sample of exactly [`Self::SIZE`] bytes.
    pub fn encode_into(&self, b: &mut [u8]) {
        b[0..4].copy_from_slice(&self.pid.to_ne_bytes());
        b[4..8].copy_from_slice(&0u32.to_ne_bytes());
        b[8..16].copy_from_slice(&self.start_time.to_ne_bytes());
        b[16..24].copy_from_slice(&self.vruntime.to_ne_bytes());
        b[24..32].copy_from_slice(&self.charged.to_ne_bytes());
        b[32..40].copy_from_slice(&self.slice_ns.to_ne_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn enqueued_round_trips_and_checks_size() {
        let t = EnqueuedTask {
            pid: 4_194_000,
            weight: 33,
            start_time: 7,
            sum_exec_runtime: 123_456_789,
            vruntime: 99,
            charged: 100_000,
            flags: ENQUEUED_WAKEUP,
        };
        assert_eq!(EnqueuedTask::decode(&t.encode()), Some(t));
        assert_eq!(EnqueuedTask::decode(&t.encode()[..47]), None);
    }

    #[test]
    fn dispatched_layout_matches_intf_h() {
        let mut b = [0xffu8; DispatchedTask::SIZE];
        DispatchedTask {
            pid: -2,
            start_time: 3,
            vruntime: 4,
            charged: 5,
            slice_ns: 6,
        }
        .encode_into(&mut b);
        assert_eq!(u32_at(&b, 0) as i32, -2);
        assert_eq!(u32_at(&b, 4), 0);
        assert_eq!(
            (
                u64_at(&b, 8),
                u64_at(&b, 16),
                u64_at(&b, 24),
                u64_at(&b, 32)
            ),
            (3, 4, 5, 6)
        );
    }
}
