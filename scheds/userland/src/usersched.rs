//! The user-space scheduler thread: reads tasks from the `enqueued` ring buffer,
//! orders them with [`VruntimeQueue`], and writes them back to the `dispatched` user
//! ring buffer, at most `batch` ahead of what the CPUs have consumed.
//!
//! It owns everything it touches (duplicated map and program fds, its own mapping
//! of `.bss`), so it borrows nothing from the skeleton; [`UserSched`] stops and
//! joins it when dropped, which `Scheduler` does before the skeleton goes away.

use std::cell::{Cell, RefCell};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use libbpf_rs::{MapHandle, RingBufferBuilder, UserRingBuffer};

use crate::intf::{DispatchedTask, EnqueuedTask, ENQUEUED_KICK};
use crate::sys::{self, Epoll, EventFd, SharedMap};
use crate::vruntime::VruntimeQueue;

/// How long the thread sleeps at most when idle (a safety net; wakeups are events).
const IDLE_WAIT: Duration = Duration::from_millis(100);
/// How long `start` waits for the thread to register with the BPF side.
const START_TIMEOUT: Duration = Duration::from_secs(10);
/// The scheduler thread's stack: it is locked in RAM like everything else.
const STACK_SIZE: usize = 256 * 1024;

/// Byte offsets of the BPF globals the thread uses, inside `.bss`.
#[derive(Clone, Copy, Debug)]
pub struct BssLayout {
    pub nr_sent: usize,
    pub nr_drained: usize,
    pub vtime_now: usize,
    pub kick_pending: usize,
}

/// Counters kept by the thread, read by the stats report.
#[derive(Debug, Default)]
pub struct Counters {
    /// Tasks received from the kernel (`nr_vruntime_enqueues` in the C version).
    pub vruntime_enqueues: AtomicU64,
    /// Tasks sent back in vruntime order: the scheduling decisions.
    pub vruntime_dispatches: AtomicU64,
    /// Sends that found the dispatched ring full (retried later).
    pub vruntime_failed: AtomicU64,
    /// Tasks waiting in the queue right now.
    pub queued: AtomicU64,
}

/// What the thread needs, all owned.
pub struct Channels {
    pub enqueued: MapHandle,
    pub dispatched: MapHandle,
    pub bss: Arc<SharedMap>,
    pub layout: BssLayout,
    pub register_prog: OwnedFd,
    pub failed_prog: OwnedFd,
    pub batch: u32,
    /// `-p`: leave the thread under the default scheduler (see `run`).
    pub partial: bool,
}

/// The running thread; dropping this stops and joins it.
pub struct UserSched {
    handle: Option<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
    wake: Arc<EventFd>,
    pub counters: Arc<Counters>,
}

impl UserSched {
    /// Spawns the thread and waits until it has registered itself with the BPF side
    /// (before that the scheduler must not be attached: it would not know the thread
    /// and would queue it behind the tasks it is to dispatch).
    pub fn start(ch: Channels) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let wake = Arc::new(EventFd::new()?);
        let counters = Arc::new(Counters::default());
        let (ready_tx, ready_rx) = mpsc::channel();

        let (t_stop, t_wake, t_counters) = (stop.clone(), wake.clone(), counters.clone());
        let handle = std::thread::Builder::new()
            .name("scx_userland".into())
            .stack_size(STACK_SIZE)
            .spawn(move || thread_main(ch, &t_stop, &t_wake, &t_counters, ready_tx))
            .context("failed to spawn the scheduler thread")?;
        let mut me = Self {
            handle: Some(handle),
            stop,
            wake,
            counters,
        };

        match ready_rx.recv_timeout(START_TIMEOUT) {
            Ok(Ok(())) => Ok(me),
            Ok(Err(e)) => {
                me.stop();
                Err(e)
            }
            Err(_) => {
                me.stop();
                bail!("the scheduler thread did not start within {START_TIMEOUT:?}")
            }
        }
    }

    /// Stops the thread and waits for it; idempotent.
    pub fn stop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        self.wake.signal();
        if let Some(h) = self.handle.take() {
            if h.join().is_err() {
                log::error!("the scheduler thread panicked");
            }
        }
    }
}

impl Drop for UserSched {
    fn drop(&mut self) {
        self.stop();
    }
}

fn thread_main(
    ch: Channels,
    stop: &AtomicBool,
    wake: &EventFd,
    counters: &Counters,
    ready: mpsc::Sender<Result<()>>,
) {
    let failed_prog = match ch.failed_prog.try_clone() {
        Ok(fd) => fd,
        Err(e) => {
            let _ = ready.send(Err(anyhow!(e).context("failed to duplicate a program fd")));
            return;
        }
    };
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        run(ch, stop, wake, counters, &ready)
    }));
    let err = match result {
        Ok(Ok(())) => return,
        Ok(Err(e)) => e,
        Err(_) => anyhow!("the scheduler thread panicked"),
    };
    // Before ready was sent, start() reports the error; after, the BPF side must
    // learn that nobody will dispatch the tasks it handed over.
    if ready.send(Err(anyhow!("{err:#}"))).is_err() && !stop.load(Ordering::Relaxed) {
        log::error!("user-space scheduler: {err:#}");
        if let Err(e) = sys::run_syscall_prog(failed_prog.as_fd()) {
            log::error!("{e:#}");
        }
    }
}

/// The scheduling loop.
fn run(
    ch: Channels,
    stop: &AtomicBool,
    wake: &EventFd,
    counters: &Counters,
    ready: &mpsc::Sender<Result<()>>,
) -> Result<()> {
    // Who we are, in the kernel's own ids (see register_usersched()).
    sys::run_syscall_prog(ch.register_prog.as_fd())
        .context("failed to register the scheduler thread")?;

    // Under SCHED_EXT this thread is ours to serve first. With -p (only SCHED_EXT
    // tasks are ours) it stays with the default scheduler, which runs above
    // sched_ext, and is merely niced up.
    if ch.partial {
        if let Err(e) = sys::nice_current_thread(-20) {
            log::warn!("{e:#}");
        }
    } else {
        sys::set_current_thread_sched_ext()?;
    }

    let nr_sent = ch.bss.u64_at(ch.layout.nr_sent)?;
    let nr_drained = ch.bss.u64_at(ch.layout.nr_drained)?;
    let vtime_now = ch.bss.u64_at(ch.layout.vtime_now)?;
    let kick_pending = ch.bss.u64_at(ch.layout.kick_pending)?;

    let queue = Rc::new(RefCell::new(VruntimeQueue::default()));
    queue
        .borrow_mut()
        .set_cpus(std::thread::available_parallelism().map_or(1, |n| n.get()));
    let bad_record = Rc::new(Cell::new(None::<usize>));
    let nr_tasks = Rc::new(Cell::new(0u64));
    let mut builder = RingBufferBuilder::new();
    {
        let (q, bad, n) = (queue.clone(), bad_record.clone(), nr_tasks.clone());
        builder
            .add(
                &ch.enqueued,
                move |data: &[u8]| match EnqueuedTask::decode(data) {
                    Some(t) if t.flags & ENQUEUED_KICK != 0 => 0,
                    Some(t) => {
                        q.borrow_mut().enqueue(&t);
                        n.set(n.get() + 1);
                        0
                    }
                    None => {
                        bad.set(Some(data.len()));
                        -1
                    }
                },
            )
            .context("failed to attach to the enqueued ring buffer")?;
    }
    let ringbuf = builder
        .build()
        .context("failed to set up the enqueued ring buffer")?;
    let urb = UserRingBuffer::new(&ch.dispatched)
        .context("failed to set up the dispatched user ring buffer")?;

    // Woken by: records to read; a stop request; and, only while tasks wait for
    // credit, BPF draining what we sent. That one is edge-triggered ("there is
    // room" is nearly always true; every drain signals a change) and disarmed
    // otherwise, so that drains do not wake the thread for nothing.
    let epoll = Epoll::new()?;
    let dispatched_fd = ch.dispatched.as_fd().as_raw_fd();
    epoll.add(
        ch.enqueued.as_fd().as_raw_fd(),
        libc::EPOLLIN as u32,
        "the enqueued ring buffer",
    )?;
    epoll.add(dispatched_fd, 0, "the dispatched ring buffer")?;
    epoll.add(wake.fd(), libc::EPOLLIN as u32, "the stop eventfd")?;
    let mut drain_armed = false;

    let _ = ready.send(Ok(()));

    let batch = u64::from(ch.batch);
    let mut sent: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        // Running now: the BPF side may ask again from here on.
        kick_pending.store(0, Ordering::Release);
        // The vruntime the CPUs have reached: sleepers are clamped to it.
        queue
            .borrow_mut()
            .advance_clock(vtime_now.load(Ordering::Relaxed));
        let received = ringbuf.consume_raw();
        if received < 0 {
            if let Some(len) = bad_record.get() {
                bail!(
                    "a record of {len} bytes in the enqueued ring buffer, expected {}",
                    EnqueuedTask::SIZE
                );
            }
            bail!("failed to read the enqueued ring buffer: error {received}");
        }
        counters
            .vruntime_enqueues
            .fetch_add(nr_tasks.replace(0), Ordering::Relaxed);

        // Send while the kernel has consumed enough of what we sent before.
        let in_flight = sent.saturating_sub(nr_drained.load(Ordering::Acquire));
        let credit = batch.saturating_sub(in_flight);
        let mut q = queue.borrow_mut();
        let mut nr = 0;
        while nr < credit {
            let Some(t) = q.pop() else { break };
            let Ok(mut sample) = urb.reserve(DispatchedTask::SIZE) else {
                // Cannot happen while batch fits the ring; keep the task for later.
                q.push_back(&t);
                counters.vruntime_failed.fetch_add(1, Ordering::Relaxed);
                break;
            };
            t.encode_into(&mut sample);
            urb.submit(sample)
                .context("failed to submit to the dispatched ring buffer")?;
            nr += 1;
        }
        if nr > 0 {
            sent += nr;
            nr_sent.store(sent, Ordering::Release);
            counters
                .vruntime_dispatches
                .fetch_add(nr, Ordering::Relaxed);
        }
        let waiting = q.len();
        counters.queued.store(waiting as u64, Ordering::Relaxed);
        drop(q);

        // Re-arming reports "ready" at once when there is room, which costs one
        // more pass here, never a lost wakeup.
        let want_drain = waiting > 0;
        if want_drain != drain_armed {
            let events = if want_drain {
                (libc::EPOLLOUT | libc::EPOLLET) as u32
            } else {
                0
            };
            epoll.modify(dispatched_fd, events, "the dispatched ring buffer")?;
            drain_armed = want_drain;
        }

        if received == 0 && nr == 0 {
            epoll.wait(IDLE_WAIT)?;
        }
    }
    Ok(())
}
