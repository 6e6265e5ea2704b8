//! The exit record a BPF scheduler leaves behind, and what the process does with it.
//!
//! `include/scx/user_exit_info.h` defines the record. `UEI_RECORD()` fills it from
//! `ops.exit()`, publishing `kind` last, so a non-zero kind means the rest is complete.
//! Everything here is decoded defensively: the strings come from the kernel and are
//! read as lossy UTF-8, and no input makes this module panic.

use std::fmt;

/// Length of the `reason` field, as in `user_exit_info.h`.
pub const UEI_REASON_LEN: usize = 128;
/// Length of the `msg` field, as in `user_exit_info.h`.
pub const UEI_MSG_LEN: usize = 1024;

/// The raw record, laid out exactly as `struct user_exit_info` in BPF.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct RawExitInfo {
    pub kind: i32,
    pub exit_cpu: i32,
    pub exit_code: i64,
    pub reason: [u8; UEI_REASON_LEN],
    pub msg: [u8; UEI_MSG_LEN],
}

// SAFETY: plain old data with no padding-sensitive invariants; every bit pattern is valid.
unsafe impl plain::Plain for RawExitInfo {}

/// Exit-code bits 63..48: the action the scheduler asks the loader to take.
pub const ECODE_ACT_MASK: u64 = 0xffff << 48;
/// Bits 47..32: why the kernel or the scheduler exited.
pub const ECODE_RSN_MASK: u64 = 0xffff << 32;
/// Bits 31..0: a code of the scheduler's own.
pub const ECODE_USER_MASK: u64 = 0xffff_ffff;
/// Action: open, load and attach the scheduler again.
pub const ECODE_ACT_RESTART: u64 = 1 << 48;
/// Reason: a CPU went on- or offline.
pub const ECODE_RSN_HOTPLUG: u64 = 1 << 32;
/// Reason (7.1+): a sub-scheduler's cgroup went away.
pub const ECODE_RSN_CGROUP_OFFLINE: u64 = 2 << 32;

/// `enum scx_exit_kind`. The values never changed between kernels; kinds newer than
/// this list decode as [`ExitKind::Other`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExitKind {
    None,
    Done,
    Unreg,
    UnregBpf,
    UnregKern,
    SysRq,
    Parent,
    ParentKill,
    Error,
    ErrorBpf,
    ErrorStall,
    ErrorReenq,
    ErrorRescue,
    Other(i32),
}

impl ExitKind {
    pub fn from_raw(kind: i32) -> Self {
        match kind {
            0 => Self::None,
            1 => Self::Done,
            64 => Self::Unreg,
            65 => Self::UnregBpf,
            66 => Self::UnregKern,
            67 => Self::SysRq,
            68 => Self::Parent,
            69 => Self::ParentKill,
            1024 => Self::Error,
            1025 => Self::ErrorBpf,
            1026 => Self::ErrorStall,
            1027 => Self::ErrorReenq,
            1028 => Self::ErrorRescue,
            k => Self::Other(k),
        }
    }

    /// Every kind from `SCX_EXIT_ERROR` (1024) up is an error, including ones newer
    /// than this code.
    pub fn is_error(self) -> bool {
        match self {
            Self::Error
            | Self::ErrorBpf
            | Self::ErrorStall
            | Self::ErrorReenq
            | Self::ErrorRescue => true,
            Self::Other(k) => k >= 1024,
            _ => false,
        }
    }
}

/// Process exit statuses. They are part of the interface: `scx.service` tells systemd
/// not to restart on [`status::UNAVAILABLE`], [`status::NOPERM`] and [`status::USAGE`].
pub mod status {
    /// The scheduler was detached on request (signal, or unregistered without error).
    pub const OK: u8 = 0;
    /// Failed before the scheduler was attached: bad option, load or verifier failure.
    pub const FAILURE: u8 = 1;
    /// Command-line usage error (clap's own status).
    pub const USAGE: u8 = 2;
    /// Unregistered by the kernel or by BPF with a non-zero user code, or by the kernel
    /// without asking for a restart; also the loader giving up after more restarts than
    /// the run loop allows in a short window (a restart loop, not hotplug).
    pub const UNREGISTERED: u8 = 3;
    /// `SCX_EXIT_ERROR`: a runtime error found by the kernel.
    pub const RUNTIME_ERROR: u8 = 4;
    /// `SCX_EXIT_ERROR_BPF`: the scheduler called `scx_bpf_error()`.
    pub const BPF_ERROR: u8 = 5;
    /// `SCX_EXIT_ERROR_STALL`: the watchdog found a runnable task that did not run.
    pub const STALL: u8 = 6;
    /// Any other error kind (reenqueue limit, rescue overload, kinds newer than us).
    pub const OTHER_ERROR: u8 = 7;
    /// sched_ext is missing from the kernel or another scheduler is active.
    pub const UNAVAILABLE: u8 = 69;
    /// Not enough privilege to load a BPF scheduler.
    pub const NOPERM: u8 = 77;
}

/// A decoded exit record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExitInfo {
    pub kind: ExitKind,
    pub raw_kind: i32,
    /// The CPU the exit was triggered on, when the kernel says (7.2+).
    pub exit_cpu: Option<u32>,
    pub exit_code: i64,
    pub reason: String,
    pub msg: String,
    pub dump: String,
}

/// Reads a NUL-terminated string out of a fixed buffer without ever failing.
pub fn c_str_lossy(buf: &[u8]) -> String {
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

impl ExitInfo {
    /// Decodes the record from the bytes of the `.data.uei` map and the dump buffer.
    /// Returns `None` while the kind is still zero (the scheduler has not exited) or
    /// when the buffer is too short to hold a record.
    pub fn decode(raw: &[u8], dump: &[u8]) -> Option<Self> {
        let mut rec = RawExitInfo {
            kind: 0,
            exit_cpu: -1,
            exit_code: 0,
            reason: [0; UEI_REASON_LEN],
            msg: [0; UEI_MSG_LEN],
        };
        plain::copy_from_bytes(&mut rec, raw).ok()?;
        if rec.kind == 0 {
            return None;
        }
        Some(Self {
            kind: ExitKind::from_raw(rec.kind),
            raw_kind: rec.kind,
            exit_cpu: u32::try_from(rec.exit_cpu).ok(),
            exit_code: rec.exit_code,
            reason: c_str_lossy(&rec.reason),
            msg: c_str_lossy(&rec.msg),
            dump: c_str_lossy(dump),
        })
    }

    fn ecode(&self) -> u64 {
        self.exit_code as u64
    }

    /// The exit code means something only for exits asked for by BPF or the kernel.
    fn code_applies(&self) -> bool {
        matches!(self.kind, ExitKind::UnregBpf | ExitKind::UnregKern)
    }

    /// True when the scheduler asked to be opened, loaded and attached again (the
    /// kernel does so on CPU hotplug for schedulers without `cpu_online`/`cpu_offline`).
    pub fn should_restart(&self) -> bool {
        self.code_applies() && self.ecode() & ECODE_ACT_MASK == ECODE_ACT_RESTART
    }

    /// A short description of the reason bits, if any are set.
    pub fn system_reason(&self) -> Option<&'static str> {
        if !self.code_applies() {
            return None;
        }
        match self.ecode() & ECODE_RSN_MASK {
            0 => None,
            ECODE_RSN_HOTPLUG => Some("cpu hotplug"),
            ECODE_RSN_CGROUP_OFFLINE => Some("cgroup offline"),
            _ => Some("unknown system reason"),
        }
    }

    /// The process exit status this exit maps to (see [`status`]).
    pub fn exit_status(&self) -> u8 {
        match self.kind {
            ExitKind::Error => status::RUNTIME_ERROR,
            ExitKind::ErrorBpf => status::BPF_ERROR,
            ExitKind::ErrorStall => status::STALL,
            k if k.is_error() => status::OTHER_ERROR,
            ExitKind::UnregBpf | ExitKind::UnregKern if self.ecode() & ECODE_USER_MASK != 0 => {
                status::UNREGISTERED
            }
            ExitKind::UnregKern if !self.should_restart() => status::UNREGISTERED,
            _ => status::OK,
        }
    }
}

impl fmt::Display for ExitInfo {
    /// `EXIT: <reason> (<msg>)`, the line the kernel's C loaders print, plus the code and
    /// CPU when they carry information.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "EXIT: {}",
            if self.reason.is_empty() {
                "unknown reason"
            } else {
                &self.reason
            }
        )?;
        if !self.msg.is_empty() {
            write!(f, " ({})", self.msg)?;
        }
        if self.code_applies() && self.exit_code != 0 {
            write!(f, " code={:#x}", self.exit_code)?;
            if let Some(r) = self.system_reason() {
                write!(f, " [{r}]")?;
            }
        }
        if let Some(cpu) = self.exit_cpu.filter(|_| self.kind.is_error()) {
            write!(f, " on CPU {cpu}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(kind: i32, code: i64, reason: &[u8], msg: &[u8]) -> Vec<u8> {
        let mut rec = RawExitInfo {
            kind,
            exit_cpu: 3,
            exit_code: code,
            reason: [0; UEI_REASON_LEN],
            msg: [0; UEI_MSG_LEN],
        };
        rec.reason[..reason.len()].copy_from_slice(reason);
        rec.msg[..msg.len()].copy_from_slice(msg);
        // SAFETY: RawExitInfo is Plain.
        unsafe { plain::as_bytes(&rec) }.to_vec()
    }

    #[test]
    fn layout_matches_the_c_header() {
        assert_eq!(size_of::<RawExitInfo>(), 4 + 4 + 8 + 128 + 1024);
        assert_eq!(std::mem::offset_of!(RawExitInfo, exit_code), 8);
        assert_eq!(std::mem::offset_of!(RawExitInfo, reason), 16);
        assert_eq!(std::mem::offset_of!(RawExitInfo, msg), 144);
    }

    #[test]
    fn not_exited_while_kind_is_zero() {
        assert_eq!(ExitInfo::decode(&raw(0, 0, b"x", b""), b""), None);
    }

    #[test]
    fn short_buffer_is_not_an_exit() {
        assert_eq!(ExitInfo::decode(&[1, 0, 0], b""), None);
    }

    #[test]
    fn clean_unregister_is_status_zero() {
        let e = ExitInfo::decode(&raw(64, 0, b"unregistered from user space", b""), b"").unwrap();
        assert_eq!(e.kind, ExitKind::Unreg);
        assert_eq!(e.exit_status(), status::OK);
        assert!(!e.should_restart());
        assert_eq!(e.to_string(), "EXIT: unregistered from user space");
    }

    #[test]
    fn error_kinds_map_to_distinct_statuses() {
        for (kind, st) in [
            (1024, status::RUNTIME_ERROR),
            (1025, status::BPF_ERROR),
            (1026, status::STALL),
            (1027, status::OTHER_ERROR),
            (1028, status::OTHER_ERROR),
            (1500, status::OTHER_ERROR),
        ] {
            let e = ExitInfo::decode(&raw(kind, 0, b"r", b"m"), b"").unwrap();
            assert!(e.kind.is_error(), "{kind}");
            assert_eq!(e.exit_status(), st, "{kind}");
            assert!(!e.should_restart(), "{kind}");
        }
    }

    #[test]
    fn hotplug_restart_is_decoded() {
        let code = (ECODE_ACT_RESTART | ECODE_RSN_HOTPLUG) as i64;
        let e = ExitInfo::decode(
            &raw(
                66,
                code,
                b"unregistered from the main kernel",
                b"cpu 1 going offline",
            ),
            b"",
        )
        .unwrap();
        assert!(e.should_restart());
        assert_eq!(e.system_reason(), Some("cpu hotplug"));
        assert_eq!(e.exit_status(), status::OK);
        assert!(e.to_string().contains("[cpu hotplug]"));
    }

    #[test]
    fn restart_bits_are_ignored_for_error_kinds() {
        let e = ExitInfo::decode(
            &raw(1025, ECODE_ACT_RESTART as i64, b"scx_bpf_error", b"x"),
            b"",
        )
        .unwrap();
        assert!(!e.should_restart());
    }

    #[test]
    fn bpf_exit_with_user_code_is_non_zero() {
        let e = ExitInfo::decode(&raw(65, 7, b"unregistered from BPF", b"bye"), b"").unwrap();
        assert_eq!(e.exit_status(), status::UNREGISTERED);
        let e = ExitInfo::decode(&raw(65, 0, b"unregistered from BPF", b"bye"), b"").unwrap();
        assert_eq!(e.exit_status(), status::OK);
    }

    #[test]
    fn invalid_utf8_and_missing_nul_never_panic() {
        let reason = [0xffu8; UEI_REASON_LEN];
        let e = ExitInfo::decode(
            &raw(1025, 0, &reason, &[0xc3, 0x28, b'o', b'k']),
            &[0xfe, 0xfe],
        )
        .unwrap();
        assert_eq!(e.reason.chars().count(), UEI_REASON_LEN);
        assert!(e.msg.ends_with("(ok"));
        assert_eq!(e.dump, "\u{fffd}\u{fffd}");
        assert!(e.to_string().starts_with("EXIT: "));
    }

    #[test]
    fn exit_cpu_is_shown_for_errors_only() {
        let e = ExitInfo::decode(
            &raw(1026, 0, b"runnable task stall", b"t[1] failed to run"),
            b"",
        )
        .unwrap();
        assert!(e.to_string().ends_with("on CPU 3"), "{e}");
    }
}
