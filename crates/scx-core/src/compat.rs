//! Questions about the running kernel, answered from its BTF at load time, so that one
//! object built against the newest `vmlinux.h` adapts to every kernel from 6.16 on.

use anyhow::{Context, Result};
use libbpf_rs::btf::types::{Composite, Enum, Enum64};
use libbpf_rs::btf::Btf;

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
    btf.type_by_name::<libbpf_rs::btf::types::Func<'_>>(name).is_some()
}
