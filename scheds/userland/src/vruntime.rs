//! The policy: a weighted vruntime queue, pure logic with no kernel in sight.
//!
//! - **Charging.** A task's vruntime grows by the time it ran since its last charge,
//!   scaled by 100/weight (weight 100 at nice 0): heavier tasks age more slowly.
//! - **Clamping.** A sleeper (a task that woke up, or a new one) is never queued
//!   below the current minimum vruntime, the clock the CPUs have reached (the BPF
//!   side reports the vruntime of each task it starts; [`VruntimeQueue::advance_clock`]).
//!   It keeps its vruntime if that is ahead, but sleeping earns no credit to spend
//!   later at everyone else's expense. A task that was merely preempted or used up
//!   its slice keeps its vruntime even below the clock: it has been waiting, and the
//!   clock (the highest vruntime started so far) may have run ahead of it.
//! - **Debt.** A task is never queued more than [`MAX_LAG_NS`] (ten nice-0 slices)
//!   above the clock, however much it ran. Without that, a nice-19 task (weight 1)
//!   owes 100 times what it ran, and all of its run time counts, including time spent
//!   under another policy (stress-ng's schedpolicy stressor switches to SCHED_FIFO
//!   and back): behind 63 busy nice-0 tasks it waited 33.7 s in the soak and the
//!   kernel ejected the scheduler. With the cap, weights are exact down to weight
//!   10 (nice 10), and a busier lower-weight task gets at most about the share of
//!   weight 10.
//! - **Ordering.** Tasks leave in vruntime order, FIFO among equals, in batches.
//! - **Slices.** A task gets a slice proportional to its weight (20 ms at nice 0 and
//!   above, at least 1 ms). With full slices for everyone, a CPU-bound task that
//!   should get most of a CPU could not: when its slice ends the kernel picks its
//!   successor *before* the task is back in the queue, so it never runs twice in a
//!   row, and weighted shares flatten toward round robin (the kernel's C scx_userland
//!   gives equal shares whatever the nice level). With weighted slices each pass over
//!   the queue already hands out CPU time in the ratio of the weights, and the
//!   vruntime order corrects the rest.
//!
//! Data structures: a binary heap of `(vruntime, seq, pid)` and a map from pid to the
//! queued entry. Both grow to the largest number of tasks queued at once and are then
//! reused, so the steady state allocates nothing: the scheduler thread takes no page
//! faults and no mmap lock while it holds tasks. The memory follows the number of
//! runnable tasks, never pid_max. A task queued again before it was dispatched (the
//! kernel dequeued and re-enqueued it) replaces its entry; the heap entry it leaves
//! behind is skipped by its stale `seq`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::intf::{DispatchedTask, EnqueuedTask, ENQUEUED_WAKEUP};

/// Weight of a nice-0 task in `p->scx.weight` units.
const WEIGHT_NICE0: u32 = 100;
/// The slice of a task of nice-0 weight or more (SCX_SLICE_DFL).
pub const SLICE_NS: u64 = 20_000_000;
/// The shortest slice handed out, whatever the weight.
pub const MIN_SLICE_NS: u64 = 1_000_000;

/// The most vruntime a task may owe (how far above the clock it may be queued) and
/// keep as credit when it did not sleep (how far below), in slices.
pub const MAX_LAG_SLICES: u64 = 10;
/// [`MAX_LAG_SLICES`] at the full slice: the lag while the queue is short.
#[cfg(test)]
pub const MAX_LAG_NS: u64 = MAX_LAG_SLICES * SLICE_NS;

/// Room reserved up front, so that ordinary loads never grow the tables.
const INITIAL_CAPACITY: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct Entry {
    start_time: u64,
    vruntime: u64,
    charged: u64,
    slice_ns: u64,
    seq: u64,
    /// slice_ns is final (put back after a pop), not to be scaled again.
    final_slice: bool,
}

#[derive(Debug)]
pub struct VruntimeQueue {
    heap: BinaryHeap<Reverse<(u64, u64, i32)>>,
    tasks: HashMap<i32, Entry>,
    /// The current minimum vruntime: never decreases.
    min_vruntime: u64,
    seq: u64,
    /// CPUs the queued tasks share: the slice is SLICE_NS * cpus / queued.
    cpus: u64,
}

impl Default for VruntimeQueue {
    fn default() -> Self {
        Self::with_capacity(INITIAL_CAPACITY)
    }
}

/// `ran` nanoseconds of run time in vruntime units for `weight`.
pub fn scaled(ran: u64, weight: u32) -> u64 {
    let v = u128::from(ran) * u128::from(WEIGHT_NICE0) / u128::from(weight.max(1));
    u64::try_from(v).unwrap_or(u64::MAX)
}

/// The slice for a task of `weight`: proportional below nice 0, capped above.
pub fn slice_for(weight: u32) -> u64 {
    (SLICE_NS * u64::from(weight.min(WEIGHT_NICE0)) / u64::from(WEIGHT_NICE0)).max(MIN_SLICE_NS)
}

impl VruntimeQueue {
    pub fn with_capacity(n: usize) -> Self {
        Self {
            heap: BinaryHeap::with_capacity(n),
            tasks: HashMap::with_capacity(n),
            min_vruntime: 0,
            seq: 0,
            cpus: 1,
        }
    }

    /// Sets the number of CPUs the queue's tasks share (at least 1).
    pub fn set_cpus(&mut self, cpus: usize) {
        self.cpus = (cpus as u64).max(1);
    }

    /// The nice-0 slice for the queue as it is now: SLICE_NS shared by the queued
    /// tasks over the CPUs, never below MIN_SLICE_NS (see the starvation bound in
    /// src/bpf/main.bpf.c).
    pub fn base_slice(&self) -> u64 {
        let n = self.tasks.len() as u64;
        if n <= self.cpus {
            return SLICE_NS;
        }
        (SLICE_NS * self.cpus / n).max(MIN_SLICE_NS)
    }

    /// Tasks queued (each counted once).
    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    #[cfg(test)]
    pub fn min_vruntime(&self) -> u64 {
        self.min_vruntime
    }

    /// The CPUs have started a task of vruntime `v`: the minimum moves up to it.
    pub fn advance_clock(&mut self, v: u64) {
        self.min_vruntime = self.min_vruntime.max(v);
    }

    /// Charges `t` for the time it ran since its last charge and queues it. Returns
    /// the vruntime it was queued with.
    pub fn enqueue(&mut self, t: &EnqueuedTask) -> u64 {
        // Already queued (re-enqueued by the kernel): our entry is newer than what
        // the kernel stored, unless the pid now belongs to another task.
        let (base_vruntime, base_charged) = match self.tasks.get(&t.pid) {
            Some(e) if e.start_time == t.start_time => (e.vruntime, e.charged),
            _ => (t.vruntime, t.charged),
        };
        let ran = t.sum_exec_runtime.saturating_sub(base_charged);
        let mut vruntime = base_vruntime.saturating_add(scaled(ran, t.weight));
        // A new task has no vruntime yet (0): it starts at the clock like a sleeper.
        // Lag is clamped both ways, in slices of the queue as it is now.
        let lag = MAX_LAG_SLICES * self.base_slice();
        if t.flags & ENQUEUED_WAKEUP != 0 || base_vruntime == 0 {
            vruntime = vruntime.max(self.min_vruntime);
        } else {
            vruntime = vruntime.max(self.min_vruntime.saturating_sub(lag));
        }
        vruntime = vruntime.min(self.min_vruntime.saturating_add(lag));
        let entry = Entry {
            start_time: t.start_time,
            vruntime,
            charged: base_charged.max(t.sum_exec_runtime),
            slice_ns: slice_for(t.weight),
            seq: 0,
            final_slice: false,
        };
        self.insert(t.pid, entry);
        vruntime
    }

    fn insert(&mut self, pid: i32, mut entry: Entry) {
        self.seq += 1;
        entry.seq = self.seq;
        self.tasks.insert(pid, entry);
        self.heap.push(Reverse((entry.vruntime, entry.seq, pid)));
    }

    /// The task with the lowest vruntime, removed from the queue, with its slice:
    /// its weight's slice scaled down as the queue grows, at least MIN_SLICE_NS.
    pub fn pop(&mut self) -> Option<DispatchedTask> {
        let base = self.base_slice();
        while let Some(Reverse((vruntime, seq, pid))) = self.heap.pop() {
            match self.tasks.get(&pid) {
                Some(e) if e.seq == seq => {}
                _ => continue, // replaced by a later enqueue of the same pid
            }
            let e = self.tasks.remove(&pid)?;
            return Some(DispatchedTask {
                pid,
                start_time: e.start_time,
                vruntime,
                charged: e.charged,
                slice_ns: if e.final_slice {
                    e.slice_ns
                } else {
                    (e.slice_ns * base / SLICE_NS).max(MIN_SLICE_NS)
                },
            });
        }
        None
    }

    /// Puts back a task [`pop`](Self::pop) returned that could not be sent, as it
    /// was: not charged again.
    pub fn push_back(&mut self, d: &DispatchedTask) {
        let entry = Entry {
            start_time: d.start_time,
            vruntime: d.vruntime,
            charged: d.charged,
            slice_ns: d.slice_ns,
            seq: 0,
            final_slice: true,
        };
        self.insert(d.pid, entry);
    }

    /// Up to `n` tasks in vruntime order: one batch. (The thread pops one at a time,
    /// as room in the ring allows; this is the same thing for tests.)
    #[cfg(test)]
    pub fn next_batch(&mut self, n: usize) -> Vec<DispatchedTask> {
        std::iter::from_fn(|| self.pop()).take(n).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn task(pid: i32, weight: u32, sum: u64) -> EnqueuedTask {
        EnqueuedTask {
            pid,
            weight,
            start_time: 1000 + pid as u64,
            sum_exec_runtime: sum,
            vruntime: 0,
            charged: 0,
            flags: 0,
        }
    }

    /// What the BPF side stores for `d` and sends back at the task's next enqueue.
    fn returns(d: &DispatchedTask, weight: u32, sum: u64) -> EnqueuedTask {
        EnqueuedTask {
            pid: d.pid,
            weight,
            start_time: d.start_time,
            sum_exec_runtime: sum,
            vruntime: d.vruntime,
            charged: d.charged,
            flags: 0,
        }
    }

    #[test]
    fn charging_scales_by_100_over_weight() {
        assert_eq!(scaled(20_000_000, 100), 20_000_000);
        assert_eq!(scaled(20_000_000, 200), 10_000_000);
        assert_eq!(scaled(20_000_000, 33), 60_606_060);
        assert_eq!(scaled(1, 10_000), 0);
        assert_eq!(
            scaled(u64::MAX, 1),
            u64::MAX,
            "saturates instead of wrapping"
        );
        assert_eq!(scaled(10, 0), 1000, "weight 0 is treated as 1");

        let mut q = VruntimeQueue::default();
        let mut t = task(1, 50, 3_000_000);
        t.vruntime = 1_000;
        t.charged = 1_000_000;
        // 2 ms ran since the last charge, at half the nice-0 weight: 4 ms of vruntime.
        assert_eq!(q.enqueue(&t), 1_000 + 4_000_000);
        assert_eq!(q.pop().unwrap().charged, 3_000_000);
    }

    #[test]
    fn debt_is_capped_at_ten_slices_above_the_clock() {
        let mut q = VruntimeQueue::default();
        q.advance_clock(1_000_000_000);
        // Weight 1 and 50 ms ran (say, mostly under SCHED_FIFO): 5 s owed, capped.
        let mut t = task(3, 1, 50_000_000);
        t.vruntime = 1_000_000_000;
        assert_eq!(q.enqueue(&t), 1_000_000_000 + MAX_LAG_NS);
        // Weight 10 and one 20 ms slice owes exactly the cap: unchanged.
        let mut t = task(4, 10, 20_000_000);
        t.vruntime = 1_000_000_000;
        assert_eq!(q.enqueue(&t), 1_000_000_000 + 200_000_000);
        assert_eq!(MAX_LAG_NS, 200_000_000);
        // A task within the cap is charged as before.
        let mut t = task(5, 100, 1_000_000);
        t.vruntime = 1_050_000_000;
        assert_eq!(q.enqueue(&t), 1_051_000_000);
    }

    #[test]
    fn slices_follow_the_weight_below_nice_0() {
        assert_eq!(slice_for(100), SLICE_NS);
        assert_eq!(slice_for(10_000), SLICE_NS, "capped at nice 0's");
        assert_eq!(slice_for(33), 6_600_000);
        assert_eq!(slice_for(11), 2_200_000);
        assert_eq!(slice_for(1), MIN_SLICE_NS);
    }

    #[test]
    fn first_sight_charges_nothing_from_before() {
        // init_task stores charged = the run time the task had when we met it.
        let mut q = VruntimeQueue::default();
        let mut t = task(7, 100, 50_000_000_000);
        t.charged = 50_000_000_000;
        assert_eq!(q.enqueue(&t), 0);
    }

    #[test]
    fn sleepers_are_clamped_to_min_vruntime() {
        let mut q = VruntimeQueue::default();
        q.advance_clock(500_000_000);
        assert_eq!(q.min_vruntime(), 500_000_000);

        // A task that slept with a low vruntime comes back at the minimum, no lower.
        let mut sleeper = task(2, 100, 1_000_000);
        sleeper.vruntime = 10;
        sleeper.charged = 1_000_000;
        sleeper.flags = ENQUEUED_WAKEUP;
        assert_eq!(q.enqueue(&sleeper), 500_000_000);

        // One ahead of the minimum keeps its place.
        let mut ahead = task(3, 100, 0);
        ahead.vruntime = 700_000_000;
        ahead.flags = ENQUEUED_WAKEUP;
        assert_eq!(q.enqueue(&ahead), 700_000_000);

        // A brand-new task starts at the minimum.
        assert_eq!(q.enqueue(&task(4, 100, 0)), 500_000_000);

        // A task preempted or at the end of its slice was not sleeping: it keeps
        // its lead over the clock, up to MAX_LAG_SLICES of the current slice (3
        // tasks queued on 1 CPU: 20 ms / 3).
        let mut waited = task(5, 100, 3_000_000);
        waited.vruntime = 460_000_000;
        waited.charged = 1_000_000;
        assert_eq!(q.enqueue(&waited), 462_000_000);
        // Beyond that it is clamped (4 queued now: 10 slices of 5 ms).
        let mut far = task(6, 100, 0);
        far.vruntime = 10;
        assert_eq!(q.enqueue(&far), 450_000_000);
    }

    #[test]
    fn min_vruntime_never_decreases() {
        let mut q = VruntimeQueue::default();
        q.advance_clock(100);
        q.advance_clock(50);
        assert_eq!(q.min_vruntime(), 100);
        let mut b = task(2, 100, 0);
        b.vruntime = 50;
        b.flags = ENQUEUED_WAKEUP;
        assert_eq!(q.enqueue(&b), 100);
    }

    #[test]
    fn hands_out_in_vruntime_order_fifo_among_equals() {
        let mut q = VruntimeQueue::default();
        for (pid, v) in [(1, 30), (2, 10), (3, 20), (4, 10), (5, 0)] {
            let mut t = task(pid, 100, 0);
            t.vruntime = v;
            q.enqueue(&t);
        }
        let order: Vec<i32> = std::iter::from_fn(|| q.pop()).map(|d| d.pid).collect();
        assert_eq!(order, [5, 2, 4, 3, 1]);
        assert!(q.pop().is_none());
    }

    #[test]
    fn batches_are_at_most_n_and_in_order() {
        let mut q = VruntimeQueue::default();
        for pid in 0..20 {
            let mut t = task(pid, 100, 0);
            t.vruntime = 1000 - pid as u64;
            q.enqueue(&t);
        }
        let b1 = q.next_batch(8);
        assert_eq!(b1.len(), 8);
        assert!(b1.windows(2).all(|w| w[0].vruntime <= w[1].vruntime));
        assert_eq!(b1[0].pid, 19);
        let b2 = q.next_batch(8);
        assert!(b1.last().unwrap().vruntime <= b2[0].vruntime);
        assert_eq!(q.next_batch(8).len(), 4);
        assert!(q.next_batch(8).is_empty());
        assert_eq!(q.len(), 0);
    }

    #[test]
    fn a_requeued_task_replaces_its_entry() {
        let mut q = VruntimeQueue::default();
        let mut t = task(1, 100, 10_000_000);
        t.charged = 10_000_000;
        q.enqueue(&t);
        // Dequeued and enqueued again by the kernel before we dispatched it: the
        // kernel still has the old stored values, we have the newer ones.
        let mut again = t;
        again.sum_exec_runtime = 12_000_000;
        assert_eq!(q.enqueue(&again), 2_000_000);
        assert_eq!(q.len(), 1);
        let d = q.pop().unwrap();
        assert_eq!((d.vruntime, d.charged), (2_000_000, 12_000_000));
        assert!(q.pop().is_none(), "the stale heap entry is skipped");
    }

    #[test]
    fn push_back_restores_without_charging() {
        let mut q = VruntimeQueue::default();
        let mut t = task(1, 33, 5_000_000);
        t.vruntime = 40;
        t.charged = 5_000_000;
        q.enqueue(&t);
        let mut other = task(2, 100, 0);
        other.vruntime = 60;
        q.enqueue(&other);
        let d = q.pop().unwrap();
        q.push_back(&d);
        assert_eq!(q.len(), 2);
        assert_eq!(q.pop(), Some(d));
        assert_eq!(q.pop().unwrap().pid, 2);
    }

    #[test]
    fn a_reused_pid_is_a_new_task() {
        let mut q = VruntimeQueue::default();
        let mut old = task(1, 100, 0);
        old.vruntime = 900;
        q.enqueue(&old);
        let mut new = old;
        new.start_time += 1;
        new.vruntime = 0;
        assert_eq!(q.enqueue(&new), 0, "not the old task's vruntime");
        assert_eq!(q.pop().unwrap().start_time, new.start_time);
    }

    /// CPU-bound tasks at nice 0, 5 and 10 (scx weights 100, 33, 11) on `ncpu` CPUs,
    /// `per_level` of each, as the kernel runs them: when a slice ends, the CPU's
    /// next task is picked before the task that ran is back in the queue. Returns
    /// each level's share of the CPU time over its target share.
    fn shares_over_targets(ncpu: usize, per_level: usize) -> [f64; 3] {
        let weights = [100u32, 33, 11];
        let mut q = VruntimeQueue::default();
        let mut ran = vec![0u64; 3 * per_level];
        let weight = |pid: usize| weights[pid / per_level];
        for pid in 0..ran.len() {
            q.enqueue(&task(pid as i32, weight(pid), 0));
        }
        // (time the slice ends, cpu, task)
        let mut running: Vec<(u64, usize, DispatchedTask)> = Vec::new();
        for cpu in 0..ncpu {
            let d = q.pop().unwrap();
            q.advance_clock(d.vruntime);
            running.push((d.slice_ns, cpu, d));
        }
        for _ in 0..20_000 {
            running.sort_by_key(|r| Reverse(r.0));
            let (now, cpu, prev) = running.pop().unwrap();
            let next = q.pop().unwrap();
            q.advance_clock(next.vruntime);
            running.push((now + next.slice_ns, cpu, next));
            let pid = prev.pid as usize;
            ran[pid] += prev.slice_ns;
            q.enqueue(&returns(&prev, weight(pid), ran[pid]));
        }
        let total: u64 = ran.iter().sum();
        let wsum: u32 = weights.iter().sum();
        let mut out = [0.0; 3];
        for (lvl, w) in weights.iter().enumerate() {
            let got: u64 = ran[lvl * per_level..(lvl + 1) * per_level].iter().sum();
            out[lvl] = (got as f64 / total as f64) / (f64::from(*w) / f64::from(wsum));
        }
        out
    }

    #[test]
    fn weights_give_proportional_service() {
        for (ncpu, per_level) in [(1, 1), (2, 2), (4, 4)] {
            let r = shares_over_targets(ncpu, per_level);
            for (lvl, x) in r.iter().enumerate() {
                assert!(
                    (x - 1.0).abs() < 0.05,
                    "{ncpu} CPUs, level {lvl}: {x:.3} of its target ({r:?})"
                );
            }
        }
    }

    #[test]
    fn steady_state_does_not_grow_the_tables() {
        let mut q = VruntimeQueue::with_capacity(64);
        let cap = (q.heap.capacity(), q.tasks.capacity());
        for round in 0..1000u64 {
            for pid in 0..32 {
                q.enqueue(&task(pid, 100, round));
            }
            while q.pop().is_some() {}
        }
        assert_eq!((q.heap.capacity(), q.tasks.capacity()), cap);
    }
}
