//! Checks made before anything is loaded, each failing with one sentence that says what
//! is missing and what to do. Every path is read below a root directory so that the
//! checks can be tested against a fake `/sys` and `/proc`.

use std::fmt;
use std::fs;
use std::path::Path;

use crate::exit::status;

/// Why a scheduler cannot start here, with the process exit status it maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u8,
    pub message: String,
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Refusal {}

impl Refusal {
    pub fn unavailable(message: String) -> Self {
        Self {
            status: status::UNAVAILABLE,
            message,
        }
    }
}

/// The name this process runs under (`scx_simple`, …), for messages.
pub fn program_name() -> String {
    std::env::args_os()
        .next()
        .as_deref()
        .and_then(|a| Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "scheduler".into())
}

const CAP_SYS_ADMIN: u32 = 21;
const CAP_BPF: u32 = 39;

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

/// The effective capability set from the text of `/proc/<pid>/status`.
fn effective_caps(proc_status: &str) -> Option<u64> {
    let hex = proc_status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))?;
    u64::from_str_radix(hex.trim(), 16).ok()
}

fn euid(proc_status: &str) -> Option<u32> {
    // "Uid:\treal\teffective\tsaved\tfs"
    let line = proc_status.lines().find_map(|l| l.strip_prefix("Uid:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs every check against the filesystem below `root` ("/" on a real system).
pub fn check(root: &Path, sched_name: &str) -> Result<(), Refusal> {
    let scx = root.join("sys/kernel/sched_ext");
    if !scx.is_dir() {
        let release = read_trimmed(&root.join("proc/sys/kernel/osrelease"))
            .unwrap_or_else(|| "unknown".into());
        return Err(Refusal::unavailable(format!(
            "this kernel ({release}) has no sched_ext support: {sched_name} needs a kernel built with \
             CONFIG_SCHED_CLASS_EXT=y (6.16 or newer; `cargo xtask demo` runs one in a VM)"
        )));
    }

    let proc_status = fs::read_to_string(root.join("proc/self/status")).unwrap_or_default();
    let is_root = euid(&proc_status) == Some(0);
    let caps = effective_caps(&proc_status).unwrap_or(0);
    let has = |cap: u32| caps & (1u64 << cap) != 0;
    let privileged = is_root || (has(CAP_SYS_ADMIN) && has(CAP_BPF));
    if !privileged {
        return Err(Refusal {
            status: status::NOPERM,
            message: format!(
                "{sched_name} must run as root (or with CAP_SYS_ADMIN and CAP_BPF) to load a BPF scheduler: \
                 try `sudo {sched_name}`"
            ),
        });
    }

    let state = read_trimmed(&scx.join("state")).unwrap_or_else(|| "unknown".into());
    match state.as_str() {
        "disabled" => {}
        "enabled" | "enabling" => {
            let ops = read_trimmed(&scx.join("root/ops")).filter(|s| !s.is_empty());
            let who = ops.map_or_else(
                || "another sched_ext scheduler".to_string(),
                |o| format!("another sched_ext scheduler, \"{o}\","),
            );
            return Err(Refusal::unavailable(format!(
                "{who} is already active: stop it before starting {sched_name}"
            )));
        }
        other => {
            return Err(Refusal::unavailable(format!(
                "sched_ext is busy (state \"{other}\"): try again in a moment"
            )))
        }
    }

    let btf = root.join("sys/kernel/btf/vmlinux");
    if !btf.is_file() {
        return Err(Refusal::unavailable(format!(
            "the kernel exports no BTF ({} is missing): sched_ext schedulers need CONFIG_DEBUG_INFO_BTF=y",
            btf.display()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    struct FakeRoot(PathBuf);

    impl FakeRoot {
        fn new(tag: &str) -> Self {
            let dir = std::env::temp_dir()
                .join(format!("scx-core-preflight-{tag}-{}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            fs::create_dir_all(dir.join("proc/sys/kernel")).unwrap();
            fs::create_dir_all(dir.join("proc/self")).unwrap();
            fs::write(dir.join("proc/sys/kernel/osrelease"), "6.1.0-test\n").unwrap();
            Self(dir)
        }
        fn write(&self, rel: &str, text: &str) -> &Self {
            let p = self.0.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(p, text).unwrap();
            self
        }
        fn as_root(&self) -> &Self {
            self.write(
                "proc/self/status",
                "Name:\tx\nUid:\t0\t0\t0\t0\nCapEff:\t000001ffffffffff\n",
            )
        }
        fn with_scx(&self, state: &str) -> &Self {
            self.write("sys/kernel/sched_ext/state", state)
                .write("sys/kernel/btf/vmlinux", "btf")
        }
    }

    impl Drop for FakeRoot {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    #[test]
    fn missing_sched_ext_names_the_config_and_release() {
        let r = FakeRoot::new("nokernel");
        r.as_root();
        let e = check(&r.0, "scx_simple").unwrap_err();
        assert_eq!(e.status, status::UNAVAILABLE);
        assert!(e.message.contains("CONFIG_SCHED_CLASS_EXT=y"), "{e}");
        assert!(e.message.contains("6.1.0-test"), "{e}");
        assert!(e.message.contains("6.16 or newer"), "{e}");
        assert_eq!(e.message.lines().count(), 1);
    }

    #[test]
    fn non_root_is_told_what_privilege_is_needed() {
        let r = FakeRoot::new("user");
        r.with_scx("disabled").write(
            "proc/self/status",
            "Uid:\t1000\t1000\t1000\t1000\nCapEff:\t0000000000000000\n",
        );
        let e = check(&r.0, "scx_simple").unwrap_err();
        assert_eq!(e.status, status::NOPERM);
        assert!(
            e.message.contains("root") && e.message.contains("CAP_BPF"),
            "{e}"
        );
    }

    #[test]
    fn capabilities_are_enough_without_root() {
        let r = FakeRoot::new("caps");
        let caps = (1u64 << CAP_SYS_ADMIN) | (1u64 << CAP_BPF);
        r.with_scx("disabled").write(
            "proc/self/status",
            &format!("Uid:\t1000\t1000\t1000\t1000\nCapEff:\t{caps:016x}\n"),
        );
        assert_eq!(check(&r.0, "scx_simple"), Ok(()));
    }

    #[test]
    fn another_scheduler_is_named() {
        let r = FakeRoot::new("busy");
        r.as_root()
            .with_scx("enabled\n")
            .write("sys/kernel/sched_ext/root/ops", "qmap_1.0\n");
        let e = check(&r.0, "scx_simple").unwrap_err();
        assert_eq!(e.status, status::UNAVAILABLE);
        assert!(e.message.contains("\"qmap_1.0\""), "{e}");
    }

    #[test]
    fn transitional_state_is_busy() {
        let r = FakeRoot::new("disabling");
        r.as_root().with_scx("disabling");
        assert!(check(&r.0, "scx_simple")
            .unwrap_err()
            .message
            .contains("busy"));
    }

    #[test]
    fn missing_btf_is_reported() {
        let r = FakeRoot::new("nobtf");
        r.as_root().write("sys/kernel/sched_ext/state", "disabled");
        assert!(check(&r.0, "scx_simple")
            .unwrap_err()
            .message
            .contains("CONFIG_DEBUG_INFO_BTF"));
    }

    #[test]
    fn all_good() {
        let r = FakeRoot::new("ok");
        r.as_root().with_scx("disabled");
        assert_eq!(check(&r.0, "scx_simple"), Ok(()));
    }
}
