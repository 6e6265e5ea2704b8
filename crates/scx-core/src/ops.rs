//! Open, load and attach: plain generic functions over libbpf-rs's skeleton traits.
//!
//! Every scheduler's BPF object has exactly one `struct sched_ext_ops` map and the three
//! exit-info globals of `UEI_DEFINE()`, each in a section of its own (`.data.uei`,
//! `.data.uei_dump`, `.rodata.uei`). That lets this module handle any scheduler's
//! skeleton without knowing its generated types: struct_ops fields are written at the
//! offsets the object's own BTF gives, and the exit info is found by map name.

use std::fs;
use std::mem::MaybeUninit;
use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use libbpf_rs::btf::types::Composite;
use libbpf_rs::btf::Btf;
use libbpf_rs::libbpf_sys;
use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{AsRawLibbpf, Link, MapCore, MapFlags, MapType, Object, OpenObject};
use plain::Plain;

use crate::cli::CommonOpts;
use crate::compat;
use crate::exit::ExitInfo;
use crate::preflight::{self, program_name, Refusal};

/// Map holding `struct user_exit_info`.
pub const UEI_MAP: &str = ".data.uei";
/// Map holding the exit dump buffer, resized before load.
pub const UEI_DUMP_MAP: &str = ".data.uei_dump";
/// Map holding `uei_dump_len`, the dump size the BPF side copies.
pub const UEI_DUMP_LEN_MAP: &str = ".rodata.uei";

const SCHED_EXT_ROOT: &str = "/sys/kernel/sched_ext";

/// Byte offset and size of each `sched_ext_ops` member we write.
fn ops_member(btf: &Btf<'_>, field: &str) -> Result<usize> {
    let ops: Composite<'_> = btf
        .type_by_name("sched_ext_ops")
        .context("the BPF object's BTF has no struct sched_ext_ops")?;
    let member = ops
        .iter()
        .find(|m| m.name.is_some_and(|n| n == field))
        .with_context(|| format!("struct sched_ext_ops has no member {field}"))?;
    match member.attr {
        libbpf_rs::btf::types::MemberAttr::Normal { offset } if offset % 8 == 0 => {
            Ok(offset as usize / 8)
        }
        _ => bail!("struct sched_ext_ops member {field} is not byte aligned"),
    }
}

/// Writes the `sched_ext_ops` data fields that scx-core owns.
fn write_ops_field(obj: &mut OpenObject, field: &str, value: &[u8]) -> Result<()> {
    // SAFETY: the pointer comes from a live OpenObject borrowed for this call.
    let raw: &libbpf_sys::bpf_object = unsafe { obj.as_libbpf_object().as_ref() };
    let btf = Btf::from_bpf_object(raw)
        .context("failed to read the BPF object's BTF")?
        .context("the BPF object carries no BTF")?;
    let off = ops_member(&btf, field)?;
    drop(btf);
    let mut map = obj
        .maps_mut()
        .find(|m| m.map_type() == MapType::StructOps)
        .context("the BPF object defines no struct_ops map (SCX_OPS_DEFINE)")?;
    let data = map
        .initial_value_mut()
        .context("failed to access the struct_ops data")?;
    let dst = data
        .get_mut(off..off + value.len())
        .with_context(|| format!("sched_ext_ops.{field} lies outside the struct_ops data"))?;
    dst.copy_from_slice(value);
    Ok(())
}

fn read_ops_u64(obj: &OpenObject, field: &str) -> Result<u64> {
    // SAFETY: as in write_ops_field.
    let raw: &libbpf_sys::bpf_object = unsafe { obj.as_libbpf_object().as_ref() };
    let btf = Btf::from_bpf_object(raw)?.context("the BPF object carries no BTF")?;
    let off = ops_member(&btf, field)?;
    let map = obj
        .maps()
        .find(|m| m.map_type() == MapType::StructOps)
        .context("no struct_ops map")?;
    let data = map
        .initial_value()
        .context("failed to access the struct_ops data")?;
    let bytes = data
        .get(off..off + 8)
        .context("sched_ext_ops field out of range")?;
    Ok(u64::from_ne_bytes(bytes.try_into()?))
}

/// Sizes the exit dump: the buffer map and the length the BPF side copies.
fn size_exit_dump(obj: &mut OpenObject, len: u32) -> Result<()> {
    let mut found = 0;
    for mut map in obj.maps_mut() {
        if map.name() == UEI_DUMP_MAP {
            map.set_value_size(len)
                .context("failed to size the exit dump buffer")?;
            found += 1;
        } else if map.name() == UEI_DUMP_LEN_MAP {
            let data = map
                .initial_value_mut()
                .context("failed to access .rodata.uei")?;
            data.get_mut(..4)
                .context(".rodata.uei is too small")?
                .copy_from_slice(&len.to_ne_bytes());
            found += 1;
        }
    }
    if found != 2 {
        bail!("the BPF object lacks the exit-info globals: call UEI_DEFINE(uei) from include/scx/user_exit_info.h");
    }
    Ok(())
}

/// Checks the system, opens the skeleton and sets what every scheduler shares: the
/// hotplug sequence, the watchdog timeout, the exit dump size and partial switching.
/// The scheduler sets its own read-only data afterwards, then calls [`load`].
pub fn open<'obj, B: SkelBuilder<'obj>>(
    builder: B,
    storage: &'obj mut MaybeUninit<OpenObject>,
    common: &CommonOpts,
) -> Result<B::Output> {
    preflight::check(Path::new("/"), &program_name())?;
    // 6.16 is the oldest kernel the suite is tested on; `priv` arrived with it in
    // struct sched_ext_ops, so an older sched_ext lacks the member.
    if !compat::struct_has_field("sched_ext_ops", "priv") {
        return Err(Refusal::unavailable(
            "the kernel's sched_ext is older than this suite supports (6.16 or newer is needed)"
                .into(),
        )
        .into());
    }

    let mut open = builder
        .open(storage)
        .context("failed to open the BPF object")?;
    let obj = open.open_object_mut();

    // A CPU going on- or offline between now and attach must restart us: the kernel
    // compares this sequence number at enable time.
    let seq_path = Path::new(SCHED_EXT_ROOT).join("hotplug_seq");
    let seq: u64 = fs::read_to_string(&seq_path)
        .with_context(|| format!("failed to read {}", seq_path.display()))?
        .trim()
        .parse()
        .with_context(|| format!("failed to parse {}", seq_path.display()))?;
    write_ops_field(obj, "hotplug_seq", &seq.to_ne_bytes())?;

    if let Some(ms) = common.timeout_ms {
        write_ops_field(obj, "timeout_ms", &ms.to_ne_bytes())?;
    }
    write_ops_field(obj, "exit_dump_len", &common.exit_dump_len.to_ne_bytes())?;
    if common.partial {
        let flags = read_ops_u64(obj, "flags")? | compat::ops_flag("SCX_OPS_SWITCH_PARTIAL");
        write_ops_field(obj, "flags", &flags.to_ne_bytes())?;
    }
    size_exit_dump(obj, common.exit_dump_len)?;
    Ok(open)
}

/// Adds `flags` (already resolved for the running kernel) to `sched_ext_ops.flags`.
pub fn add_ops_flags(obj: &mut OpenObject, flags: u64) -> Result<()> {
    let flags = read_ops_u64(obj, "flags")? | flags;
    write_ops_field(obj, "flags", &flags.to_ne_bytes())
}

/// Loads the object into the kernel; the verifier's verdict is printed by libbpf above
/// the error when it refuses a program. The verifier refuses with EACCES too, so
/// "permission denied" means missing privilege only when not running as root.
pub fn load<'obj, O: OpenSkel<'obj>>(open: O) -> Result<O::Output> {
    open.load().map_err(|e| {
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        if e.kind() == libbpf_rs::ErrorKind::PermissionDenied && !root {
            anyhow!(Refusal {
                status: crate::exit::status::NOPERM,
                message: format!(
                    "the kernel refused to load {} (permission denied): run it as root",
                    program_name()
                ),
            })
        } else {
            anyhow!(e).context(
                "failed to load the BPF scheduler (libbpf's messages above say why; -v shows more)",
            )
        }
    })
}

/// Attaches the struct_ops map: from here on the BPF scheduler schedules.
pub fn attach<'obj, S: Skel<'obj>>(skel: &mut S) -> Result<Link> {
    let obj = skel.object_mut();
    let mut map = obj
        .maps_mut()
        .find(|m| m.map_type() == MapType::StructOps)
        .context("the BPF object defines no struct_ops map (SCX_OPS_DEFINE)")?;
    map.attach_struct_ops().map_err(|e| {
        // Another scheduler may have been attached since the preflight check.
        match preflight::check(Path::new("/"), &program_name()) {
            Err(refusal) => anyhow!(refusal),
            Ok(()) => anyhow!(e).context("failed to attach the BPF scheduler"),
        }
    })
}

/// Reads the exit record, if the scheduler has exited.
pub fn read_exit_info(obj: &Object) -> Result<Option<ExitInfo>> {
    let key = 0u32.to_ne_bytes();
    let mut raw = None;
    let mut dump = Vec::new();
    for map in obj.maps() {
        if map.name() == UEI_MAP {
            raw = map
                .lookup(&key, MapFlags::ANY)
                .context("failed to read the exit info")?;
        }
    }
    let Some(raw) = raw else { return Ok(None) };
    let Some(mut info) = ExitInfo::decode(&raw, &[]) else {
        return Ok(None);
    };
    for map in obj.maps() {
        if map.name() == UEI_DUMP_MAP {
            dump = map
                .lookup(&key, MapFlags::ANY)
                .ok()
                .flatten()
                .unwrap_or_default();
        }
    }
    info.dump = crate::exit::c_str_lossy(&dump);
    Ok(Some(info))
}

/// Reads key `key` of a per-CPU array whose value is `T` (a skeleton type, e.g.
/// `bpf::types::cpu_ctx`): one `T` per possible CPU, in CPU order.
pub fn percpu_values<T: Plain + Default, M: MapCore>(map: &M, key: u32) -> Result<Vec<T>> {
    let name = map.name().to_string_lossy();
    let slots = map
        .lookup_percpu(&key.to_ne_bytes(), MapFlags::ANY)
        .with_context(|| format!("failed to read key {key} of map {name}"))?
        .unwrap_or_default();
    decode_values(&slots).with_context(|| format!("map {name} does not hold the expected type"))
}

/// Each slot's bytes as a `T`: the slot must be at least `size_of::<T>()` long (the
/// kernel pads per-CPU values to 8 bytes).
fn decode_values<T: Plain + Default>(slots: &[Vec<u8>]) -> Result<Vec<T>> {
    slots
        .iter()
        .map(|bytes| {
            let mut v = T::default();
            plain::copy_from_bytes(&mut v, bytes).map_err(|_| {
                anyhow!(
                    "a {}-byte value is too short for {} bytes",
                    bytes.len(),
                    size_of::<T>()
                )
            })?;
            Ok(v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[repr(C)]
    #[derive(Default, Debug, PartialEq)]
    struct Ctx {
        a: u64,
        b: u32,
        c: u32,
    }
    // SAFETY: integers only, so every bit pattern is a valid value.
    unsafe impl Plain for Ctx {}

    fn slot(a: u64, b: u32, c: u32) -> Vec<u8> {
        [&a.to_ne_bytes()[..], &b.to_ne_bytes(), &c.to_ne_bytes()].concat()
    }

    #[test]
    fn per_cpu_slots_decode_field_by_field() {
        let slots = vec![slot(1, 2, 3), slot(4, 5, 6)];
        let v: Vec<Ctx> = decode_values(&slots).unwrap();
        assert_eq!(v, [Ctx { a: 1, b: 2, c: 3 }, Ctx { a: 4, b: 5, c: 6 }]);
    }

    #[test]
    fn a_short_slot_is_an_error_not_zeroes() {
        let slots = vec![slot(1, 2, 3), vec![0; 12]];
        let err = decode_values::<Ctx>(&slots).unwrap_err();
        assert_eq!(err.to_string(), "a 12-byte value is too short for 16 bytes");
    }
}
