//! An isolated apt configuration for Debian's trixie-backports kernels.
//!
//! The system's own apt sources are never changed: adding a newer suite there
//! makes the next `apt-get install` upgrade half the machine. Instead we derive
//! a private one-line sources file from the system's Debian entry (same URI and
//! keyring, suite `trixie-backports`) and point apt at private state and cache
//! directories. Deriving the URI keeps mirror host names out of the project.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use anyhow::{bail, Context, Result};

use crate::util;

/// The suite that carries sched_ext kernels.
pub const SUITE: &str = "trixie-backports";
/// Debian's archive keyring, used when the system entry names none.
pub const DEFAULT_KEYRING: &str = "/usr/share/keyrings/debian-archive-keyring.gpg";
/// Overrides the archive URI (for hosts without a Debian entry, e.g. Ubuntu).
pub const MIRROR_ENV: &str = "SCX_DEBIAN_MIRROR";
/// Refresh the private package lists when they are older than this.
const MAX_LIST_AGE: Duration = Duration::from_secs(24 * 3600);

/// Debian release names and aliases; a suite counts as Debian when its part
/// before the first `-` is one of these.
const DEBIAN_SUITES: &[&str] = &[
    "buster",
    "bullseye",
    "bookworm",
    "trixie",
    "forky",
    "duke",
    "sid",
    "oldoldstable",
    "oldstable",
    "stable",
    "testing",
    "unstable",
];

/// One `deb` source as written in the system configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub uri: String,
    pub suites: Vec<String>,
    /// A keyring path; `None` when absent or when the key is embedded inline.
    pub signed_by: Option<String>,
}

/// Parse deb822 `.sources` text. Only `deb` (binary) stanzas that are not
/// disabled are returned, one `Source` per URI.
pub fn parse_deb822(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for stanza in stanzas(text) {
        let field = |name: &str| {
            stanza
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        };
        let types = field("Types").unwrap_or("");
        if !types.split_whitespace().any(|t| t == "deb") {
            continue;
        }
        if field("Enabled").is_some_and(|e| e.trim().eq_ignore_ascii_case("no")) {
            continue;
        }
        // A multi-line Signed-By holds an inline key, which we cannot point to.
        let signed_by = field("Signed-By")
            .map(str::trim)
            .filter(|s| !s.is_empty() && !s.contains('\n'))
            .map(str::to_string);
        let suites: Vec<String> = field("Suites")
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_string)
            .collect();
        for uri in field("URIs").unwrap_or("").split_whitespace() {
            out.push(Source {
                uri: uri.to_string(),
                suites: suites.clone(),
                signed_by: signed_by.clone(),
            });
        }
    }
    out
}

/// Split deb822 text into stanzas of (field, value); continuation lines are
/// joined with newlines, comments dropped.
fn stanzas(text: &str) -> Vec<Vec<(String, String)>> {
    let mut all = Vec::new();
    let mut cur: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !cur.is_empty() {
                all.push(std::mem::take(&mut cur));
            }
            continue;
        }
        if line.starts_with('#') {
            continue;
        }
        if line.starts_with(' ') || line.starts_with('\t') {
            if let Some((_, v)) = cur.last_mut() {
                v.push('\n');
                v.push_str(line.trim());
            }
            continue;
        }
        if let Some((k, v)) = line.split_once(':') {
            cur.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    if !cur.is_empty() {
        all.push(cur);
    }
    all
}

/// Parse one-line-style `sources.list` text (`deb [opts] URI SUITE COMPONENTS...`).
pub fn parse_one_line(text: &str) -> Vec<Source> {
    let mut out = Vec::new();
    for raw in text.lines() {
        let line = raw.split('#').next().unwrap_or("").trim();
        let Some(rest) = line.strip_prefix("deb") else {
            continue;
        };
        // `deb-src` and other words that merely start with "deb" are skipped.
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let mut rest = rest.trim_start();
        let mut signed_by = None;
        if let Some(after) = rest.strip_prefix('[') {
            let Some((opts, tail)) = after.split_once(']') else {
                continue;
            };
            for opt in opts.split_whitespace() {
                if let Some(v) = opt.strip_prefix("signed-by=") {
                    signed_by = Some(v.to_string());
                }
            }
            rest = tail.trim_start();
        }
        let mut words = rest.split_whitespace();
        let (Some(uri), Some(suite)) = (words.next(), words.next()) else {
            continue;
        };
        out.push(Source {
            uri: uri.to_string(),
            suites: vec![suite.to_string()],
            signed_by,
        });
    }
    out
}

fn is_debian_release_suite(suite: &str) -> bool {
    if suite.ends_with("-security") {
        return false;
    }
    let base = suite.split('-').next().unwrap_or("");
    DEBIAN_SUITES.contains(&base)
}

/// The first source whose suite is a Debian release (not `-security`).
pub fn pick_debian(sources: &[Source]) -> Option<&Source> {
    sources
        .iter()
        .find(|s| s.suites.iter().any(|x| is_debian_release_suite(x)))
}

/// Read the system's sources: deb822 files, then `sources.list`, then `.list` files.
fn system_sources(etc_apt: &Path) -> Vec<Source> {
    let dir = etc_apt.join("sources.list.d");
    let mut entries: Vec<PathBuf> = fs::read_dir(&dir)
        .map(|rd| rd.filter_map(|e| e.ok().map(|e| e.path())).collect())
        .unwrap_or_default();
    entries.sort();
    let mut out = Vec::new();
    let read = |p: &Path| fs::read_to_string(p).unwrap_or_default();
    for p in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "sources"))
    {
        out.extend(parse_deb822(&read(p)));
    }
    out.extend(parse_one_line(&read(&etc_apt.join("sources.list"))));
    for p in entries
        .iter()
        .filter(|p| p.extension().is_some_and(|e| e == "list"))
    {
        out.extend(parse_one_line(&read(p)));
    }
    out
}

/// The line of our private sources file, from the system entry or the override.
pub fn private_source_line(sources: &[Source], mirror_override: Option<&str>) -> Result<String> {
    let found = pick_debian(sources);
    let uri = match (mirror_override, found) {
        (Some(m), _) if !m.trim().is_empty() => m.trim().to_string(),
        (_, Some(s)) => s.uri.clone(),
        _ => bail!(
            "no Debian entry (suite such as bookworm or trixie) found in /etc/apt/sources.list or \
             /etc/apt/sources.list.d/; on a non-Debian host (e.g. Ubuntu) set {MIRROR_ENV} to a Debian \
             archive URI and install debian-archive-keyring"
        ),
    };
    let keyring = found
        .and_then(|s| s.signed_by.clone())
        .unwrap_or_else(|| DEFAULT_KEYRING.to_string());
    Ok(format!("deb [signed-by={keyring}] {uri} {SUITE} main\n"))
}

/// The private apt setup under `<cache>/apt`.
pub struct Apt {
    dir: PathBuf,
}

impl Apt {
    /// Write (or refresh) the private configuration and make sure the package
    /// lists are at most a day old.
    pub fn prepare(cache_root: &Path) -> Result<Apt> {
        let dir = cache_root.join("apt");
        for sub in ["lists/partial", "cache/archives/partial"] {
            fs::create_dir_all(dir.join(sub))
                .with_context(|| format!("failed to create {}", dir.join(sub).display()))?;
        }
        let line = private_source_line(
            &system_sources(Path::new("/etc/apt")),
            std::env::var(MIRROR_ENV).ok().as_deref(),
        )?;
        let keyring = line
            .split("signed-by=")
            .nth(1)
            .and_then(|s| s.split(']').next())
            .unwrap_or(DEFAULT_KEYRING);
        if !Path::new(keyring).exists() {
            bail!("apt keyring {keyring} is missing; install the debian-archive-keyring package");
        }
        let list = dir.join("sources.list");
        let changed = fs::read_to_string(&list)
            .map(|old| old != line)
            .unwrap_or(true);
        if changed {
            util::write_atomic(&list, line.as_bytes())?;
        }
        let apt = Apt { dir };
        if changed || apt.lists_stale() {
            apt.update()?;
        }
        Ok(apt)
    }

    /// The `-o` options that isolate apt from the system configuration.
    fn opts(&self) -> Vec<String> {
        let d = |s: &str| self.dir.join(s).display().to_string();
        let mut o = vec![
            format!("Dir::Etc::SourceList={}", d("sources.list")),
            "Dir::Etc::SourceParts=/nonexistent".to_string(),
            format!("Dir::State::Lists={}", d("lists")),
            format!("Dir::Cache={}", d("cache")),
        ];
        // As root apt drops to the `_apt` user for downloads, which cannot
        // write into a private directory under root's home.
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            o.push("APT::Sandbox::User=root".to_string());
        }
        o.into_iter().flat_map(|x| ["-o".to_string(), x]).collect()
    }

    fn stamp(&self) -> PathBuf {
        self.dir.join("lists").join(".scx-updated")
    }

    fn lists_stale(&self) -> bool {
        let has_packages = fs::read_dir(self.dir.join("lists"))
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .any(|e| e.file_name().to_string_lossy().contains("_Packages"))
            })
            .unwrap_or(false);
        let age = fs::metadata(self.stamp())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok());
        !has_packages || age.is_none_or(|a| a > MAX_LIST_AGE)
    }

    fn update(&self) -> Result<()> {
        eprintln!(
            "xtask: updating the private {SUITE} package lists in {}",
            self.dir.display()
        );
        let out = Command::new("apt-get")
            .args(self.opts())
            .args(["-q", "update"])
            .output()
            .context("failed to run apt-get update (is apt installed?)")?;
        if !out.status.success() {
            bail!(
                "apt-get update of the private {SUITE} lists failed: {}",
                util::last_line(&String::from_utf8_lossy(&out.stderr)).unwrap_or("(no output)")
            );
        }
        util::write_atomic(&self.stamp(), b"")
    }

    /// Does the index hold a package of exactly this name?
    pub fn has_package(&self, name: &str) -> Result<bool> {
        let pattern = format!("^{}$", name.replace('.', r"\.").replace('+', r"\+"));
        let out = util::run_capture(
            Command::new("apt-cache")
                .args(self.opts())
                .args(["search", "--names-only", &pattern]),
            "apt-cache search",
        )?;
        Ok(out.lines().any(|l| l.split(" - ").next() == Some(name)))
    }

    /// Direct dependencies of a package (names only, virtual `<...>` ones dropped).
    pub fn depends(&self, name: &str) -> Result<Vec<Dep>> {
        let out = util::run_capture(
            Command::new("apt-cache")
                .args(self.opts())
                .args(["depends", name]),
            "apt-cache depends",
        )?;
        Ok(parse_depends(&out))
    }

    /// `apt-get download` the packages into `dir`.
    pub fn download(&self, names: &[String], dir: &Path) -> Result<()> {
        let out = Command::new("apt-get")
            .args(self.opts())
            .args(["-q", "download"])
            .args(names)
            .current_dir(dir)
            .output()
            .context("failed to run apt-get download")?;
        if !out.status.success() {
            bail!(
                "apt-get download {} failed: {}",
                names.join(" "),
                util::last_line(&String::from_utf8_lossy(&out.stderr)).unwrap_or("(no output)")
            );
        }
        Ok(())
    }

    /// The candidate version of a package in the index (`apt-cache show`).
    pub fn version(&self, name: &str) -> Result<String> {
        let out = util::run_capture(
            Command::new("apt-cache")
                .args(self.opts())
                .args(["show", "--no-all-versions", name]),
            "apt-cache show",
        )?;
        parse_version(&out).with_context(|| format!("apt-cache show {name} printed no Version"))
    }

    /// Downloads a package the index no longer lists straight from the archive's
    /// pool (same archive URI as the private sources file), where Debian keeps
    /// the files of the `linux` source package. Without an index entry there is
    /// no checksum to check: the file must at least be the package and version
    /// asked for. Returns the downloaded file.
    pub fn download_unlisted(&self, name: &str, version: &str, dir: &Path) -> Result<PathBuf> {
        let line = fs::read_to_string(self.dir.join("sources.list"))
            .context("failed to read the private sources file")?;
        let uri = source_uri(&line).context("the private sources file names no archive URI")?;
        let url = format!(
            "{}/{}",
            uri.trim_end_matches('/'),
            linux_pool_path(name, version)
        );
        let file = dir.join(format!("{name}.deb"));
        let out = Command::new("/usr/lib/apt/apt-helper")
            .args(self.opts())
            .arg("download-file")
            .arg(&url)
            .arg(&file)
            .output()
            .context("failed to run /usr/lib/apt/apt-helper (is apt installed?)")?;
        if !out.status.success() {
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            bail!(
                "{name} is not in the {SUITE} index and the archive's pool does not have it either: {}",
                util::last_line(&text).unwrap_or("(no output)")
            );
        }
        let fields = util::run_capture(
            Command::new("dpkg-deb")
                .arg("-f")
                .arg(&file)
                .args(["Package", "Version"]),
            &format!("dpkg-deb -f {}", file.display()),
        )?;
        let want = format!("Package: {name}\nVersion: {version}");
        if fields.trim() != want {
            bail!(
                "the pool's file for {name} {version} holds another package: {}",
                fields.trim().replace('\n', ", ")
            );
        }
        Ok(file)
    }
}

/// The archive URI of a one-line sources entry (`deb [options] URI suite components`).
pub fn source_uri(line: &str) -> Option<&str> {
    let rest = line.trim().strip_prefix("deb")?.trim_start();
    let rest = match rest.strip_prefix('[') {
        Some(r) => r.split_once(']')?.1,
        None => rest,
    };
    rest.split_whitespace().next()
}

/// The first `Version:` of `apt-cache show` output.
pub fn parse_version(show: &str) -> Option<String> {
    show.lines()
        .find_map(|l| l.strip_prefix("Version:"))
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Where Debian's pool keeps an amd64 package built from the `linux` source
/// (file names drop a version's epoch).
pub fn linux_pool_path(name: &str, version: &str) -> String {
    let version = version.split_once(':').map_or(version, |(_, v)| v);
    format!("pool/main/l/linux/{name}_{version}_amd64.deb")
}

/// One dependency from `apt-cache depends`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dep {
    pub name: String,
    /// False for `<name>`: no package of that name is in the index (a virtual
    /// package, or one the archive no longer lists).
    pub listed: bool,
}

/// `Depends:` and `PreDepends:` entries of `apt-cache depends` output.
pub fn parse_depends(text: &str) -> Vec<Dep> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim_start().trim_start_matches('|');
            let rest = l
                .strip_prefix("Depends:")
                .or_else(|| l.strip_prefix("PreDepends:"))?;
            let name = rest.trim();
            let bare = name.trim_start_matches('<').trim_end_matches('>');
            (!bare.is_empty()).then(|| Dep {
                name: bare.to_string(),
                listed: !name.starts_with('<'),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests;
