//! The guest agent: `xtask guest --plan FILE`, run as root inside the VM.
//!
//! For each scheduler of the plan, in turn:
//! 1. the common smoke scenario (load, workload, SIGINT, clean detach, clean
//!    kernel log), see [`smoke`];
//! 2. the scheduler's own checks, `scheds/<name>/tests/vm/*.sh`, see [`run_check`].
//!
//! Fixtures (`expect_fail`) must fail the smoke scenario and print the kernel's
//! exit reason; that turns into the "harness self-check" row. Results are
//! rewritten to `results.json` after every check, so a guest crash still
//! leaves the earlier ones. Artifacts are kept only for failures.

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::plan::{
    CheckPlan, CheckResult, DemoSummary, GuestResults, Mode, Plan, SchedPlan, SchedResult, Status,
    RESULTS_FILE,
};
use crate::util;

/// Printed once the agent runs; the host times the boot by it.
pub const AGENT_MARKER: &str = "xtask-guest: agent started";

/// The VM settings every run of the agent shares: `dir` is the results directory
/// (writable in the guest, and its working directory), the guest console goes only
/// to `dir/vm.log`, and the boot is timed to the agent's first line. Callers set
/// vCPUs, memory, timeout and where the live output goes.
pub fn agent_vm(kernel: &crate::kernels::Kernel, dir: &Path) -> crate::vm::VmConfig {
    crate::vm::VmConfig {
        rwdirs: vec![dir.to_path_buf()],
        cwd: Some(dir.to_path_buf()),
        log: Some(dir.join("vm.log")),
        marker: Some(AGENT_MARKER.to_string()),
        console: crate::vm::Console::LogOnly,
        ..crate::vm::VmConfig::new(kernel)
    }
}

/// Copies the running xtask binary into `dir` and returns the copy, the agent the
/// guest runs: a rebuild during the run (cargo test may relink target/debug/xtask)
/// cannot change the agent under the guest.
pub fn stage_agent(dir: &Path) -> Result<PathBuf> {
    let exe = std::env::current_exe().context("failed to find the running xtask binary")?;
    fs::create_dir_all(dir).with_context(|| format!("failed to create {}", dir.display()))?;
    let dest = dir.join("xtask");
    let tmp = dir.join(format!(".xtask.{}", std::process::id()));
    fs::copy(&exe, &tmp)
        .with_context(|| format!("failed to copy {} to {}", exe.display(), tmp.display()))?;
    fs::rename(&tmp, &dest).with_context(|| format!("failed to install {}", dest.display()))?;
    Ok(dest)
}

/// The guest command line: `agent SUBCOMMAND --plan PLAN`.
pub fn agent_cmd(agent: &Path, subcommand: &str, plan: &Path) -> Vec<String> {
    vec![
        agent.display().to_string(),
        subcommand.to_string(),
        "--plan".to_string(),
        plan.display().to_string(),
    ]
}

pub(crate) const SCX_STATE: &str = "/sys/kernel/sched_ext/state";
const SCX_OPS: &str = "/sys/kernel/sched_ext/root/ops";
/// TCG is slow: loading and verifying a BPF scheduler can take many seconds.
const ENABLE_TIMEOUT: Duration = Duration::from_secs(30);
const STOP_TIMEOUT: Duration = Duration::from_secs(15);
/// Each fork+exec of /bin/true from the 9p root costs about 70 ms under TCG.
const FORKS: usize = 50;
/// Exit reasons the kernel reports for a scheduler that it kicked out.
const KERNEL_ERROR_REASONS: &[&str] = &["scx_bpf_error", "runtime error", "runnable task stall"];

#[derive(clap::Args)]
pub struct GuestArgs {
    /// The plan written by `xtask test` or `xtask demo`
    #[arg(long)]
    plan: PathBuf,
}

pub fn run(a: GuestArgs) -> Result<ExitCode> {
    let text = util::read_lossy(&a.plan)?;
    let plan: Plan = serde_json::from_str(&text).context("failed to parse the plan")?;
    let uptime = fs::read_to_string("/proc/uptime")
        .ok()
        .and_then(|u| u.split_whitespace().next().and_then(|x| x.parse().ok()))
        .unwrap_or(0.0);
    let uname = fs::read_to_string("/proc/sys/kernel/osrelease")
        .unwrap_or_default()
        .trim()
        .to_string();
    let nr_cpus = thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    eprintln!("{AGENT_MARKER} on {uname} ({nr_cpus} CPUs, booted in {uptime:.1} s of guest time)");
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        bail!("the guest agent must run as root inside the VM");
    }
    if !Path::new(SCX_STATE).exists() {
        bail!("kernel {uname} has no sched_ext (/sys/kernel/sched_ext is missing)");
    }
    let mut res = GuestResults {
        kernel: plan.kernel.clone(),
        uname,
        nr_cpus,
        boot_secs: uptime,
        ..GuestResults::default()
    };
    let out = plan.results_dir.join(RESULTS_FILE);
    save(&out, &res)?;
    match plan.mode {
        Mode::Test => {
            for s in &plan.scheds {
                test_sched(&plan, s, nr_cpus, &mut res, &out)?;
            }
        }
        Mode::Demo => {
            let s = plan
                .scheds
                .first()
                .context("the demo plan names no scheduler")?;
            res.demo = Some(demo(&plan, s, nr_cpus));
        }
    }
    res.complete = true;
    save(&out, &res)?;
    Ok(ExitCode::SUCCESS)
}

/// The binary's file name, e.g. `scx_simple`, for messages.
fn bin_name(s: &SchedPlan) -> String {
    s.binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| s.name.clone())
}

fn save(path: &Path, res: &GuestResults) -> Result<()> {
    let json = serde_json::to_vec_pretty(res).context("failed to encode results")?;
    util::write_atomic(path, &json)
}

/// Run one scheduler's smoke scenario and checks, saving the results after
/// each, so that a guest crash keeps what was done.
fn test_sched(
    plan: &Plan,
    s: &SchedPlan,
    nr_cpus: usize,
    res: &mut GuestResults,
    out: &Path,
) -> Result<()> {
    res.scheds.push(SchedResult {
        name: s.name.clone(),
        expect_fail: s.expect_fail,
        checks: Vec::new(),
        done: false,
    });
    save(out, res)?;
    let idx = res.scheds.len() - 1;
    let record = |res: &mut GuestResults, c: CheckResult| {
        res.scheds[idx].checks.push(c);
        save(out, res)
    };
    if s.expect_fail {
        eprintln!("xtask-guest: [{}] {}: smoke scenario", plan.kernel, s.name);
        let smoke = smoke(plan, s, nr_cpus);
        record(res, self_check(plan, s, smoke))?;
    } else {
        if s.smoke {
            eprintln!("xtask-guest: [{}] {}: smoke scenario", plan.kernel, s.name);
            let smoke = smoke(plan, s, nr_cpus);
            log_result(plan, s, &smoke);
            record(res, smoke)?;
        }
        for c in &s.checks {
            eprintln!(
                "xtask-guest: [{}] {}: check {} (timeout {} s)",
                plan.kernel, s.name, c.name, c.timeout_secs
            );
            let r = run_check(plan, s, c, nr_cpus);
            log_result(plan, s, &r);
            record(res, r)?;
        }
    }
    res.scheds[idx].done = true;
    save(out, res)
}

fn log_result(plan: &Plan, s: &SchedPlan, r: &CheckResult) {
    let st = match r.status {
        Status::Pass => "PASS",
        Status::Fail => "FAIL",
        Status::Skip => "SKIP",
    };
    let why = if r.reason.is_empty() {
        String::new()
    } else {
        format!(": {}", r.reason)
    };
    eprintln!(
        "xtask-guest: [{}] {}: {} {st} ({:.1} s){why}",
        plan.kernel, s.name, r.name, r.secs
    );
}

// ---------------------------------------------------------------------------
// sysfs and process helpers (the bench agent uses them too)

pub(crate) fn read_trim(p: &str) -> String {
    fs::read_to_string(p)
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// The kernel's sched_ext state (`enabled`, `disabled`, ...), or `unreadable`.
pub(crate) fn state() -> String {
    let s = read_trim(SCX_STATE);
    if s.is_empty() {
        "unreadable".to_string()
    } else {
        s
    }
}

/// The attached scheduler's ops name, empty when none.
pub(crate) fn ops() -> String {
    read_trim(SCX_OPS)
}

fn enabled_as(ops_name: &str) -> bool {
    state() == "enabled" && ops().starts_with(ops_name)
}

/// Waits (polling every 100 ms) until the state reads `want`; false on timeout.
pub(crate) fn wait_state(want: &str, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if state() == want {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

fn dmesg_clear() -> Result<()> {
    util::run_capture(Command::new("dmesg").arg("-C"), "dmesg -C").map(|_| ())
}

fn dmesg_text() -> String {
    util::run_capture(&mut Command::new("dmesg"), "dmesg")
        .unwrap_or_else(|e| format!("(dmesg failed: {e:#})\n"))
}

/// SIGKILL every process running one of the plan's scheduler binaries, then
/// wait for the kernel to report `disabled`.
fn kill_leftovers(plan: &Plan) -> bool {
    let bins: Vec<&Path> = plan.scheds.iter().map(|s| s.binary.as_path()).collect();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.filter_map(|e| e.ok()) {
            let Some(pid) = e.file_name().to_str().and_then(|p| p.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(exe) = fs::read_link(e.path().join("exe")) else {
                continue;
            };
            let exe = exe
                .to_string_lossy()
                .trim_end_matches(" (deleted)")
                .to_string();
            if bins.iter().any(|b| Path::new(&exe) == *b) {
                util::kill_pid(pid, libc::SIGKILL);
            }
        }
    }
    wait_state("disabled", STOP_TIMEOUT)
}

fn last_line_of(p: &Path) -> String {
    util::read_lossy(p)
        .ok()
        .and_then(|t| util::last_line(&t).map(|l| l.trim().to_string()))
        .unwrap_or_default()
}

fn exit_desc(code: i32) -> String {
    if code > 128 {
        format!("signal {}", code - 128)
    } else {
        format!("status {code}")
    }
}

/// Spawn a command in its own process group with stdout+stderr into `out`.
fn spawn_logged(cmd: &mut Command, out: &Path) -> Result<Child> {
    let f = File::create(out).with_context(|| format!("failed to create {}", out.display()))?;
    let f2 = f
        .try_clone()
        .context("failed to duplicate a log file handle")?;
    cmd.stdin(Stdio::null())
        .stdout(f)
        .stderr(f2)
        .process_group(0)
        .spawn()
        .context("failed to spawn")
}

// ---------------------------------------------------------------------------
// the smoke scenario

struct StepFail {
    step: &'static str,
    reason: String,
}

fn step_err(step: &'static str, reason: impl Into<String>) -> StepFail {
    StepFail {
        step,
        reason: reason.into(),
    }
}

fn check_dir(plan: &Plan, s: &SchedPlan, check: &str) -> Result<PathBuf> {
    let dir = plan.results_dir.join(&s.name).join(check);
    if dir.exists() {
        fs::remove_dir_all(&dir).with_context(|| format!("failed to clear {}", dir.display()))?;
    }
    fs::create_dir_all(&dir).with_context(|| format!("failed to create {}", dir.display()))?;
    Ok(dir)
}

/// The common smoke scenario. The scheduler's stdout/stderr, the workload
/// output and the kernel log are kept in `<results>/<sched>/smoke/` on failure.
fn smoke(plan: &Plan, s: &SchedPlan, nr_cpus: usize) -> CheckResult {
    let t0 = Instant::now();
    let dir = match check_dir(plan, s, "smoke") {
        Ok(d) => d,
        Err(e) => return fail_result("smoke", Some("preflight"), format!("{e:#}"), t0, None),
    };
    let outcome = smoke_steps(plan, s, nr_cpus, &dir);
    match outcome {
        Ok(()) => {
            if !s.expect_fail {
                let _ = fs::remove_dir_all(&dir);
            }
            CheckResult {
                name: "smoke".into(),
                status: Status::Pass,
                step: None,
                reason: String::new(),
                secs: t0.elapsed().as_secs_f64(),
                artifacts: None,
            }
        }
        Err(f) => {
            let _ = fs::write(dir.join("dmesg.txt"), dmesg_text());
            if state() != "disabled" {
                kill_leftovers(plan);
            }
            fail_result("smoke", Some(f.step), f.reason, t0, Some(dir))
        }
    }
}

fn fail_result(
    name: &str,
    step: Option<&str>,
    reason: String,
    t0: Instant,
    dir: Option<PathBuf>,
) -> CheckResult {
    CheckResult {
        name: name.to_string(),
        status: Status::Fail,
        step: step.map(str::to_string),
        reason,
        secs: t0.elapsed().as_secs_f64(),
        artifacts: dir,
    }
}

fn smoke_steps(plan: &Plan, s: &SchedPlan, nr_cpus: usize, dir: &Path) -> Result<(), StepFail> {
    let bin = bin_name(s);
    let sched_err = dir.join("sched.err");
    let last_err = || {
        let l = last_line_of(&sched_err);
        if l.is_empty() {
            "(no stderr output)".to_string()
        } else {
            l
        }
    };

    // preflight: nothing else may be attached, and the kernel log starts empty.
    if state() != "disabled" && !kill_leftovers(plan) {
        return Err(step_err(
            "preflight",
            format!("another scheduler is enabled (ops `{}`)", ops()),
        ));
    }
    if !util::is_executable(&s.binary) {
        return Err(step_err(
            "preflight",
            format!("{} is missing or not executable", s.binary.display()),
        ));
    }
    dmesg_clear().map_err(|e| step_err("preflight", format!("{e:#}")))?;

    // load: start it and wait until the kernel reports it enabled under its name.
    let mut cmd = Command::new(&s.binary);
    cmd.args(["--stats-interval", "1"])
        .args(&s.args)
        .current_dir(dir);
    let out = File::create(dir.join("sched.out")).map_err(|e| step_err("load", format!("{e}")))?;
    let err = File::create(&sched_err).map_err(|e| step_err("load", format!("{e}")))?;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| {
            step_err(
                "load",
                format!("failed to start {}: {e}", s.binary.display()),
            )
        })?;
    let pid = child.id();
    let deadline = Instant::now() + ENABLE_TIMEOUT;
    loop {
        if let Ok(Some(st)) = child.try_wait() {
            return Err(step_err(
                "load",
                format!(
                    "{bin} exited with {} before the kernel enabled it: {}",
                    exit_desc(util::status_code(&st)),
                    last_err()
                ),
            ));
        }
        if enabled_as(&s.ops) {
            break;
        }
        if Instant::now() >= deadline {
            util::kill_group(pid, libc::SIGKILL);
            let _ = child.wait();
            return Err(step_err(
                "load",
                format!(
                    "not enabled within {} s (state `{}`, ops `{}`); last stderr: {}",
                    ENABLE_TIMEOUT.as_secs(),
                    state(),
                    ops(),
                    last_err()
                ),
            ));
        }
        thread::sleep(Duration::from_millis(100));
    }

    // workload: forks, then a stress-ng CPU + context-switch mix. A scheduler
    // that dies on the way fails the `alive` step at once.
    let exited = |child: &mut Child| -> Option<StepFail> {
        let st = child.try_wait().ok()??;
        Some(step_err(
            "alive",
            format!(
                "{bin} exited during the workload with {}: {}",
                exit_desc(util::status_code(&st)),
                last_err()
            ),
        ))
    };
    let workload = (|| -> Result<(), StepFail> {
        for i in 1..=FORKS {
            let mut c = Command::new("/bin/true")
                .stdin(Stdio::null())
                .spawn()
                .map_err(|e| {
                    step_err(
                        "workload-forks",
                        format!("fork+exec #{i} of /bin/true failed: {e}"),
                    )
                })?;
            match util::wait_timeout(&mut c, Duration::from_secs(30)) {
                Ok(Some(st)) if st.success() => {}
                Ok(Some(st)) => {
                    return Err(step_err(
                        "workload-forks",
                        format!(
                            "/bin/true #{i} exited with {}",
                            exit_desc(util::status_code(&st))
                        ),
                    ))
                }
                _ => {
                    let _ = c.kill();
                    let _ = c.wait();
                    return Err(step_err(
                        "workload-forks",
                        format!("/bin/true #{i} did not finish within 30 s"),
                    ));
                }
            }
            if let Some(f) = exited(&mut child) {
                return Err(f);
            }
        }
        let n = nr_cpus.to_string();
        let secs = plan.stress_secs;
        let wl = dir.join("workload.txt");
        let mut st = spawn_logged(stress_ng(&n, secs).current_dir(dir), &wl).map_err(|e| {
            step_err(
                "workload-stress",
                format!("stress-ng: {e:#} (is stress-ng installed?)"),
            )
        })?;
        let limit = Duration::from_secs(secs + 90);
        let deadline = Instant::now() + limit;
        let stop_stress = |st: &mut Child| {
            util::kill_group(st.id(), libc::SIGKILL);
            let _ = st.wait();
        };
        loop {
            if let Ok(Some(x)) = st.try_wait() {
                if x.success() {
                    return Ok(());
                }
                return Err(step_err(
                    "workload-stress",
                    format!(
                        "stress-ng exited with {}: {}",
                        exit_desc(util::status_code(&x)),
                        last_line_of(&wl)
                    ),
                ));
            }
            if let Some(f) = exited(&mut child) {
                stop_stress(&mut st);
                return Err(f);
            }
            if Instant::now() >= deadline {
                stop_stress(&mut st);
                return Err(step_err(
                    "workload-stress",
                    format!("stress-ng did not finish within {} s", limit.as_secs()),
                ));
            }
            thread::sleep(Duration::from_millis(100));
        }
    })();
    if let Err(f) = workload {
        util::kill_group(pid, libc::SIGKILL);
        let _ = child.wait();
        return Err(f);
    }

    // alive: the scheduler survived the workload and is still attached.
    if let Some(f) = exited(&mut child) {
        return Err(f);
    }
    if !enabled_as(&s.ops) {
        util::kill_group(pid, libc::SIGKILL);
        let _ = child.wait();
        return Err(step_err(
            "alive",
            format!(
                "the kernel no longer runs it after the workload (state `{}`, ops `{}`)",
                state(),
                ops()
            ),
        ));
    }

    // stop: SIGINT must detach it and end the process with status 0.
    util::kill_pid(pid, libc::SIGINT);
    let st = match util::wait_timeout(&mut child, STOP_TIMEOUT) {
        Ok(Some(st)) => st,
        _ => {
            util::kill_group(pid, libc::SIGKILL);
            let _ = child.wait();
            return Err(step_err(
                "stop",
                format!(
                    "{bin} did not exit within {} s of SIGINT",
                    STOP_TIMEOUT.as_secs()
                ),
            ));
        }
    };
    let code = util::status_code(&st);
    if code != 0 {
        return Err(step_err(
            "exit-status",
            format!(
                "{bin} exited with {} after SIGINT: {}",
                exit_desc(code),
                last_err()
            ),
        ));
    }
    if !wait_state("disabled", Duration::from_secs(5)) {
        return Err(step_err(
            "state-disabled",
            format!("state reads `{}` after {bin} exited", state()),
        ));
    }

    // dmesg: the kernel log since the start must be free of errors and warnings.
    let log = dmesg_text();
    let bad = flagged_lines(&log);
    if let Some(first) = bad.first() {
        return Err(step_err(
            "dmesg",
            format!(
                "kernel log has {} flagged line(s), first: {}{}",
                bad.len(),
                first.trim(),
                tcg_hint(&log)
            ),
        ));
    }
    Ok(())
}

/// Lines that are harmless under QEMU and must not fail a run.
/// - "Invalid ELF header magic": the kernel first tries compressed modules as ELF.
/// - "virtio-fs: tag": vng probing virtio-fs before 9p.
/// - "clocksource" / "TSC unstable": the clocksource watchdog under TCG, whose
///   virtual time skews badly when one host thread emulates all vCPUs.
/// - "NOHZ tick-stop error": the kernel's rate-limited notice that a CPU stopped
///   its tick with a softirq still pending (it runs at the next interrupt). Seen
///   only on 6.16.12 under TCG, with scx_central, scx_userland and scx_qmap alike,
///   while a scheduler was enabled or torn down; never on 7.3.4. No task is lost
///   and the schedulers' own checks pass around it.
const DMESG_ALLOW: &[&str] = &[
    "Invalid ELF header magic",
    "virtio-fs: tag",
    "clocksource",
    "TSC unstable",
    "NOHZ tick-stop error",
];

/// Kernel log lines that fail the smoke scenario: `BUG` or `WARNING`
/// (as the kernel writes them), or `stall` / `error` in any case.
pub fn flagged_lines(log: &str) -> Vec<&str> {
    log.lines()
        .filter(|l| !DMESG_ALLOW.iter().any(|a| l.contains(a)))
        .filter(|l| {
            let lower = l.to_ascii_lowercase();
            l.contains("BUG")
                || l.contains("WARNING")
                || lower.contains("stall")
                || lower.contains("error")
        })
        .collect()
}

/// Point at the emulator when the kernel log shows its known oops signature.
fn tcg_hint(log: &str) -> &'static str {
    if log.contains("Oops: int3") {
        " (an `Oops: int3` at enable/disable is QEMU multi-threaded TCG's static-key race, not the scheduler; \
         run with thread=single)"
    } else {
        ""
    }
}

/// The line of a scheduler's stderr that carries the kernel's exit reason,
/// preferring the `EXIT: <reason> (<message>)` line.
pub fn exit_reason_line(stderr: &str) -> Option<String> {
    let has_reason = |l: &&str| KERNEL_ERROR_REASONS.iter().any(|r| l.contains(r));
    let lines: Vec<&str> = stderr.lines().filter(has_reason).collect();
    lines
        .iter()
        .find(|l| l.contains("EXIT:"))
        .or(lines.first())
        .map(|l| {
            let l = l.trim();
            let l = l.find("EXIT:").map_or(l, |i| &l[i..]);
            l.chars().take(300).collect()
        })
}

/// The harness self-check for a fixture: its smoke must fail, and its stderr
/// must carry the kernel's exit reason.
fn self_check(plan: &Plan, s: &SchedPlan, smoke: CheckResult) -> CheckResult {
    let dir = plan.results_dir.join(&s.name).join("smoke");
    let stderr = util::read_lossy(&dir.join("sched.err")).unwrap_or_default();
    let reason_line = exit_reason_line(&stderr);
    let mut r = CheckResult {
        name: "self-check".into(),
        ..smoke.clone()
    };
    match (smoke.status, reason_line) {
        (Status::Fail, Some(line)) => {
            r.status = Status::Pass;
            r.reason = format!(
                "{} failed the smoke scenario as it must (step {}); it reported: {line}",
                bin_name(s),
                smoke.step.as_deref().unwrap_or("?"),
            );
            let _ = fs::remove_dir_all(plan.results_dir.join(&s.name));
            r.artifacts = None;
        }
        (Status::Fail, None) => {
            r.status = Status::Fail;
            r.reason = format!(
                "fixture {} failed the smoke scenario (step {}: {}) but its stderr names no kernel exit reason \
                 (looked for: {})",
                s.name,
                smoke.step.as_deref().unwrap_or("?"),
                smoke.reason,
                KERNEL_ERROR_REASONS.join(", ")
            );
            r.artifacts = Some(dir);
        }
        _ => {
            r.status = Status::Fail;
            r.step = None;
            r.reason = format!(
                "fixture {} passed the smoke scenario; the harness cannot detect its failure",
                s.name
            );
            r.artifacts = Some(dir);
        }
    }
    log_result(plan, s, &r);
    r
}

// ---------------------------------------------------------------------------
// behavioural checks

fn run_check(plan: &Plan, s: &SchedPlan, c: &CheckPlan, nr_cpus: usize) -> CheckResult {
    let t0 = Instant::now();
    let dir = match check_dir(plan, s, &c.name) {
        Ok(d) => d,
        Err(e) => return fail_result(&c.name, None, format!("{e:#}"), t0, None),
    };
    if state() != "disabled" && !kill_leftovers(plan) {
        return fail_result(
            &c.name,
            None,
            format!("another scheduler is enabled (ops `{}`)", ops()),
            t0,
            Some(dir),
        );
    }
    let _ = dmesg_clear();
    let output = dir.join("output.txt");
    let mut cmd = Command::new("bash");
    cmd.arg(&c.script)
        .current_dir(&dir)
        .env("SCX_SCHED", &s.binary)
        .env("SCX_NAME", &s.name)
        .env("SCX_OPS", &s.ops)
        .env("SCX_OUT", &dir)
        .env("SCX_LIB", &plan.lib_sh)
        .env("SCX_NR_CPUS", nr_cpus.to_string())
        .env("SCX_KERNEL", &plan.kernel)
        .env("SCX_SCHED_DIR", &s.dir)
        .env("SCX_SOAK_SECS", plan.soak_secs.to_string())
        .env("SCX_XTASK", std::env::current_exe().unwrap_or_default());
    let (mut status, mut reason) = match spawn_logged(&mut cmd, &output) {
        Err(e) => (
            Status::Fail,
            format!("failed to start bash {}: {e:#}", c.script.display()),
        ),
        Ok(mut child) => {
            let pgid = child.id();
            let res = util::wait_timeout(&mut child, Duration::from_secs(c.timeout_secs));
            // Whatever the script left running in its group goes too.
            util::kill_group(pgid, libc::SIGKILL);
            // lib.sh's fail/skip prefix their message; the status already says it.
            let last = last_line_of(&output);
            let last = last
                .strip_prefix("FAIL: ")
                .or_else(|| last.strip_prefix("SKIP: "))
                .unwrap_or(&last)
                .to_string();
            match res {
                Ok(Some(st)) => match util::status_code(&st) {
                    // A passing check's last line is its measurement: keep it.
                    0 => (Status::Pass, last),
                    77 => (Status::Skip, last),
                    rc => {
                        let why = if last.is_empty() {
                            "(no output)".to_string()
                        } else {
                            last
                        };
                        (Status::Fail, format!("exit {rc}: {why}"))
                    }
                },
                _ => {
                    let _ = child.wait();
                    (
                        Status::Fail,
                        if last.is_empty() {
                            format!("timed out after {} s with no output", c.timeout_secs)
                        } else {
                            format!("timed out after {} s; last output: {last}", c.timeout_secs)
                        },
                    )
                }
            }
        }
    };
    if state() != "disabled" {
        let ops_left = ops();
        let cleaned = kill_leftovers(plan);
        let note = format!(
            "left scheduler `{ops_left}` enabled after the check{}",
            if cleaned {
                " (killed it)"
            } else {
                " and it could not be removed"
            }
        );
        reason = if status == Status::Fail {
            format!("{reason}; {note}")
        } else {
            note
        };
        status = Status::Fail;
    }
    let artifacts = if status == Status::Fail {
        let _ = fs::write(dir.join("dmesg.txt"), dmesg_text());
        Some(dir)
    } else {
        let _ = fs::remove_dir_all(&dir);
        None
    };
    CheckResult {
        name: c.name.clone(),
        status,
        step: None,
        reason,
        secs: t0.elapsed().as_secs_f64(),
        artifacts,
    }
}

// ---------------------------------------------------------------------------
// demo mode

fn demo(plan: &Plan, s: &SchedPlan, nr_cpus: usize) -> DemoSummary {
    let mut sum = DemoSummary {
        sched: s.name.clone(),
        ..DemoSummary::default()
    };
    let dir = plan.results_dir.join(&s.name);
    let _ = fs::create_dir_all(&dir);
    let bin = bin_name(s);
    if state() != "disabled" {
        sum.problems
            .push(format!("another scheduler was enabled (ops `{}`)", ops()));
        return sum;
    }
    let _ = dmesg_clear();
    eprintln!(
        "xtask-guest: starting {bin} --stats-interval 1 {}",
        s.args.join(" ")
    );
    // stdout goes straight to the VM's stdout, so the stats show live on the host.
    let spawned = Command::new(&s.binary)
        .args(["--stats-interval", "1"])
        .args(&s.args)
        .stdin(Stdio::null())
        .stdout(Stdio::inherit())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn();
    let mut child = match spawned {
        Ok(c) => c,
        Err(e) => {
            sum.problems
                .push(format!("failed to start {}: {e}", s.binary.display()));
            return sum;
        }
    };
    let pid = child.id();
    // stderr: shown live and kept for the exit line.
    let tee = child.stderr.take().map(|pipe| {
        let path = dir.join("sched.err");
        thread::spawn(move || {
            let mut kept = String::new();
            let mut file = File::create(&path).ok();
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                eprintln!("{line}");
                if let Some(f) = file.as_mut() {
                    let _ = writeln!(f, "{line}");
                }
                kept.push_str(&line);
                kept.push('\n');
            }
            kept
        })
    });

    let deadline = Instant::now() + ENABLE_TIMEOUT;
    while Instant::now() < deadline {
        if enabled_as(&s.ops) {
            sum.enabled = true;
            break;
        }
        if matches!(child.try_wait(), Ok(Some(_))) {
            break;
        }
        thread::sleep(Duration::from_millis(100));
    }
    sum.ops = ops();
    if sum.enabled {
        eprintln!(
            "xtask-guest: {bin} is enabled (ops `{}`); running the workload",
            sum.ops
        );
        demo_workload(plan, nr_cpus, &dir, &mut sum);
        if let Ok(Some(st)) = child.try_wait() {
            sum.problems.push(format!(
                "{bin} exited during the workload with {}",
                exit_desc(util::status_code(&st))
            ));
        }
    } else {
        sum.problems.push(format!(
            "{bin} was not enabled within {} s",
            ENABLE_TIMEOUT.as_secs()
        ));
    }
    eprintln!("xtask-guest: stopping {bin} with SIGINT");
    util::kill_pid(pid, libc::SIGINT);
    match util::wait_timeout(&mut child, STOP_TIMEOUT) {
        Ok(Some(st)) => sum.exit_status = Some(util::status_code(&st)),
        _ => {
            util::kill_group(pid, libc::SIGKILL);
            let _ = child.wait();
            sum.problems.push(format!(
                "{bin} did not exit within {} s of SIGINT",
                STOP_TIMEOUT.as_secs()
            ));
        }
    }
    let stderr = tee.and_then(|t| t.join().ok()).unwrap_or_default();
    sum.exit_line = stderr
        .lines()
        .rfind(|l| l.contains("EXIT:"))
        .or_else(|| util::last_line(&stderr))
        .unwrap_or("")
        .trim()
        .to_string();
    wait_state("disabled", Duration::from_secs(5));
    sum.state_after = state();
    let log = dmesg_text();
    let _ = fs::write(dir.join("dmesg.txt"), &log);
    for l in flagged_lines(&log) {
        sum.problems.push(format!("kernel log: {}", l.trim()));
    }
    sum
}

/// The stress-ng mix of the smoke scenario and the demo: `nr` CPU hogs and `nr`
/// context-switch pairs for `secs` seconds.
fn stress_ng(nr: &str, secs: u64) -> Command {
    let mut cmd = Command::new("stress-ng");
    cmd.args([
        "--cpu",
        nr,
        "--switch",
        nr,
        "-t",
        &format!("{secs}s"),
        "--metrics-brief",
    ]);
    cmd
}

fn demo_workload(plan: &Plan, nr_cpus: usize, dir: &Path, sum: &mut DemoSummary) {
    let n = nr_cpus.to_string();
    let secs = plan.stress_secs;
    eprintln!("xtask-guest: workload: stress-ng --cpu {n} --switch {n} -t {secs}s");
    match run_timed(
        &mut stress_ng(&n, secs),
        Duration::from_secs(secs + 90),
        dir,
    ) {
        Ok((out, _)) => {
            for (stressor, rate) in stress_ng_rates(&out) {
                sum.figures.push((
                    format!("stress-ng {stressor}"),
                    format!("{rate} bogo ops/s"),
                ));
            }
        }
        Err(e) => sum.problems.push(format!("stress-ng: {e:#}")),
    }
    eprintln!("xtask-guest: workload: hackbench -g 4 -l 100");
    match run_timed(
        Command::new("hackbench").args(["-g", "4", "-l", "100"]),
        Duration::from_secs(120),
        dir,
    ) {
        Ok((out, _)) => {
            let t = out
                .lines()
                .find_map(|l| l.strip_prefix("Time:"))
                .map(str::trim)
                .unwrap_or("?");
            sum.figures
                .push(("hackbench -g 4 -l 100".into(), format!("{t} s")));
        }
        Err(e) => sum.problems.push(format!("hackbench: {e:#}")),
    }
    let forks = FORKS;
    eprintln!("xtask-guest: workload: {forks} fork+exec of /bin/true");
    let t0 = Instant::now();
    let ok = (0..forks).all(|_| {
        Command::new("/bin/true")
            .status()
            .is_ok_and(|s| s.success())
    });
    let el = t0.elapsed().as_secs_f64();
    if ok {
        sum.figures.push((
            format!("fork+exec x{forks}"),
            format!("{el:.2} s ({:.0}/s)", forks as f64 / el),
        ));
    } else {
        sum.problems.push("a fork+exec of /bin/true failed".into());
    }
}

/// Run a workload with a time limit, returning its combined output.
fn run_timed(cmd: &mut Command, limit: Duration, dir: &Path) -> Result<(String, Duration)> {
    let log = dir.join("workload.txt");
    let t0 = Instant::now();
    let mut child = spawn_logged(cmd.current_dir(dir), &log)?;
    let st = util::wait_timeout(&mut child, limit)?;
    let out = util::read_lossy(&log).unwrap_or_default();
    match st {
        Some(st) if st.success() => Ok((out, t0.elapsed())),
        Some(st) => bail!(
            "exited with {}: {}",
            exit_desc(util::status_code(&st)),
            util::last_line(&out).unwrap_or("")
        ),
        None => {
            util::kill_group(child.id(), libc::SIGKILL);
            let _ = child.wait();
            bail!("did not finish within {} s", limit.as_secs())
        }
    }
}

/// (stressor, bogo ops/s over real time) from stress-ng `--metrics-brief` output.
pub fn stress_ng_rates(out: &str) -> Vec<(String, String)> {
    out.lines()
        .filter_map(|l| {
            let rest = l.split_once("] ")?.1;
            let mut words = rest.split_whitespace();
            let name = words.next()?;
            let nums: Vec<&str> = words.collect();
            // bogo-ops, real, usr, sys, ops/s (real), ops/s (usr+sys)
            let all_numeric = nums.len() >= 5 && nums.iter().all(|n| n.parse::<f64>().is_ok());
            all_numeric.then(|| (name.to_string(), nums[4].to_string()))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmesg_filter() {
        let log = "\
[   10.1] sched_ext: BPF scheduler \"simple\" enabled
[   12.0] sched_ext: BPF scheduler \"simple\" disabled (unregistered from user space)
[   12.1] WARNING: CPU: 1 PID: 42 at kernel/sched/ext.c:123 foo+0x1/0x2
[   12.2] BUG: kernel NULL pointer dereference, address: 0000000000000000
[   12.3] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:
[   12.4] sched_ext: simple: runnable task stall (kworker/0:1[7] failed to run for 30.1s)
[   12.5] some driver: I/O Error on device
[   12.6] clocksource: timekeeping watchdog on CPU2: Marking clocksource 'tsc' as unstable, error too big
[   12.7] module: x86/modules: Invalid ELF header magic: != \\x7fELF
[   12.8] a harmless warning in lower case
[   12.9] NOHZ tick-stop error: local softirq work is pending, handler #80!!!
";
        let bad = flagged_lines(log);
        assert_eq!(bad.len(), 5, "{bad:#?}");
        assert!(bad[0].contains("WARNING: CPU"));
        assert!(bad[1].contains("BUG:"));
        assert!(bad[2].contains("stalls"));
        assert!(bad[3].contains("task stall"));
        assert!(bad[4].contains("I/O Error"));
        assert!(flagged_lines("").is_empty());
    }

    #[test]
    fn exit_reason_from_stderr() {
        let err = "\
scx_fixture_error: scheduler attached
DEBUG DUMP: scx_bpf_error in ops.dispatch
error: EXIT: scx_bpf_error (main.bpf.c:26: deliberate error) on CPU 3
";
        assert_eq!(
            exit_reason_line(err).as_deref(),
            Some("EXIT: scx_bpf_error (main.bpf.c:26: deliberate error) on CPU 3")
        );
        assert_eq!(
            exit_reason_line("runnable task stall (foo[1] failed to run)\n").as_deref(),
            Some("runnable task stall (foo[1] failed to run)")
        );
        assert_eq!(
            exit_reason_line("EXIT: unregistered from user space\n"),
            None
        );
    }

    #[test]
    fn tcg_oops_is_pointed_out() {
        assert!(tcg_hint("Oops: int3 in __schedule").contains("TCG"));
        assert_eq!(tcg_hint("BUG: something"), "");
    }

    #[test]
    fn stress_ng_metrics() {
        let out = "\
stress-ng: info:  [21554] dispatching hogs: 2 cpu, 2 switch
stress-ng: metrc: [21554] stressor       bogo ops real time  usr time  sys time   bogo ops/s     bogo ops/s
stress-ng: metrc: [21554]                           (secs)    (secs)    (secs)   (real time) (usr+sys time)
stress-ng: metrc: [21554] cpu                2142      2.03      1.65      0.00      1057.53        1301.59
stress-ng: metrc: [21554] switch           215582      2.00      0.16      1.68    107741.43      117439.22
stress-ng: metrc: [21554] switch             18533.60 nanosecs per context switch (pipe method)
stress-ng: info:  [21554] successful run completed in 2.05s
";
        assert_eq!(
            stress_ng_rates(out),
            [
                ("cpu".to_string(), "1057.53".to_string()),
                ("switch".to_string(), "107741.43".to_string())
            ]
        );
    }
}
