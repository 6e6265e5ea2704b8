//! Questions about the running kernel, answered from its BTF at load time, so that one
//! object built against the newest `vmlinux.h` adapts to every kernel from 6.16 on.

use anyhow::{Context, Result};
use libbpf_rs::btf::types::{Composite, Enum, Enum64, Func, FuncProto};
use libbpf_rs::btf::Btf;

use crate::preflight::Refusal;

/// The running kernel's BTF.
pub fn vmlinux_btf() -> Result<Btf<'static>> {
    Btf::from_vmlinux().context("failed to read the kernel's BTF from /sys/kernel/btf/vmlinux")
}

/// The value of enumerator `name` of `enum type_name`, if the type and the name exist.
pub fn enum_value(btf: &Btf<'_>, type_name: &str, name: &str) -> Option<u64> {
    if let Some(e) = btf.type_by_name::<Enum<'_>>(type_name) {
        let value = e.iter().find(|m| m.name.is_some_and(|n| n == name)).map(|m| m.value as u64);
        return value;
    }
    let e = btf.type_by_name::<Enum64<'_>>(type_name)?;
    let value = e.iter().find(|m| m.name.is_some_and(|n| n == name)).map(|m| m.value as u64);
    value
}

/// Whether `struct struct_name` has a member `field`.
pub fn struct_has_field(btf: &Btf<'_>, struct_name: &str, field: &str) -> bool {
    btf.type_by_name::<Composite<'_>>(struct_name)
        .is_some_and(|s| s.iter().any(|m| m.name.is_some_and(|n| n == field)))
}

/// An `SCX_OPS_*` flag, or 0 when the running kernel does not know it, so that a flag
/// ORed in for newer kernels is never rejected by older ones.
pub fn ops_flag(btf: &Btf<'_>, name: &str) -> u64 {
    enum_value(btf, "scx_ops_flags", name).unwrap_or(0)
}

/// Whether the kernel has kfunc `name` (a `BTF_KIND_FUNC` in vmlinux BTF).
pub fn has_kfunc(btf: &Btf<'_>, name: &str) -> bool {
    btf.type_by_name::<Func<'_>>(name).is_some()
}

/// Whether BPF programs can call kfunc `name` here. It must exist, and when its BTF
/// prototype still ends in the argument the verifier fills in itself (`aux`, which a
/// correct build hides behind KF_IMPLICIT_ARGS), the verifier also needs the full form
/// `<name>_impl`. Debian's 7.1 and 7.2 kernels list scx_bpf_kick_cpu (among others)
/// that way with no `_impl`: every program that calls it fails to load there, with
/// "cannot find function scx_bpf_kick_cpu_impl in BTF".
pub fn kfunc_callable(btf: &Btf<'_>, name: &str) -> bool {
    let Some(func) = btf.type_by_name::<Func<'_>>(name) else {
        return false;
    };
    let last_param = func
        .next_type()
        .and_then(|t| FuncProto::try_from(t).ok())
        .and_then(|proto| proto.iter().last().and_then(|p| p.name).map(|n| n.to_string_lossy().into_owned()));
    callable(last_param.as_deref(), has_kfunc(btf, &format!("{name}_impl")))
}

/// The rule of [`kfunc_callable`] once the prototype's last parameter is known.
fn callable(last_param: Option<&str>, has_impl: bool) -> bool {
    last_param != Some("aux") || has_impl
}

/// Refuses to go on, before anything is loaded, when one of the kfuncs the scheduler's
/// BPF code calls unconditionally cannot be called on this kernel (see
/// [`kfunc_callable`]): one sentence and exit status 69, instead of a verifier log.
pub fn require_kfuncs(btf: &Btf<'_>, names: &[&str]) -> Result<()> {
    let missing: Vec<&str> = names.iter().copied().filter(|n| !kfunc_callable(btf, n)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    Err(Refusal::unavailable(missing_kfuncs_message(&crate::ops::program_name(), release.trim(), &missing)).into())
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
        assert!(m.starts_with("scx_central cannot run on this kernel (7.2.12+deb13-amd64)"), "{m}");
        assert!(m.contains("scx_bpf_kick_cpu") && !m.ends_with('.'), "{m}");
    }
}
