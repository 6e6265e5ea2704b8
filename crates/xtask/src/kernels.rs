//! Debian sched_ext kernels: the pinned list, `--kernel`/`--kernels` parsing,
//! fetching into the per-user cache, and finding vmlinuz and config in a tree.
//!
//! Cache layout: `<cache>/kernels/<ver>/` holds the unpacked packages
//! (`dpkg-deb -x`, never `dpkg -i`) and a `.complete` marker written last.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};

use crate::{apt, paths, util};

/// Pinned trixie-backports kernels, oldest first. All have CONFIG_SCHED_CLASS_EXT=y.
pub const PINNED: &[&str] = &[
    "6.16.12", "6.17.13", "6.18.15", "6.19.14", "7.0.13", "7.1.13", "7.2.12", "7.3.4",
];
/// The CI set: the oldest and the newest pinned kernel.
pub const CI: &[&str] = &["6.16.12", "7.3.4"];

const MARKER: &str = ".complete";

pub fn default_version() -> &'static str {
    PINNED[PINNED.len() - 1]
}

/// How the user chose a kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KernelSel {
    Pinned(String),
    Path(PathBuf),
}

/// A kernel ready to boot.
#[derive(Debug, Clone)]
pub struct Kernel {
    /// Short name for reports and result directories (the version for pinned kernels).
    pub label: String,
    pub vmlinuz: PathBuf,
}

fn known_list() -> String {
    PINNED.join(", ")
}

fn looks_like_path(s: &str) -> bool {
    s.contains('/') || Path::new(s).is_file()
}

/// Parse one `--kernel` value: a pinned version or a path to a vmlinuz.
pub fn parse_kernel_arg(s: &str) -> Result<KernelSel> {
    let s = s.trim();
    if looks_like_path(s) {
        let p =
            std::path::absolute(s).with_context(|| format!("failed to resolve kernel path {s}"))?;
        if !p.is_file() {
            bail!("kernel image {} does not exist", p.display());
        }
        return Ok(KernelSel::Path(p));
    }
    let v = s.strip_prefix('v').unwrap_or(s);
    if PINNED.contains(&v) {
        Ok(KernelSel::Pinned(v.to_string()))
    } else {
        bail!(
            "unknown kernel version `{s}`; known versions: {} (or pass a path to a vmlinuz)",
            known_list()
        )
    }
}

/// Parse `--kernels`: `ci`, `all`, a comma-separated list of versions, or paths.
pub fn parse_kernels_list(s: &str) -> Result<Vec<KernelSel>> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        match part {
            "ci" => out.extend(CI.iter().map(|v| KernelSel::Pinned(v.to_string()))),
            "all" => out.extend(PINNED.iter().map(|v| KernelSel::Pinned(v.to_string()))),
            _ => out.push(parse_kernel_arg(part)?),
        }
    }
    if out.is_empty() {
        bail!(
            "no kernel given; use ci, all, a list of versions ({}) or a path",
            known_list()
        );
    }
    let mut seen = Vec::new();
    out.retain(|k| {
        let new = !seen.contains(k);
        seen.push(k.clone());
        new
    });
    Ok(out)
}

/// Debian package names for a pinned version.
fn image_package(ver: &str) -> String {
    format!("linux-image-{ver}+deb13-amd64")
}

/// The packages to download: the image plus, from 6.19 on, the split-out
/// binary/base/modules packages that the image depends on. Also returns the
/// ones the image depends on that the index no longer lists; whether the
/// kernel is still usable without them is decided on the unpacked content.
fn packages_for(ver: &str, image_depends: &[apt::Dep]) -> (Vec<String>, Vec<String>) {
    let abi = format!("{ver}+deb13-amd64");
    let mut pkgs = vec![image_package(ver)];
    let mut unlisted = Vec::new();
    for d in image_depends {
        if d.name.starts_with("linux-") && d.name.ends_with(&abi) && !pkgs.contains(&d.name) {
            if d.listed {
                pkgs.push(d.name.clone());
            } else {
                unlisted.push(d.name.clone());
            }
        }
    }
    (pkgs, unlisted)
}

/// Does the unpacked tree hold kernel modules? Debian builds 9p and the
/// virtio transports as modules, so without them the guest cannot mount the
/// shared root filesystem.
fn has_modules(root: &Path) -> bool {
    ["usr/lib/modules", "lib/modules"].iter().any(|m| {
        fs::read_dir(root.join(m))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.path().join("kernel").is_dir())
            })
            .unwrap_or(false)
    })
}

/// A cached, complete kernel of this version, if any.
pub fn cached(cache_root: &Path, ver: &str) -> Option<Kernel> {
    let dir = cache_root.join("kernels").join(ver);
    if !dir.join(MARKER).exists() {
        return None;
    }
    let (vmlinuz, _) = find_in_tree(&dir)?;
    Some(Kernel {
        label: ver.to_string(),
        vmlinuz,
    })
}

/// Find vmlinuz and config in an unpacked package tree: `usr/lib/modules/*/`
/// (Debian from 6.19) or `boot/` (up to 6.18).
pub fn find_in_tree(root: &Path) -> Option<(PathBuf, Option<PathBuf>)> {
    let mut module_dirs: Vec<PathBuf> = fs::read_dir(root.join("usr/lib/modules"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    module_dirs.sort();
    let mut boot: Vec<PathBuf> = fs::read_dir(root.join("boot"))
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    boot.sort();
    let named = |prefix: &str| {
        boot.iter()
            .rfind(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with(prefix))
            })
            .cloned()
    };
    let vmlinuz = module_dirs
        .iter()
        .map(|d| d.join("vmlinuz"))
        .find(|v| v.is_file())
        .or_else(|| named("vmlinuz-"))?;
    let config = module_dirs
        .iter()
        .map(|d| d.join("config"))
        .find(|c| c.is_file())
        .or_else(|| named("config-"));
    Some((vmlinuz, config))
}

/// A config file that sits beside a kernel image: `config`, `config-<suffix>`
/// for `vmlinuz-<suffix>`, or a build tree's `.config` for `arch/x86/boot/bzImage`.
pub fn config_beside(image: &Path) -> Option<PathBuf> {
    let dir = image.parent()?;
    let name = image.file_name()?.to_string_lossy().into_owned();
    let mut candidates = vec![dir.join("config")];
    if let Some(suffix) = name.strip_prefix("vmlinuz-") {
        candidates.push(dir.join(format!("config-{suffix}")));
    }
    if let Some(tree) = dir.ancestors().nth(3) {
        candidates.push(tree.join(".config"));
    }
    candidates.push(dir.join(".config"));
    candidates.into_iter().find(|c| c.is_file())
}

/// Is sched_ext built in, according to this config text?
pub fn config_has_sched_ext(text: &str) -> bool {
    text.lines().any(|l| l.trim() == "CONFIG_SCHED_CLASS_EXT=y")
}

fn check_config(config: &Path, what: &str) -> Result<()> {
    let text = util::read_lossy(config)?;
    if !config_has_sched_ext(&text) {
        bail!(
            "{what} is built without sched_ext: {} lacks CONFIG_SCHED_CLASS_EXT=y",
            config.display()
        );
    }
    Ok(())
}

/// Generate modules.dep and friends now (Debian packages do not ship them),
/// instead of vng doing it on the first boot, where it costs half a minute.
/// Best effort: vng still does it itself when this fails.
fn depmod(root: &Path) {
    let Some(depmod) = ["depmod", "/usr/sbin/depmod", "/sbin/depmod"]
        .iter()
        .find(|c| c.contains('/') && util::is_executable(Path::new(c)) || util::on_path(c))
    else {
        return;
    };
    for base in [root.join("usr"), root.to_path_buf()] {
        let Ok(rd) = fs::read_dir(base.join("lib/modules")) else {
            continue;
        };
        for e in rd.filter_map(|e| e.ok()) {
            let kver = e.file_name().to_string_lossy().into_owned();
            if !e.path().join("kernel").is_dir() {
                continue;
            }
            let ok = Command::new(depmod)
                .args(["-a", "-b"])
                .arg(&base)
                .arg(&kver)
                .stderr(std::process::Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                eprintln!("xtask: depmod for {kver} failed; vng will retry on the first boot");
            }
        }
        return;
    }
}

/// Resolve a selection to a bootable kernel, fetching pinned ones if needed.
pub fn resolve(sel: &KernelSel) -> Result<Kernel> {
    match sel {
        KernelSel::Pinned(v) => fetch(v),
        KernelSel::Path(p) => {
            let config = config_beside(p);
            match &config {
                Some(c) => check_config(c, &format!("kernel {}", p.display()))?,
                None => eprintln!(
                    "xtask: no config found beside {}; cannot check it has CONFIG_SCHED_CLASS_EXT=y",
                    p.display()
                ),
            }
            Ok(Kernel {
                label: path_label(p),
                vmlinuz: p.clone(),
            })
        }
    }
}

/// A short, path-safe name for a user-supplied kernel image.
pub fn path_label(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let base = if name == "bzImage" && p.ancestors().nth(3).is_some_and(|a| a.ends_with("arch")) {
        // A kernel build tree: name it after the tree (`<tree>/arch/x86/boot/bzImage`).
        p.ancestors()
            .nth(4)
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "custom".to_string())
    } else if name == "vmlinuz" || name == "bzImage" || name.is_empty() {
        p.parent()
            .and_then(|d| d.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "custom".to_string())
    } else {
        name.strip_prefix("vmlinuz-").unwrap_or(&name).to_string()
    };
    base.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._+-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// Fetch a pinned kernel into the cache (or reuse the cached copy).
pub fn fetch(ver: &str) -> Result<Kernel> {
    if !PINNED.contains(&ver) {
        bail!(
            "unknown kernel version `{ver}`; known versions: {}",
            known_list()
        );
    }
    let cache = paths::cache_root()?;
    if let Some(k) = cached(&cache, ver) {
        return Ok(k);
    }
    let apt = apt::Apt::prepare(&cache)?;
    let image = image_package(ver);
    if !apt.has_package(&image)? {
        bail!(
            "kernel {ver}: package {image} is not in the {} index",
            apt::SUITE
        );
    }
    let (pkgs, unlisted) = packages_for(ver, &apt.depends(&image)?);
    eprintln!("xtask: fetching kernel {ver}: {}", pkgs.join(" "));

    let kdir = cache.join("kernels");
    let pid = std::process::id();
    let dl = kdir.join(format!(".download-{ver}-{pid}"));
    let staging = kdir.join(format!(".unpack-{ver}-{pid}"));
    let result = (|| {
        for d in [&dl, &staging] {
            fs::create_dir_all(d).with_context(|| format!("failed to create {}", d.display()))?;
        }
        apt.download(&pkgs, &dl)?;
        // From 6.19 the index may list a kernel's image but no longer the config
        // and modules packages it depends on (6.19.14, 7.0.13 and 7.1.13 in late
        // 2026); the archive's pool still has them, at the image's exact version.
        if !unlisted.is_empty() {
            let version = apt.version(&image)?;
            for name in &unlisted {
                apt.download_unlisted(name, &version, &dl)?;
                eprintln!(
                    "xtask: kernel {ver}: {name} {version} is no longer in the {} index; \
                     fetched from the archive's pool (checked: package name and version; \
                     no index checksum exists for it)",
                    apt::SUITE
                );
            }
        }
        let mut debs: Vec<PathBuf> = fs::read_dir(&dl)
            .with_context(|| format!("failed to list {}", dl.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "deb"))
            .collect();
        debs.sort();
        if debs.len() != pkgs.len() + unlisted.len() {
            bail!(
                "kernel {ver}: expected {} packages, apt downloaded {}",
                pkgs.len() + unlisted.len(),
                debs.len()
            );
        }
        for deb in &debs {
            util::run_capture(
                Command::new("dpkg-deb").arg("-x").arg(deb).arg(&staging),
                &format!("dpkg-deb -x {}", deb.display()),
            )?;
        }
        let (vmlinuz, config) = match find_in_tree(&staging) {
            Some((v, c)) => (Some(v), c),
            None => (None, None),
        };
        let mut lacking = Vec::new();
        if vmlinuz.is_none() {
            lacking.push("vmlinuz");
        }
        if config.is_none() {
            lacking.push("config");
        }
        if !has_modules(&staging) {
            lacking.push("modules");
        }
        if !lacking.is_empty() {
            let why = if unlisted.is_empty() {
                String::new()
            } else {
                format!(
                    "; {image} depends on {}, which the {} index no longer lists",
                    unlisted.join(" and "),
                    apt::SUITE
                )
            };
            bail!(
                "kernel {ver} cannot be assembled: its packages lack {}{why}",
                lacking.join(", ")
            );
        }
        let config = config.context("config checked above")?;
        check_config(&config, &format!("kernel {ver}"))?;
        depmod(&staging);
        fs::write(staging.join(MARKER), b"").context("failed to write the .complete marker")?;
        let dest = kdir.join(ver);
        if dest.exists() && !dest.join(MARKER).exists() {
            fs::remove_dir_all(&dest)
                .with_context(|| format!("failed to remove incomplete {}", dest.display()))?;
        }
        // A concurrent fetch may have won the race; its copy is as good as ours.
        if fs::rename(&staging, &dest).is_err() && !dest.join(MARKER).exists() {
            bail!("failed to move kernel {ver} into {}", dest.display());
        }
        Ok(())
    })();
    let _ = fs::remove_dir_all(&dl);
    let _ = fs::remove_dir_all(&staging);
    result?;
    cached(&cache, ver)
        .with_context(|| format!("kernel {ver} missing from the cache after fetching"))
}

#[cfg(test)]
mod tests;
