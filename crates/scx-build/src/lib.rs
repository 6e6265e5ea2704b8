//! Build-time helper for the schedulers: compile `src/bpf/main.bpf.c` against the
//! suite's headers and generate the libbpf-rs skeleton, writing only to `OUT_DIR`.
//!
//! A separate crate from scx-core so that build scripts do not compile the runtime's
//! dependency tree a second time. A scheduler's whole `build.rs` is
//! `fn main() { scx_build::build_scheduler(); }`.
//!
//! Environment, for packagers:
//! - `BPF_CLANG`: the clang to use, version 18 or newer (scx_utils' build script, which
//!   reads the same variable, refuses older ones; the BPF side itself needs 16, as
//!   older ones lose the high bits of 64-bit enum values). Unset in the environment,
//!   the workspace's `.cargo/config.toml` points it at [`SEARCH`], a script that runs
//!   the first clang 18 or newer on `PATH` (`clang`, then `clang-22` down to
//!   `clang-18`), so one search picks the compiler for both build scripts. Without
//!   any `BPF_CLANG` (a build outside the workspace's config), scx-build uses the
//!   same script.
//! - `BPF_CFLAGS`: extra flags appended to the compiler command line.
//! - `SCX_BPF_WERROR=1`: treat BPF compiler warnings as errors (CI sets it).

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use libbpf_cargo::SkeletonBuilder;

/// The suite's `include/` directory.
fn include_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../include")
}

fn clang_major(clang: &str) -> Option<u32> {
    let out = Command::new(clang).arg("--version").output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let ver = text.lines().next()?.split("clang version ").nth(1)?;
    ver.split('.').next()?.trim().parse().ok()
}

/// The oldest clang the build accepts: scx_utils' build script refuses older ones.
pub const MIN_CLANG: u32 = 18;

/// The script that searches `PATH` for a clang of version [`MIN_CLANG`] or newer.
pub const SEARCH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/bpf-clang");

/// Picks the BPF compiler (see the crate docs).
pub fn find_clang() -> Result<String> {
    let clang = env::var("BPF_CLANG").unwrap_or_else(|_| SEARCH.to_string());
    let major = clang_major(&clang).with_context(|| {
        format!(
            "BPF_CLANG={clang} does not run as clang {MIN_CLANG} or newer: install clang-19, \
             or set BPF_CLANG to a clang binary"
        )
    })?;
    if major < MIN_CLANG {
        bail!("BPF_CLANG={clang} is clang {major}; the build needs clang {MIN_CLANG} or newer");
    }
    Ok(clang)
}

fn target_arch() -> &'static str {
    match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("aarch64") => "arm64",
        Ok("riscv64") => "riscv",
        Ok("s390x") => "s390",
        Ok("powerpc64") => "powerpc",
        _ => "x86",
    }
}

fn build(manifest_dir: &Path, out_dir: &Path) -> Result<()> {
    let src = manifest_dir.join("src/bpf/main.bpf.c");
    let obj = out_dir.join("main.bpf.o");
    let skel = out_dir.join("bpf_skel.rs");
    let include = include_dir();
    let arch = target_arch();
    let vmlinux_dir = include.join("vmlinux").join(arch);
    if !vmlinux_dir.join("vmlinux.h").is_file() {
        bail!(
            "{} is missing: the suite vendors one vmlinux.h per architecture",
            vmlinux_dir.display()
        );
    }

    // libbpf's own BPF headers (bpf_helpers.h, …) from the libbpf the loader links.
    let libbpf_inc = out_dir.join("libbpf");
    fs::create_dir_all(libbpf_inc.join("bpf"))?;
    for (name, text) in libbpf_rs::libbpf_sys::API_HEADERS.iter() {
        fs::write(libbpf_inc.join("bpf").join(name), text)
            .with_context(|| format!("failed to write {name} to OUT_DIR"))?;
    }

    let clang = find_clang()?;
    // Paths relative to the workspace in __FILE__ (scx_bpf_error()'s "file:line:")
    // and in debug info, whatever directory the tree was built in.
    let root = include
        .parent()
        .unwrap_or(&include)
        .canonicalize()
        .context("failed to resolve the workspace root")?;
    let mut cmd = Command::new(&clang);
    cmd.args([
        "-g",
        "-O2",
        "-target",
        "bpf",
        "-mcpu=v3",
        "-Wall",
        "-fno-stack-protector",
    ])
    .arg(format!("-ffile-prefix-map={}/=", root.display()))
    .arg(format!("-D__TARGET_ARCH_{arch}"))
    .arg("-I")
    .arg(&include)
    .arg("-I")
    .arg(&vmlinux_dir)
    .arg("-I")
    .arg(&libbpf_inc)
    .arg("-I")
    .arg(manifest_dir.join("src/bpf"));
    if env::var("SCX_BPF_WERROR").is_ok_and(|v| v == "1") {
        cmd.arg("-Werror");
    }
    if let Ok(extra) = env::var("BPF_CFLAGS") {
        cmd.args(extra.split_whitespace());
    }
    cmd.arg("-c").arg(&src).arg("-o").arg(&obj);
    let out = cmd
        .output()
        .with_context(|| format!("failed to run {clang}"))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{clang} failed to compile {}:\n{stderr}", src.display());
    }
    for line in stderr.lines().filter(|l| l.contains("warning:")) {
        println!("cargo:warning={line}");
    }

    SkeletonBuilder::new()
        .obj(&obj)
        .generate(&skel)
        .with_context(|| format!("failed to generate the skeleton of {}", src.display()))?;

    println!(
        "cargo:rerun-if-changed={}",
        manifest_dir.join("src/bpf").display()
    );
    println!("cargo:rerun-if-changed={}", include.display());
    for var in ["BPF_CLANG", "BPF_CFLAGS", "SCX_BPF_WERROR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
    Ok(())
}

/// Compiles the calling package's `src/bpf/main.bpf.c` into `$OUT_DIR/main.bpf.o` and
/// generates `$OUT_DIR/bpf_skel.rs` (include it with `include!`). On failure it prints
/// the reason and ends the build script with status 1.
pub fn build_scheduler() {
    let dirs = env::var_os("CARGO_MANIFEST_DIR").zip(env::var_os("OUT_DIR"));
    let Some((manifest, out)) = dirs else {
        eprintln!("error: scx_build::build_scheduler() must run from a build script");
        std::process::exit(1);
    };
    if let Err(e) = build(Path::new(&manifest), Path::new(&out)) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A directory of fake compilers: each prints `clang version <v>.0.0` for
    /// `--version` and `ran <name>` otherwise.
    fn fake_path(tag: &str, clangs: &[(&str, u32)], tools: &[&str]) -> PathBuf {
        let dir = env::temp_dir().join(format!("scx-build-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        for (name, v) in clangs {
            let script = format!(
                "#!/bin/sh\nif [ \"$1\" = --version ]; then echo 'clang version {v}.0.0'; \
                 else echo 'ran {name}'; fi\n"
            );
            let p = dir.join(name);
            fs::write(&p, script).unwrap();
            Command::new("chmod").arg("+x").arg(&p).status().unwrap();
        }
        for tool in tools {
            std::os::unix::fs::symlink(Path::new("/usr/bin").join(tool), dir.join(tool)).unwrap();
        }
        dir
    }

    fn search(path: &Path) -> (bool, String, String) {
        let out = Command::new("/bin/sh")
            .arg(SEARCH)
            .arg("-c")
            .env("PATH", path)
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn the_search_skips_an_old_plain_clang_for_a_versioned_one() {
        let dir = fake_path(
            "new",
            &[("clang", 14), ("clang-17", 17), ("clang-20", 20)],
            &["sed", "head"],
        );
        let (ok, out, _) = search(&dir);
        assert!(ok && out.trim() == "ran clang-20", "{out}");
        fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_search_refuses_when_every_clang_is_too_old() {
        let dir = fake_path("old", &[("clang", 14), ("clang-17", 17)], &["sed", "head"]);
        let (ok, out, err) = search(&dir);
        assert!(!ok && out.is_empty(), "{out}");
        assert!(
            err.contains("no clang 18 or newer") && err.lines().count() == 1,
            "{err}"
        );
        fs::remove_dir_all(dir).unwrap();
    }
}
