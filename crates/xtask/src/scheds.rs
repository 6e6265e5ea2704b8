//! Finding schedulers, harness fixtures and their behavioural check scripts.
//!
//! - A scheduler is a directory `scheds/<name>/` with a Cargo.toml; its binary
//!   is `target/release/scx_<name>` and the kernel knows it as `<name>`.
//!   Strictly, the binary is the crate's `[[bin]]` or package name and the ops
//!   name is that minus `scx_`, so `fixtures/error` (package
//!   `scx_fixture_error`) runs as ops `fixture_error`.
//! - A fixture is the same under `fixtures/<name>/`; fixtures are deliberately
//!   broken schedulers that the smoke scenario must catch.
//! - Checks are the executable `tests/vm/*.sh` of a scheduler, run in name
//!   order, then the fault suite `crates/xtask/vm/faults/*.sh` (reported as
//!   `fault-<stem>`), which every scheduler runs; `# timeout: N` (seconds) in
//!   a script overrides the default. `xtask soak` plans `crates/xtask/vm/soak.sh`
//!   alone.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::plan::{CheckPlan, SchedPlan};
use crate::{paths, util};

pub const DEFAULT_CHECK_TIMEOUT_SECS: u64 = 180;

/// Which checks a run plans for each scheduler.
#[derive(Debug, Clone, Default)]
pub struct Suite {
    /// `xtask soak`: only the soak check, for this many seconds, no smoke scenario.
    pub soak_secs: Option<u64>,
    /// Only the checks whose name contains one of these, and the smoke scenario
    /// only if one of them is in `smoke`; empty: everything.
    pub only: Vec<String>,
}

impl Suite {
    fn wants(&self, name: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|o| name.contains(o.as_str()))
    }
}

#[derive(Debug, Clone)]
pub struct SchedSource {
    /// Directory name.
    pub name: String,
    pub dir: PathBuf,
    /// Binary name, e.g. `scx_simple`.
    pub bin: String,
    pub expect_fail: bool,
}

impl SchedSource {
    pub fn binary(&self, release_dir: &Path) -> PathBuf {
        release_dir.join(&self.bin)
    }

    /// What `/sys/kernel/sched_ext/root/ops` starts with while it runs.
    pub fn ops(&self) -> String {
        self.bin
            .strip_prefix("scx_")
            .unwrap_or(&self.bin)
            .to_string()
    }

    /// The plan entry for this scheduler (checks included). A fixture only
    /// ever runs the smoke scenario, whatever the suite.
    pub fn plan(&self, release_dir: &Path, suite: &Suite) -> SchedPlan {
        let checks = if self.expect_fail {
            Vec::new()
        } else if let Some(secs) = suite.soak_secs {
            vec![CheckPlan {
                name: "soak".into(),
                script: paths::soak_sh(),
                // The soak twice (the EEVDF reference of the boot, then the
                // scheduler), plus room to start, stop and read the kernel log.
                timeout_secs: 2 * secs + 240,
                newest_kernel_only: false,
            }]
        } else {
            let mut c = check_scripts(&self.dir);
            c.extend(scripts_in(&paths::faults_dir(), "fault-"));
            c.retain(|c| suite.wants(&c.name));
            c
        };
        SchedPlan {
            name: self.name.clone(),
            ops: self.ops(),
            binary: self.binary(release_dir),
            expect_fail: self.expect_fail,
            args: Vec::new(),
            smoke: self.expect_fail || (suite.soak_secs.is_none() && suite.wants("smoke")),
            dir: self.dir.clone(),
            checks,
        }
    }
}

/// Directories under `parent` that hold a Cargo.toml, sorted by name.
fn crates_under(parent: &Path, expect_fail: bool) -> Vec<SchedSource> {
    let Ok(rd) = fs::read_dir(parent) else {
        return Vec::new();
    };
    let mut out: Vec<SchedSource> = rd
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.join("Cargo.toml").is_file())
        .filter_map(|p| {
            let name = p.file_name()?.to_str()?.to_string();
            let manifest = fs::read_to_string(p.join("Cargo.toml")).unwrap_or_default();
            let bin = bin_name(&manifest).unwrap_or_else(|| format!("scx_{name}"));
            Some(SchedSource {
                name,
                dir: p,
                bin,
                expect_fail,
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// The binary a manifest builds: the first `[[bin]]` name, else the package name.
pub fn bin_name(manifest: &str) -> Option<String> {
    let mut section = "";
    let mut package = None;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            section = line;
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if k.trim() != "name" {
            continue;
        }
        let v = v.trim().trim_matches('"').to_string();
        match section {
            "[[bin]]" => return Some(v),
            "[package]" if package.is_none() => package = Some(v),
            _ => {}
        }
    }
    package
}

pub fn schedulers(root: &Path) -> Vec<SchedSource> {
    crates_under(&root.join("scheds"), false)
}

/// Fixtures; `fixtures/` may not exist, which simply means none.
pub fn fixtures(root: &Path) -> Vec<SchedSource> {
    crates_under(&root.join("fixtures"), true)
}

/// Narrow `all` to `wanted` (all when empty); unknown names are refused with the known list.
pub fn select(all: &[SchedSource], wanted: &[String]) -> Result<Vec<SchedSource>> {
    if wanted.is_empty() {
        return Ok(all.to_vec());
    }
    let known = || {
        let names: Vec<&str> = all.iter().map(|s| s.name.as_str()).collect();
        if names.is_empty() {
            "none (scheds/ is empty)".to_string()
        } else {
            names.join(", ")
        }
    };
    let mut out = Vec::new();
    for w in wanted
        .iter()
        .flat_map(|w| w.split(','))
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        match all.iter().find(|s| s.name == w || s.bin == w) {
            Some(s) if !out.iter().any(|o: &SchedSource| o.name == s.name) => out.push(s.clone()),
            Some(_) => {}
            None => bail!("unknown scheduler `{w}`; known schedulers: {}", known()),
        }
    }
    Ok(out)
}

/// The executable `tests/vm/*.sh` of a scheduler, sorted by file name.
pub fn check_scripts(sched_dir: &Path) -> Vec<CheckPlan> {
    scripts_in(&sched_dir.join("tests").join("vm"), "")
}

/// The executable `*.sh` of `dir`, sorted by file name, named `<prefix><stem>`.
fn scripts_in(dir: &Path, prefix: &str) -> Vec<CheckPlan> {
    let Ok(rd) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut scripts: Vec<PathBuf> = rd
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "sh"))
        .collect();
    scripts.sort();
    let mut out = Vec::new();
    for s in scripts {
        if !util::is_executable(&s) {
            eprintln!(
                "xtask: skipping {} (not executable; chmod +x to enable it)",
                s.display()
            );
            continue;
        }
        let text = fs::read_to_string(&s).unwrap_or_default();
        if !opted_in(&text, |v| std::env::var(v).ok()) {
            continue;
        }
        let name = s
            .file_stem()
            .map(|n| format!("{prefix}{}", n.to_string_lossy()))
            .unwrap_or_default();
        out.push(CheckPlan {
            name,
            timeout_secs: parse_timeout(&text).unwrap_or(DEFAULT_CHECK_TIMEOUT_SECS),
            newest_kernel_only: newest_kernel_only(&text),
            script: s,
        });
    }
    out
}

/// The value of a `# KEY: VALUE` comment line in a script (KEY in any case).
fn directive<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines().find_map(|l| {
        let rest = l.trim().strip_prefix('#')?.trim();
        let (k, val) = rest.split_once(':')?;
        k.trim().eq_ignore_ascii_case(key).then(|| val.trim())
    })
}

/// `# timeout: N` (seconds, optionally written `Ns`) in a script's comments.
pub fn parse_timeout(text: &str) -> Option<u64> {
    let v = directive(text, "timeout")?;
    let v = v.strip_suffix('s').unwrap_or(v).trim();
    v.parse().ok().filter(|n| *n > 0)
}

/// `# opt-in: VAR`: the check is planned only when the host's environment has
/// VAR=1 (a long check the default run leaves out); any other script always is.
pub fn opted_in(text: &str, env: impl Fn(&str) -> Option<String>) -> bool {
    directive(text, "opt-in").is_none_or(|v| env(v).as_deref() == Some("1"))
}

/// `# kernels: newest`: the check does not depend on the kernel version (it
/// tests the binary's own refusals, say), so a run of several kernels plans it
/// only in the boot of the newest one, the last of `--kernels`.
pub fn newest_kernel_only(text: &str) -> bool {
    directive(text, "kernels").is_some_and(|v| v.eq_ignore_ascii_case("newest"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn manifest_bin_names() {
        let m = "[package]\nname = \"scx_simple\"\n[dependencies]\nname = \"x\"\n";
        assert_eq!(bin_name(m).as_deref(), Some("scx_simple"));
        let m = "[package]\nname = \"pkg\"\n\n[[bin]]\nname = \"scx_other\"\n";
        assert_eq!(bin_name(m).as_deref(), Some("scx_other"));
        assert_eq!(bin_name(""), None);
    }

    #[test]
    fn timeouts() {
        assert_eq!(parse_timeout("#!/bin/bash\n# timeout: 60\necho"), Some(60));
        assert_eq!(parse_timeout("#   Timeout:   90s\n"), Some(90));
        assert_eq!(parse_timeout("# timeout: soon\n"), None);
        assert_eq!(
            parse_timeout("echo '# timeout: 5' # not a comment line\n"),
            None
        );
        assert_eq!(parse_timeout("# timeout: 0\n"), None);
        assert_eq!(parse_timeout("#!/bin/bash\necho hi\n"), None);
        assert!(newest_kernel_only("#!/bin/bash\n# kernels: newest\n"));
        assert!(newest_kernel_only("# Kernels:  Newest\n"));
        assert!(!newest_kernel_only("# kernels: all\n"));
        assert!(!newest_kernel_only("#!/bin/bash\necho hi\n"));
        let on = |v: &str| (v == "HOSTILE").then(|| "1".to_string());
        let off = |_: &str| None;
        assert!(opted_in("#!/bin/bash\n# opt-in: HOSTILE\n", on));
        assert!(!opted_in("#!/bin/bash\n# opt-in: HOSTILE\n", off));
        assert!(!opted_in("# opt-in: OTHER\n", on));
        assert!(opted_in("#!/bin/bash\necho hi\n", off));
    }

    #[test]
    fn discovery_and_selection() {
        let root = std::env::temp_dir().join(format!("xtask-scheds-test-{}", std::process::id()));
        for n in ["simple", "qmap"] {
            let d = root.join("scheds").join(n);
            fs::create_dir_all(&d).expect("mkdir");
            fs::write(
                d.join("Cargo.toml"),
                format!("[package]\nname = \"scx_{n}\"\n"),
            )
            .expect("write");
        }
        let fx = root.join("fixtures/error");
        fs::create_dir_all(&fx).expect("mkdir");
        fs::write(
            fx.join("Cargo.toml"),
            "[package]\nname = \"scx_fixture_error\"\n",
        )
        .expect("write");
        fs::create_dir_all(root.join("scheds/not-a-crate")).expect("mkdir");
        let vm = root.join("scheds/simple/tests/vm");
        fs::create_dir_all(&vm).expect("mkdir");
        for (f, mode) in [
            ("20-b.sh", 0o755),
            ("10-a.sh", 0o755),
            ("30-off.sh", 0o644),
            ("x.txt", 0o755),
        ] {
            fs::write(vm.join(f), "#!/bin/bash\n# timeout: 42\n").expect("write");
            fs::set_permissions(vm.join(f), fs::Permissions::from_mode(mode)).expect("chmod");
        }

        let all = schedulers(&root);
        assert_eq!(
            all.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
            ["qmap", "simple"]
        );
        let fixtures = fixtures(&root);
        assert_eq!(fixtures.len(), 1);
        assert_eq!(fixtures[0].bin, "scx_fixture_error");
        assert_eq!(fixtures[0].ops(), "fixture_error");
        assert!(fixtures[0].expect_fail);
        assert_eq!(all[1].ops(), "simple");
        assert!(crate::scheds::fixtures(&root.join("nowhere")).is_empty());
        let checks = check_scripts(&all[1].dir);
        assert_eq!(
            checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["10-a", "20-b"]
        );
        assert_eq!(checks[0].timeout_secs, 42);

        // Every scheduler also runs the fault suite; a filter narrows both.
        let rel = Path::new("/r");
        let p = all[1].plan(rel, &Suite::default());
        assert!(p.smoke);
        assert_eq!(
            p.checks[..2]
                .iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>(),
            ["10-a", "20-b"]
        );
        assert!(p.checks[2..].iter().all(|c| c.name.starts_with("fault-")));
        assert!(
            p.checks.iter().any(|c| c.name == "fault-signals"),
            "{:?}",
            p.checks
        );
        let only = Suite {
            only: vec!["fault-sig".into()],
            ..Suite::default()
        };
        let p = all[1].plan(rel, &only);
        assert!(!p.smoke);
        assert_eq!(
            p.checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["fault-signals"]
        );
        let soak = Suite {
            soak_secs: Some(300),
            ..Suite::default()
        };
        let p = all[1].plan(rel, &soak);
        assert!(!p.smoke);
        assert_eq!(p.checks.len(), 1);
        assert_eq!(
            (p.checks[0].name.as_str(), p.checks[0].timeout_secs),
            ("soak", 840)
        );
        let f = fixtures[0].plan(rel, &soak);
        assert!(f.smoke && f.checks.is_empty());

        let sel = select(&all, &["scx_simple".into()]).expect("select");
        assert_eq!(sel.len(), 1);
        let err = format!("{}", select(&all, &["nope".into()]).expect_err("unknown"));
        assert!(
            err.contains("unknown scheduler `nope`; known schedulers: qmap, simple"),
            "{err}"
        );
        assert_eq!(select(&all, &[]).expect("all").len(), 2);
        let _ = fs::remove_dir_all(&root);
    }
}
