//! `setup`: the host packages and the virtme-ng tool the suite needs.
//!
//! Debian packages are checked with `dpkg-query` and installed with apt-get
//! from the system's own sources (nothing is added to them). virtme-ng comes
//! from PyPI: `python3 -m pip install virtme-ng`, retried with
//! `--break-system-packages` on an "externally managed" (PEP 668) Python such
//! as Debian 12's, which as root puts `vng` in /usr/local/bin.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, ExitCode, Stdio};

use anyhow::{bail, Context, Result};

use crate::util;

/// What the suite needs from the distribution, and why.
const DEBIAN_PACKAGES: &[(&str, &str)] = &[
    ("qemu-system-x86", "the VM"),
    (
        "udev",
        "virtio-serial ports in the guest (without it vng loses the guest's output)",
    ),
    ("kmod", "module loading in the guest"),
    ("busybox-static", "virtme-ng's initramfs"),
    ("file", "virtme-ng's checks of the kernel and busybox"),
    ("python3-pip", "installing virtme-ng"),
    ("python3-venv", "installing virtme-ng"),
    (
        "debian-archive-keyring",
        "the isolated trixie-backports apt setup",
    ),
    ("clang-19", "compiling BPF"),
    ("libelf-dev", "libbpf"),
    ("zlib1g-dev", "libbpf"),
    ("pkg-config", "libbpf-sys"),
    ("make", "libbpf-sys"),
    ("gcc", "libbpf-sys"),
    ("bpftool", "vmlinux.h"),
    ("zstd", "vmlinux.h from a compressed kernel"),
    ("stress-ng", "workloads"),
    ("rt-tests", "hackbench and cyclictest"),
    ("linux-perf", "perf bench"),
    ("fonts-dejavu-core", "the text of the benchmark charts"),
];

/// The PyPI package that provides `vng`.
const VNG_PIP: &str = "virtme-ng";

#[derive(clap::Args)]
pub struct SetupArgs {
    /// Install without asking
    #[arg(long, short)]
    yes: bool,
    /// Only check; exit non-zero when something is missing
    #[arg(long)]
    check: bool,
}

#[derive(Debug, Default)]
pub struct Missing {
    pub packages: Vec<String>,
    pub vng: bool,
}

impl Missing {
    pub fn is_empty(&self) -> bool {
        self.packages.is_empty() && !self.vng
    }

    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.packages.is_empty() {
            parts.push(format!("Debian packages {}", self.packages.join(" ")));
        }
        if self.vng {
            parts.push(format!("{VNG_PIP} (the `vng` command, from PyPI)"));
        }
        parts.join(" and ")
    }
}

fn os_id() -> String {
    std::fs::read_to_string("/etc/os-release")
        .unwrap_or_default()
        .lines()
        .find_map(|l| {
            l.strip_prefix("ID=")
                .map(|v| v.trim_matches('"').to_string())
        })
        .unwrap_or_default()
}

/// The package list for this distribution (Ubuntu ships perf and bpftool in linux-tools).
pub fn packages_for(os: &str) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for (p, _) in DEBIAN_PACKAGES {
        let p = match (os, *p) {
            ("ubuntu", "linux-perf" | "bpftool") => "linux-tools-common",
            (_, p) => p,
        };
        if !out.contains(&p) {
            out.push(p);
        }
    }
    out
}

/// Names reported as installed by `dpkg-query -W -f '${Package}\t${db:Status-Status}\n'`.
pub fn parse_dpkg_query(out: &str) -> Vec<String> {
    out.lines()
        .filter_map(|l| {
            let (name, status) = l.split_once('\t')?;
            (status.trim() == "installed")
                .then(|| name.split(':').next().unwrap_or(name).to_string())
        })
        .collect()
}

pub fn find_missing() -> Result<Missing> {
    if !util::on_path("dpkg-query") {
        bail!("dpkg-query not found: `cargo xtask setup` supports Debian and Ubuntu hosts");
    }
    let pkgs = packages_for(&os_id());
    // dpkg-query exits 1 when it does not know a package at all; stdout still
    // lists the ones it knows.
    let out = Command::new("dpkg-query")
        .args(["-W", "-f", "${Package}\t${db:Status-Status}\n"])
        .args(&pkgs)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .context("failed to run dpkg-query")?;
    let installed = parse_dpkg_query(&String::from_utf8_lossy(&out.stdout));
    Ok(Missing {
        packages: pkgs
            .iter()
            .filter(|p| !installed.iter().any(|i| i == *p))
            .map(|p| p.to_string())
            .collect(),
        vng: !util::on_path("vng"),
    })
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// The exact commands a non-root user should run.
pub fn manual_commands(m: &Missing) -> Vec<String> {
    let mut out = Vec::new();
    if !m.packages.is_empty() {
        out.push(format!(
            "sudo apt-get install -y --no-install-recommends {}",
            m.packages.join(" ")
        ));
    }
    if m.vng {
        out.push(format!(
            "sudo python3 -m pip install --break-system-packages {VNG_PIP}   \
             # or, without root: pipx install {VNG_PIP}"
        ));
    }
    out
}

fn install(m: &Missing) -> Result<()> {
    if !m.packages.is_empty() {
        eprintln!(
            "xtask: installing Debian packages: {}",
            m.packages.join(" ")
        );
        for (p, why) in DEBIAN_PACKAGES
            .iter()
            .filter(|(p, _)| m.packages.iter().any(|x| x == p))
        {
            eprintln!("         {p:<24} {why}");
        }
        util::run_inherit(
            Command::new("apt-get").args(["-q", "update"]),
            "apt-get update",
        )?;
        util::run_inherit(
            Command::new("apt-get")
                .env("DEBIAN_FRONTEND", "noninteractive")
                .args(["-q", "install", "-y", "--no-install-recommends"])
                .args(&m.packages),
            "apt-get install",
        )?;
    }
    if m.vng {
        install_vng()?;
    }
    Ok(())
}

fn install_vng() -> Result<()> {
    let python = if util::on_path("python3") {
        "python3"
    } else {
        "/usr/bin/python3"
    };
    let mut args = vec![
        "-m",
        "pip",
        "install",
        "--disable-pip-version-check",
        VNG_PIP,
    ];
    eprintln!(
        "xtask: installing {VNG_PIP} from PyPI: {python} {}",
        args.join(" ")
    );
    let out = Command::new(python)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .context("failed to run pip")?;
    let mut ok = out.status.success();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    if !ok && err.contains("externally-managed-environment") {
        // Debian 12's Python refuses pip installs by default (PEP 668); as root
        // this puts vng into /usr/local, which Debian keeps apart from its own files.
        args.insert(3, "--break-system-packages");
        eprintln!(
            "xtask: the Python is externally managed; retrying: {python} {}",
            args.join(" ")
        );
        let st = Command::new(python)
            .args(&args)
            .stdin(Stdio::null())
            .status()
            .context("failed to run pip")?;
        ok = st.success();
    } else if !ok {
        eprint!("{err}");
    }
    if !ok {
        bail!("installing {VNG_PIP} with pip failed");
    }
    if !util::on_path("vng") {
        bail!(
            "{VNG_PIP} is installed but `vng` is not on PATH (pip may have put it in ~/.local/bin)"
        );
    }
    Ok(())
}

/// Used by `test` and `demo`: return when everything is there; otherwise
/// install it when allowed and root, or stop with the commands to run.
pub fn ensure(allow_install: bool) -> Result<()> {
    let m = find_missing()?;
    if m.is_empty() {
        return Ok(());
    }
    if allow_install && is_root() {
        eprintln!("xtask: missing {}; installing", m.describe());
        install(&m)?;
        return recheck();
    }
    let how = if allow_install {
        format!(
            "run as root, or run these first:\n  {}",
            manual_commands(&m).join("\n  ")
        )
    } else if is_root() {
        "run `cargo xtask setup` (or pass --install)".to_string()
    } else {
        format!("run:\n  {}", manual_commands(&m).join("\n  "))
    };
    bail!("missing {}; {how}", m.describe())
}

fn recheck() -> Result<()> {
    let m = find_missing()?;
    if !m.is_empty() {
        bail!("still missing after installing: {}", m.describe());
    }
    eprintln!("xtask: setup complete");
    Ok(())
}

pub fn run(a: SetupArgs) -> Result<ExitCode> {
    let m = find_missing()?;
    if m.is_empty() {
        println!("everything the suite needs is installed");
        return Ok(ExitCode::SUCCESS);
    }
    println!("missing: {}", m.describe());
    if a.check {
        println!(
            "to install: cargo xtask setup (as root), or:\n  {}",
            manual_commands(&m).join("\n  ")
        );
        return Ok(ExitCode::FAILURE);
    }
    if !is_root() {
        println!(
            "not root; run these commands:\n  {}",
            manual_commands(&m).join("\n  ")
        );
        return Ok(ExitCode::FAILURE);
    }
    if !a.yes && std::io::stdin().is_terminal() {
        print!("install them now? [Y/n] ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim().to_ascii_lowercase().starts_with('n') {
            return Ok(ExitCode::FAILURE);
        }
    }
    install(&m)?;
    recheck()?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dpkg_query_output() {
        let out = "udev\tinstalled\nkmod\tnot-installed\nzstd\tconfig-files\nlibelf-dev:amd64\tinstalled\n";
        assert_eq!(parse_dpkg_query(out), ["udev", "libelf-dev"]);
    }

    #[test]
    fn package_lists() {
        let d = packages_for("debian");
        assert!(d.contains(&"qemu-system-x86") && d.contains(&"udev") && d.contains(&"linux-perf"));
        let u = packages_for("ubuntu");
        assert!(!u.contains(&"linux-perf") && !u.contains(&"bpftool"));
        assert_eq!(u.iter().filter(|p| **p == "linux-tools-common").count(), 1);
    }

    #[test]
    fn commands_for_non_root() {
        let m = Missing {
            packages: vec!["udev".into(), "zstd".into()],
            vng: true,
        };
        let c = manual_commands(&m);
        assert_eq!(
            c[0],
            "sudo apt-get install -y --no-install-recommends udev zstd"
        );
        assert!(c[1].contains("pip install --break-system-packages virtme-ng"));
        assert_eq!(
            m.describe(),
            "Debian packages udev zstd and virtme-ng (the `vng` command, from PyPI)"
        );
    }
}
