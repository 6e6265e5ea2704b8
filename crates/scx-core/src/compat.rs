//! Questions about the running kernel, answered from its BTF at load time, so that one
//! object built against the newest `vmlinux.h` adapts to every kernel from 6.16 on.
//!
//! The answers come from `scx_utils::compat`, which parses the kernel's BTF once per
//! process and, unlike a plain BTF lookup, recovers 64-bit `scx_*` enum values that
//! an old pahole truncated to 32 bits. Its loader panics on a kernel that exports no
//! BTF, so every function here first checks that `/sys/kernel/btf/vmlinux` exists
//! (the preflight check refuses such a kernel with one sentence before this runs).

use std::path::Path;

use anyhow::{Context, Result};
use libbpf_rs::btf::types::{Func, FuncProto};
use libbpf_rs::btf::Btf;

use crate::preflight::{program_name, Refusal};

/// Where the kernel exports its BTF.
const VMLINUX_BTF: &str = "/sys/kernel/btf/vmlinux";

fn btf_present() -> bool {
    Path::new(VMLINUX_BTF).is_file()
}

/// The value of enumerator `name` of `enum type_name`, if the type and the name exist.
pub fn enum_value(type_name: &str, name: &str) -> Option<u64> {
    btf_present()
        .then(|| scx_utils::compat::read_enum(type_name, name).ok())
        .flatten()
}

/// Whether `struct struct_name` has a member `field`.
pub fn struct_has_field(struct_name: &str, field: &str) -> bool {
    btf_present() && scx_utils::compat::struct_has_field(struct_name, field).unwrap_or(false)
}

/// An `SCX_OPS_*` flag, or 0 when the running kernel does not know it, so that a flag
/// ORed in for newer kernels is never rejected by older ones.
pub fn ops_flag(name: &str) -> u64 {
    enum_value("scx_ops_flags", name).unwrap_or(0)
}

/// Whether the kernel's BTF names kfunc `name`.
pub fn has_kfunc(name: &str) -> bool {
    btf_present() && scx_utils::compat::ksym_exists(name).unwrap_or(false)
}

/// Whether BPF programs can call kfunc `name` here. It must exist, and when its BTF
/// prototype still ends in the argument the verifier fills in itself (`aux`, which a
/// correct build hides behind KF_IMPLICIT_ARGS), the verifier also needs the full form
/// `<name>_impl`. Debian's 7.1 and 7.2 kernels list scx_bpf_kick_cpu (among others)
/// that way with no `_impl`: every program that calls it fails to load there, with
/// "cannot find function scx_bpf_kick_cpu_impl in BTF". This is our own rule rather
/// than `scx_utils::compat::malformed_scx_kfuncs`, which looks only at `scx_bpf_*`
/// names and so misses `bpf_iter_scx_dsq_new`, listed the same way on Debian's 7.1.
pub fn kfunc_callable(btf: &Btf<'_>, name: &str) -> bool {
    let Some(func) = btf.type_by_name::<Func<'_>>(name) else {
        return false;
    };
    let last_param = func
        .next_type()
        .and_then(|t| FuncProto::try_from(t).ok())
        .and_then(|proto| {
            proto
                .iter()
                .last()
                .and_then(|p| p.name)
                .map(|n| n.to_string_lossy().into_owned())
        });
    let has_impl = btf
        .type_by_name::<Func<'_>>(&format!("{name}_impl"))
        .is_some();
    callable(last_param.as_deref(), has_impl)
}

/// The rule of [`kfunc_callable`] once the prototype's last parameter is known.
fn callable(last_param: Option<&str>, has_impl: bool) -> bool {
    last_param != Some("aux") || has_impl
}

/// Refuses to go on, before anything is loaded, when one of the kfuncs the scheduler's
/// BPF code calls unconditionally cannot be called on this kernel (see
/// [`kfunc_callable`]): one sentence and exit status 69, instead of a verifier log.
pub fn require_kfuncs(names: &[&str]) -> Result<()> {
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    if !btf_present() {
        return Err(Refusal::unavailable(format!(
            "the kernel ({}) exports no BTF ({VMLINUX_BTF} is missing): sched_ext schedulers need \
             CONFIG_DEBUG_INFO_BTF=y",
            release.trim()
        ))
        .into());
    }
    let btf = Btf::from_vmlinux().context("failed to read the kernel's BTF")?;
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !kfunc_callable(&btf, n))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Refusal::unavailable(missing_kfuncs_message(
        &program_name(),
        release.trim(),
        &missing,
    ))
    .into())
}

fn missing_kfuncs_message(program: &str, release: &str, missing: &[&str]) -> String {
    format!(
        "{program} cannot run on this kernel ({release}): BPF programs cannot call {} here \
         (absent, or listed in BTF without its _impl form, as in Debian's 7.1 and 7.2 builds); \
         use a kernel from 6.16 to 7.0, or 7.3",
        missing.join(" or ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_visible_aux_argument_needs_the_impl_form() {
        assert!(callable(Some("flags"), false));
        assert!(callable(None, false));
        assert!(callable(Some("aux"), true));
        assert!(!callable(Some("aux"), false));
    }

    #[test]
    fn the_refusal_is_one_sentence_naming_the_kfunc() {
        let m = missing_kfuncs_message("scx_central", "7.2.12+deb13-amd64", &["scx_bpf_kick_cpu"]);
        assert_eq!(m.lines().count(), 1);
        assert!(
            m.starts_with("scx_central cannot run on this kernel (7.2.12+deb13-amd64)"),
            "{m}"
        );
        assert!(m.contains("scx_bpf_kick_cpu") && !m.ends_with('.'), "{m}");
    }
}
