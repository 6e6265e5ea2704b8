//! Where things live: the workspace, its target directory and the per-user cache.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// The workspace root. xtask always runs from its own source tree (`cargo xtask`),
/// so the compile-time manifest directory is reliable.
pub fn workspace_root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest
        .ancestors()
        .nth(2)
        .unwrap_or(manifest)
        .to_path_buf()
}

/// Cargo's target directory, honouring `CARGO_TARGET_DIR` like cargo does.
pub fn target_dir() -> Result<PathBuf> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(d) if !d.is_empty() => {
            std::path::absolute(PathBuf::from(d)).context("failed to resolve CARGO_TARGET_DIR")
        }
        _ => Ok(workspace_root().join("target")),
    }
}

/// Our own corner of the target directory (`target/xtask`).
pub fn xtask_dir() -> Result<PathBuf> {
    Ok(target_dir()?.join("xtask"))
}

/// `$XDG_CACHE_HOME/scx-suite` or `~/.cache/scx-suite`.
pub fn cache_root() -> Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME") {
        let p = PathBuf::from(x);
        // The XDG spec says relative values are invalid and must be ignored.
        if p.is_absolute() {
            return Ok(p.join("scx-suite"));
        }
    }
    match std::env::var_os("HOME") {
        Some(h) if !h.is_empty() => Ok(PathBuf::from(h).join(".cache").join("scx-suite")),
        _ => bail!("cannot find a cache directory: neither XDG_CACHE_HOME nor HOME is set"),
    }
}

/// `crates/xtask/vm/lib.sh`, the helpers for scheduler check scripts.
pub fn lib_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vm")
        .join("lib.sh")
}

/// `crates/xtask/vm/faults/`, the fault suite run for every scheduler.
pub fn faults_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vm")
        .join("faults")
}

/// `crates/xtask/vm/soak.sh`, the long run of `xtask soak`.
pub fn soak_sh() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("vm")
        .join("soak.sh")
}
