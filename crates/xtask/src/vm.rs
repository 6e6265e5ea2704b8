//! The VM runner: boot a kernel with virtme-ng and run one command in it.
//!
//! - The host's root filesystem is shared read-only into the guest (vng's
//!   default; 9p, with tmpfs overlays). Host binaries run unchanged; writes only
//!   reach the host through `--rwdir` directories.
//! - The guest command runs as root (vng's default for `--exec`), and vng
//!   returns its exit status.
//! - QEMU runs under TCG unless a probe shows KVM really boots a kernel here.
//!   Functional runs add `-accel tcg,thread=single`: with multi-threaded TCG
//!   the guest sometimes oopses (`Oops: int3` in `__schedule`) when a sched_ext
//!   scheduler is enabled or disabled, because a vCPU thread hits a static-key
//!   live-patch breakpoint that is already gone.
//! - vng hands its own stdout/stderr to QEMU as file chardevs; redirecting it
//!   to a regular file truncates and interleaves the output, so both streams
//!   are always read through pipes (one thread each).
//! - vng runs in its own process group; a hard timeout or a Ctrl-C kills the
//!   whole group, QEMU included.
//!
//! Harmless noise a reader may see with `--verbose`: "Invalid ELF header magic"
//! while compressed modules load, "virtio-fs: tag <ROOTFS> not found" (we force
//! 9p, which is what vng falls back to anyway), clocksource watchdog messages
//! under TCG, and "Unknown kernel command line parameters" for vng's own ones.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::kernels::Kernel;
use crate::util;

/// Modules that udev would load for QEMU's q35 devices (SATA, CD-ROM, KVM in
/// the guest, watchdogs, cpufreq, input). None is needed to run a scheduler,
/// and under TCG loading them from 9p roughly doubles the boot time (measured
/// on 7.3.4 with 4 vCPUs: about 55 s without this list, 25 s with it).
const BOOT_MODULE_BLACKLIST: &[&str] = &[
    "kvm",
    "kvm_amd",
    "kvm_intel",
    "ccp",
    "ahci",
    "libahci",
    "libata",
    "sr_mod",
    "cdrom",
    "sg",
    "i2c_i801",
    "i2c_smbus",
    "iTCO_wdt",
    "intel_pmc_bxt",
    "lpc_ich",
    "i6300esb",
    "pcspkr",
    "psmouse",
    "serio_raw",
    "evdev",
    "joydev",
    "mousedev",
    "button",
    "qemu_fw_cfg",
    "aesni_intel",
    "ghash_clmulni_intel",
    "polyval_clmulni",
    "sha1_ssse3",
    "sha256_ssse3",
    "sha512_ssse3",
    "crc32_pclmul",
    "powernow_k8",
    "acpi_cpufreq",
    "pcc_cpufreq",
    "intel_rapl_msr",
    "intel_rapl_common",
    "amd64_edac",
    "edac_core",
];

/// Where a guest stream goes on the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sink {
    Stdout,
    Stderr,
    Null,
}

pub struct VmConfig {
    pub vmlinuz: PathBuf,
    pub cpus: u32,
    pub memory: String,
    pub timeout: Duration,
    /// Host directories the guest may write (created first).
    pub rwdirs: Vec<PathBuf>,
    /// `-accel tcg,thread=single` (ignored when KVM is used).
    pub single_thread_tcg: bool,
    /// Host (and guest) working directory; vng's default is ours.
    pub cwd: Option<PathBuf>,
    pub stdout: Sink,
    pub stderr: Sink,
    /// Also append both streams to this file.
    pub log: Option<PathBuf>,
    /// Keep both streams (console lines excepted) in memory and return them.
    pub capture: bool,
    /// Note when a line containing this text first appears (boot timing).
    pub marker: Option<String>,
    /// What to do with the guest kernel's console.
    pub console: Console,
}

/// The guest kernel console (vng `--verbose` sends it to vng's stderr).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Not requested (vng's default: the console goes nowhere).
    Off,
    /// Shown with the guest's stderr.
    Show,
    /// Requested but kept out of the live stream: only the log file gets it,
    /// so a guest oops or panic can be read afterwards.
    LogOnly,
}

impl VmConfig {
    pub fn new(kernel: &Kernel) -> VmConfig {
        VmConfig {
            vmlinuz: kernel.vmlinuz.clone(),
            cpus: 4,
            memory: "2G".to_string(),
            timeout: Duration::from_secs(600),
            rwdirs: Vec::new(),
            single_thread_tcg: true,
            cwd: None,
            stdout: Sink::Stderr,
            stderr: Sink::Stderr,
            log: None,
            capture: false,
            marker: None,
            console: Console::Off,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VmStatus {
    /// vng's exit code, which is the guest command's.
    Exited(i32),
    TimedOut,
    /// Interrupted or killed by a signal.
    Killed(String),
}

impl std::fmt::Display for VmStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VmStatus::Exited(rc) => write!(f, "exit status {rc}"),
            VmStatus::TimedOut => write!(f, "hard timeout"),
            VmStatus::Killed(why) => write!(f, "killed ({why})"),
        }
    }
}

pub struct VmOutput {
    pub status: VmStatus,
    pub elapsed: Duration,
    /// Both streams in arrival order, without console lines (when `capture`).
    pub captured: String,
    /// Time from spawning vng until the marker line appeared.
    pub marker_at: Option<Duration>,
    pub accel: &'static str,
}

/// The vng arguments for a run (without the program name).
pub fn vng_args(cfg: &VmConfig, kvm: bool, command: &[String]) -> Vec<String> {
    let mut a = vec![
        "--run".to_string(),
        cfg.vmlinuz.display().to_string(),
        // virtiofsd is rarely installed; vng probes it for seconds, then uses 9p.
        "--force-9p".to_string(),
        "--cpus".to_string(),
        cfg.cpus.to_string(),
        "--memory".to_string(),
        cfg.memory.clone(),
    ];
    if !kvm {
        a.push("--disable-kvm".to_string());
        if cfg.single_thread_tcg {
            a.push("--qemu-opts=-accel tcg,thread=single".to_string());
        }
    }
    a.push("--append".to_string());
    a.push(format!(
        "modprobe.blacklist={}",
        BOOT_MODULE_BLACKLIST.join(",")
    ));
    for d in &cfg.rwdirs {
        a.push(format!("--rwdir={}", d.display()));
    }
    if cfg.console != Console::Off {
        a.push("--verbose".to_string());
    }
    a.push("--exec".to_string());
    a.push(util::shell_join(command));
    a
}

/// Boot `cfg.vmlinuz` and run `command` (argv) in the guest.
/// With `SCX_VM_SLOTS=DIR:N` in the environment, every VM first takes one of N
/// lock files in DIR (`flock`), waiting for a free one, so that several
/// developers' or agents' runs on one host never boot more than N VMs at once.
/// A VM under TCG keeps a host core busy, and timing-sensitive checks fail when
/// VMs outnumber the cores. Unset: no limit.
fn acquire_slot() -> Result<Option<File>> {
    let Ok(spec) = std::env::var("SCX_VM_SLOTS") else {
        return Ok(None);
    };
    let (dir, n) = match spec.rsplit_once(':') {
        Some((d, n)) => (d.to_string(), n.parse::<usize>().ok()),
        None => (spec.clone(), Some(1)),
    };
    let Some(n) = n.filter(|n| *n > 0) else {
        bail!("SCX_VM_SLOTS must be DIR:N with N at least 1, not `{spec}`");
    };
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {dir}"))?;
    let mut said = false;
    loop {
        for i in 0..n {
            let path = Path::new(&dir).join(format!("slot{i}"));
            let f = File::create(&path)
                .with_context(|| format!("failed to create {}", path.display()))?;
            // SAFETY: flock on a file descriptor we own.
            if unsafe { libc::flock(f.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } == 0 {
                return Ok(Some(f));
            }
        }
        if !said {
            eprintln!("xtask: waiting for a VM slot in {dir} ({n} at a time)");
            said = true;
        }
        if util::interrupted() {
            bail!("interrupted");
        }
        thread::sleep(Duration::from_secs(2));
    }
}

pub fn run(cfg: &VmConfig, command: &[String]) -> Result<VmOutput> {
    if command.is_empty() {
        bail!("no command given to run in the VM");
    }
    if !util::on_path("vng") {
        bail!("vng (virtme-ng) is not on PATH; run `cargo xtask setup`");
    }
    util::install_interrupt_handler();
    for d in &cfg.rwdirs {
        fs::create_dir_all(d)
            .with_context(|| format!("failed to create --rwdir {}", d.display()))?;
    }
    // Held until this function returns: the VM's share of the host.
    let _slot = acquire_slot()?;
    let kvm = kvm_usable(&cfg.vmlinuz);
    let accel = match (kvm, cfg.single_thread_tcg) {
        (true, _) => "kvm",
        (false, true) => "tcg (thread=single)",
        (false, false) => "tcg (multi-threaded)",
    };
    let mut cmd = Command::new("vng");
    cmd.args(vng_args(cfg, kvm, command))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    if let Some(cwd) = &cfg.cwd {
        cmd.current_dir(cwd);
    }
    let log = match &cfg.log {
        Some(p) => Some(Arc::new(Mutex::new(
            File::create(p).with_context(|| format!("failed to create {}", p.display()))?,
        ))),
        None => None,
    };
    let start = Instant::now();
    let mut child = cmd.spawn().context("failed to start vng")?;
    let pgid = child.id();
    let marker_at: Arc<Mutex<Option<Duration>>> = Arc::new(Mutex::new(None));
    let captured: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));

    let mut readers = Vec::new();
    let streams: [(Box<dyn std::io::Read + Send>, Sink); 2] = [
        (
            Box::new(child.stdout.take().context("vng stdout pipe missing")?),
            cfg.stdout,
        ),
        (
            Box::new(child.stderr.take().context("vng stderr pipe missing")?),
            cfg.stderr,
        ),
    ];
    for (pipe, sink) in streams {
        let log = log.clone();
        let marker = cfg.marker.clone();
        let marker_at = Arc::clone(&marker_at);
        let capture = cfg.capture.then(|| Arc::clone(&captured));
        let hide_console = cfg.console == Console::LogOnly;
        readers.push(thread::spawn(move || {
            let mut rd = BufReader::new(pipe);
            let mut line = Vec::new();
            loop {
                line.clear();
                match rd.read_until(b'\n', &mut line) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let console = is_console_line(&line);
                let shown = if hide_console && console {
                    Sink::Null
                } else {
                    sink
                };
                match shown {
                    Sink::Stdout => {
                        let mut o = std::io::stdout().lock();
                        let _ = o.write_all(&line);
                        let _ = o.flush();
                    }
                    Sink::Stderr => {
                        let _ = std::io::stderr().lock().write_all(&line);
                    }
                    Sink::Null => {}
                }
                if let Some(l) = &log {
                    if let Ok(mut f) = l.lock() {
                        let _ = f.write_all(&line);
                    }
                }
                if let Some(m) = &marker {
                    if String::from_utf8_lossy(&line).contains(m.as_str()) {
                        if let Ok(mut at) = marker_at.lock() {
                            at.get_or_insert_with(|| start.elapsed());
                        }
                    }
                }
                if let Some(c) = capture.as_ref().filter(|_| !console) {
                    if let Ok(mut c) = c.lock() {
                        c.extend_from_slice(&line);
                    }
                }
            }
        }));
    }

    let status = loop {
        if let Some(st) = child.try_wait().context("failed to wait for vng")? {
            break match st.code() {
                Some(rc) => VmStatus::Exited(rc),
                None => {
                    VmStatus::Killed(format!("vng died with status {}", util::status_code(&st)))
                }
            };
        }
        let why = if util::interrupted() {
            Some(VmStatus::Killed("interrupted".to_string()))
        } else if start.elapsed() >= cfg.timeout {
            Some(VmStatus::TimedOut)
        } else {
            None
        };
        if let Some(why) = why {
            util::kill_group(pgid, libc::SIGTERM);
            if util::wait_timeout(&mut child, Duration::from_secs(3))?.is_none() {
                util::kill_group(pgid, libc::SIGKILL);
                let _ = child.wait();
            }
            break why;
        }
        thread::sleep(Duration::from_millis(100));
    };
    // Nothing of this VM may outlive it (a stray QEMU would also hold our pipes open).
    util::kill_group(pgid, libc::SIGKILL);
    for r in readers {
        let _ = r.join();
    }
    let marker_at = marker_at.lock().ok().and_then(|m| *m);
    let captured = captured
        .lock()
        .map(|c| String::from_utf8_lossy(&c).into_owned())
        .unwrap_or_default();
    Ok(VmOutput {
        status,
        elapsed: start.elapsed(),
        captured,
        marker_at,
        accel,
    })
}

/// A kernel console line (`[   12.345678] ...`) or one of the few untimed
/// early-boot lines.
pub fn is_console_line(line: &[u8]) -> bool {
    let l = String::from_utf8_lossy(line);
    let t = l.trim_start();
    if let Some(rest) = t.strip_prefix('[') {
        if let Some((stamp, _)) = rest.split_once(']') {
            let stamp = stamp.trim();
            if !stamp.is_empty() && stamp.chars().all(|c| c.is_ascii_digit() || c == '.') {
                return true;
            }
        }
    }
    ["Probing EDD", "(edd=off"].iter().any(|p| t.starts_with(p)) || t.contains("KASLR using")
}

/// Whether to use KVM: `SCX_VM_ACCEL=kvm|tcg` decides, otherwise a probe that
/// boots the kernel directly under `-accel kvm` for up to 5 s and looks for
/// the "Linux version" banner. The answer is cached for the process.
pub fn kvm_usable(vmlinuz: &Path) -> bool {
    static ANSWER: OnceLock<bool> = OnceLock::new();
    *ANSWER.get_or_init(|| match std::env::var("SCX_VM_ACCEL").as_deref() {
        Ok("kvm") => true,
        Ok("tcg") => false,
        _ => probe_kvm(vmlinuz),
    })
}

fn probe_kvm(vmlinuz: &Path) -> bool {
    let Ok(dev) = std::ffi::CString::new("/dev/kvm") else {
        return false;
    };
    // SAFETY: access(2) reads a NUL-terminated path we own.
    if unsafe { libc::access(dev.as_ptr(), libc::R_OK | libc::W_OK) } != 0 {
        return false;
    }
    let spawned = Command::new("qemu-system-x86_64")
        .args([
            "-accel",
            "kvm",
            "-cpu",
            "host",
            "-m",
            "512M",
            "-smp",
            "1",
            "-nodefaults",
        ])
        .args([
            "-display",
            "none",
            "-no-reboot",
            "-serial",
            "stdio",
            "-kernel",
        ])
        .arg(vmlinuz)
        .args(["-append", "console=ttyS0 earlyprintk=serial,ttyS0 panic=-1"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let Ok(mut child) = spawned else { return false };
    let pgid = child.id();
    let (tx, rx) = mpsc::channel();
    if let Some(out) = child.stdout.take() {
        thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if line.contains("Linux version") {
                    let _ = tx.send(());
                    break;
                }
            }
        });
    }
    let ok = rx.recv_timeout(Duration::from_secs(5)).is_ok();
    util::kill_group(pgid, libc::SIGKILL);
    let _ = child.wait();
    ok
}

#[cfg(test)]
mod tests;
