//! `new NAME`: start a scheduler from a copy of `scheds/simple`.
//!
//! The copy gets its own package and binary (`scx_NAME`), ops name (`NAME`), BPF
//! identifiers (`NAME_ops`, `NAME_enqueue`, ...), check scripts and a README to fill
//! in. The BPF file's opening comment is replaced by one for the new scheduler. The
//! workspace finds it by the `scheds/*` glob, `cargo xtask test` and meson by the
//! directory, and `Cargo.lock` gets its entry here so `--locked` builds keep working.
//!
//! Everything is computed in memory and checked before the first file is written:
//! a refused name or a leftover `simple` in the result writes nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};

use crate::{paths, scheds};

/// The scheduler every new one is copied from (directory under `scheds/`).
pub const TEMPLATE: &str = "simple";

/// `SCX_OPS_NAME_LEN` is 128 bytes including the terminating NUL.
pub const MAX_NAME_LEN: usize = 127;

/// Names a scheduler may not take, with the reason given to the user.
const RESERVED: &[(&str, &str)] = &[
    ("core", "scx_core is the library every scheduler links"),
    ("build", "scx_build is the library every build script uses"),
    ("utils", "scx_utils is a dependency of the suite"),
    ("stats", "scx_stats is a dependency of the suite"),
    ("loader", "scx_loader is the name of scx's service"),
    ("xtask", "xtask is the developer tool"),
    ("fixture", "fixtures run as fixture_<name>"),
];

#[derive(clap::Args)]
pub struct NewArgs {
    /// The new scheduler's name: directory scheds/NAME, binary scx_NAME, ops name NAME
    pub name: String,
    /// Workspace to create it in (default: this checkout); CI points it at a scratch copy
    #[arg(long, value_name = "DIR", env = "SCX_NEW_DEST")]
    pub dest: Option<PathBuf>,
}

/// A name refused, with the one sentence that says why.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal(pub String);

/// The rules of the kernel's `ops.name` (alphanumerics, `_` and `.`, at most
/// `SCX_OPS_NAME_LEN - 1` bytes), narrowed to what is also a Rust and C identifier
/// suffix and a directory name: `[a-z][a-z0-9_]*`.
pub fn validate_name(name: &str) -> Result<(), Refusal> {
    let refuse = |why: String| Err(Refusal(format!("cannot name a scheduler `{name}`: {why}")));
    if name.is_empty() {
        return refuse("the name is empty".into());
    }
    if let Some(bare) = name.strip_prefix("scx_") {
        return refuse(format!(
            "give the name without the scx_ prefix (`cargo xtask new {bare}` makes scx_{bare})"
        ));
    }
    if name.len() > MAX_NAME_LEN {
        return refuse(format!(
            "the kernel's ops name holds at most {MAX_NAME_LEN} characters, this has {}",
            name.len()
        ));
    }
    if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        return refuse("it must start with a lowercase letter a-z".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        return refuse(format!(
            "`{c}` is not allowed; use lowercase letters, digits and _ only"
        ));
    }
    if name == TEMPLATE {
        return refuse(format!("scx_{TEMPLATE} is the template it is copied from"));
    }
    for (reserved, why) in RESERVED {
        if name == *reserved || name.starts_with(&format!("{reserved}_")) {
            return refuse(format!("`{reserved}` is reserved ({why})"));
        }
    }
    Ok(())
}

/// Clashes with what already exists in the workspace at `root`.
pub fn check_clashes(name: &str, root: &Path, lock: Option<&str>) -> Result<(), Refusal> {
    let refuse = |why: String| Err(Refusal(format!("cannot name a scheduler `{name}`: {why}")));
    let dir = root.join("scheds").join(name);
    if dir.exists() {
        return refuse(format!("{} already exists", dir.display()));
    }
    let bin = format!("scx_{name}");
    for s in scheds::schedulers(root)
        .into_iter()
        .chain(scheds::fixtures(root))
    {
        if s.bin == bin || s.ops() == name {
            return refuse(format!(
                "{} already builds {} (ops name `{}`)",
                s.dir.display(),
                s.bin,
                s.ops()
            ));
        }
    }
    if let Some(lock) = lock {
        let dashed = bin.replace('_', "-");
        if let Some(p) = lock_packages(lock).find(|p| *p == bin || *p == dashed) {
            return refuse(format!("Cargo.lock already has a package named {p}"));
        }
    }
    Ok(())
}

fn lock_packages(lock: &str) -> impl Iterator<Item = &str> {
    lock.split("[[package]]").filter_map(|b| {
        b.lines()
            .find_map(|l| l.strip_prefix("name = "))
            .map(|v| v.trim().trim_matches('"'))
    })
}

/// Replace `from` by `to` wherever it is a whole identifier or a `_`-separated part
/// of one: `simple`, `scx_simple`, `simple_enqueue`, `CARGO_BIN_EXE_scx_simple`,
/// `"simple"`, `scheds/simple`. The upper-case form (`SIMPLE_DSQ`) follows along.
/// A word that merely contains `from` (`simpler`) is left for [`leftovers`] to find.
pub fn rename(text: &str, from: &str, to: &str) -> String {
    let upper_from = from.to_ascii_uppercase();
    let upper_to = to.to_ascii_uppercase();
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_ascii_alphanumeric() || c == '_')
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        let token = &rest[..end];
        let parts: Vec<&str> = token.split('_').collect();
        let renamed: Vec<&str> = parts
            .iter()
            .map(|p| {
                if *p == from {
                    to
                } else if *p == upper_from {
                    upper_to.as_str()
                } else {
                    p
                }
            })
            .collect();
        out.push_str(&renamed.join("_"));
        rest = &rest[end..];
    }
    out
}

/// Lines of `text` that still mention `from` in any case, once every `to` is
/// taken out (so a new name that contains the old one is no leftover).
pub fn leftovers(text: &str, from: &str, to: &str) -> Vec<usize> {
    let from = from.to_ascii_lowercase();
    let to = to.to_ascii_lowercase();
    text.lines()
        .enumerate()
        .filter(|(_, l)| {
            let l = l.to_ascii_lowercase().replace(&to, "");
            l.contains(&from)
        })
        .map(|(i, _)| i + 1)
        .collect()
}

/// Sentences of the template's sources that describe the template itself, not a copy.
const PHRASES: &[(&str, &str)] = &[("the kernel's scx_simple", "the kernel's example scheduler")];

/// The opening comment of the new `main.bpf.c`: the template's comment is the design
/// document of the template, so the copy gets one of its own to rewrite.
pub fn bpf_header(name: &str) -> String {
    format!(
        "/*
 * scx_{name}: one shared queue, in weighted virtual time or in FIFO order.
 *
 * Made by `cargo xtask new {name}` from the suite's example scheduler. This
 * comment is the design document: when you change the policy, say here what
 * it does, why, and what it costs (docs/writing-a-scheduler.md).
 *
 * Policy
 * ------
 * Every runnable task goes into one shared dispatch queue, SHARED_DSQ, and
 * every CPU takes the head of that queue when it runs out of work. A task
 * that wakes up to an idle CPU is inserted straight into that CPU's local
 * queue instead. By default SHARED_DSQ is ordered by weighted virtual time:
 * running for t advances a task's vtime by t * 100 / weight, and a task
 * that slept may bank at most one slice of credit. With -f it is FIFO.
 * {name}_dispatch() keeps the task that just used up its slice running
 * when it is still ahead of everything queued, so weights are honoured.
 *
 * Trade-offs
 * ----------
 * One queue for all CPUs is fair and easy to reason about on one socket with
 * one shared last-level cache. On bigger machines every CPU contends on the
 * queue's lock and tasks wander between caches; there is no load balancing,
 * no locality and no preemption of a running task.
 */
"
    )
}

/// Swap the first block comment after the SPDX line for `header`.
fn replace_bpf_header(text: &str, header: &str) -> Result<String> {
    let start = text
        .find("\n/*\n")
        .map(|i| i + 1)
        .context("the template's main.bpf.c has no opening comment")?;
    let end = text[start..]
        .find("\n */\n")
        .map(|i| start + i + "\n */\n".len())
        .context("the template's main.bpf.c opening comment is not closed")?;
    Ok(format!("{}{header}{}", &text[..start], &text[end..]))
}

/// The README of the new scheduler: the sections every README has, to fill in, and the
/// template's `## Options` section when it has one.
pub fn readme(name: &str, template_readme: Option<&str>) -> String {
    let options = template_readme
        .and_then(|r| section(r, "## Options"))
        .map(|s| rename(s.trim_end(), TEMPLATE, name))
        .unwrap_or_else(|| format!("## Options\n\nSee `scx_{name} --help`."));
    format!(
        "# scx_{name}

## Overview

One shared queue in weighted virtual time (default) or FIFO order (`-f`); a task
waking up to an idle CPU goes straight to it. Made with `cargo xtask new {name}`:
rewrite this README as the policy changes. The policy and its trade-offs are
described at the top of `src/bpf/main.bpf.c`.

## Typical use case

Say who should run it, on what machine, for what workload.

## Production ready?

No: a new scheduler. Say here what was measured, on which kernels, before
claiming more.

{options}

## Sample output

Paste the stats of a real run, e.g. from `cargo xtask demo {name}`.
"
    )
}

/// The text of the markdown section that starts with the line `heading`.
fn section<'a>(text: &'a str, heading: &str) -> Option<&'a str> {
    let start = text.lines().position(|l| l.trim_end() == heading)?;
    let level = heading.split(' ').next()?.len();
    let lines: Vec<&str> = text.lines().collect();
    let len = lines[start + 1..]
        .iter()
        .position(|l| {
            let hashes = l.chars().take_while(|c| *c == '#').count();
            hashes > 0 && hashes <= level && l[hashes..].starts_with(' ')
        })
        .map_or(lines.len() - start, |n| n + 1);
    let begin = text.lines().take(start).map(|l| l.len() + 1).sum::<usize>();
    let body: usize = lines[start..start + len].iter().map(|l| l.len() + 1).sum();
    text.get(begin..(begin + body).min(text.len()))
}

/// Add `new`'s entry to a `Cargo.lock`, a copy of `template`'s, at its sorted place.
/// `None` when the lock file has no entry for the template.
pub fn lock_with(lock: &str, template: &str, new: &str) -> Option<String> {
    const SEP: &str = "\n[[package]]\n";
    let mut blocks: Vec<String> = lock.split(SEP).map(str::to_string).collect();
    let name_of = |b: &str| {
        b.lines()
            .find_map(|l| l.strip_prefix("name = "))
            .map(|v| v.trim().trim_matches('"').to_string())
    };
    let tpl = blocks
        .iter()
        .skip(1)
        .find(|b| name_of(b).as_deref() == Some(template))?
        .clone();
    let entry = tpl.replacen(
        &format!("name = \"{template}\""),
        &format!("name = \"{new}\""),
        1,
    );
    let entry = entry.trim_end_matches('\n').to_string() + "\n";
    let at = blocks
        .iter()
        .enumerate()
        .skip(1)
        .find(|(_, b)| name_of(b).is_some_and(|n| n.as_str() > new))
        .map_or(blocks.len(), |(i, _)| i);
    if at == blocks.len() {
        // The last block carries the file's final newline.
        let last = blocks.last_mut()?;
        *last = last.trim_end_matches('\n').to_string() + "\n";
        blocks.push(entry);
    } else {
        blocks.insert(at, entry);
    }
    Some(blocks.join(SEP))
}

/// One file of the new scheduler.
#[derive(Debug)]
pub struct NewFile {
    /// Relative to the scheduler's directory.
    pub path: PathBuf,
    pub text: String,
    pub mode: u32,
}

/// Every file of the new scheduler, renamed, from the template directory `tpl`.
pub fn render(tpl: &Path, name: &str) -> Result<Vec<NewFile>> {
    let mut files = Vec::new();
    let mut readme_text = None;
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let dir = tpl.join(&rel);
        let rd = fs::read_dir(&dir).with_context(|| format!("failed to read {}", dir.display()))?;
        for e in rd {
            let e = e.with_context(|| format!("failed to read {}", dir.display()))?;
            let fname = e.file_name().to_string_lossy().into_owned();
            let rel = rel.join(&fname);
            let ft = e
                .file_type()
                .with_context(|| format!("failed to stat {}", e.path().display()))?;
            if ft.is_dir() {
                if fname != "target" {
                    stack.push(rel);
                }
                continue;
            }
            if !ft.is_file() || fname.ends_with('~') || fname.starts_with(".#") {
                continue;
            }
            let text = fs::read_to_string(e.path())
                .with_context(|| format!("failed to read {} as text", e.path().display()))?;
            if rel == Path::new("README.md") {
                readme_text = Some(text);
                continue;
            }
            let mode = e
                .metadata()
                .with_context(|| format!("failed to stat {}", e.path().display()))?
                .permissions()
                .mode()
                & 0o777;
            let mut text = text;
            if rel == Path::new("src/bpf/main.bpf.c") {
                text = replace_bpf_header(&text, &bpf_header(name))?;
            }
            for (from, to) in PHRASES {
                text = text.replace(from, to);
            }
            let path: PathBuf = rel
                .iter()
                .map(|c| rename(&c.to_string_lossy(), TEMPLATE, name))
                .collect();
            files.push(NewFile {
                path,
                text: rename(&text, TEMPLATE, name),
                mode,
            });
        }
    }
    files.push(NewFile {
        path: "README.md".into(),
        text: readme(name, readme_text.as_deref()),
        mode: 0o644,
    });
    files.sort_by(|a, b| a.path.cmp(&b.path));

    let mut left = Vec::new();
    for f in &files {
        for n in leftovers(&f.text, TEMPLATE, name) {
            left.push(format!("{}:{n}", f.path.display()));
        }
        if !leftovers(&f.path.to_string_lossy(), TEMPLATE, name).is_empty() {
            left.push(f.path.display().to_string());
        }
    }
    if !left.is_empty() {
        bail!(
            "the copy would still say `{TEMPLATE}` at {}: teach crates/xtask/src/new.rs about it",
            left.join(", ")
        );
    }
    Ok(files)
}

pub fn run(a: NewArgs) -> Result<ExitCode> {
    let root = match &a.dest {
        Some(d) => {
            std::path::absolute(d).with_context(|| format!("failed to resolve {}", d.display()))?
        }
        None => paths::workspace_root(),
    };
    // The template comes from the destination when it has one (a scratch copy of
    // the workspace), else from this checkout.
    let tpl = [
        root.join("scheds").join(TEMPLATE),
        paths::workspace_root().join("scheds").join(TEMPLATE),
    ]
    .into_iter()
    .find(|p| p.join("Cargo.toml").is_file())
    .context("cannot find scheds/simple, the template")?;
    let lock_path = root.join("Cargo.lock");
    let lock = fs::read_to_string(&lock_path).ok();

    let checked =
        validate_name(&a.name).and_then(|()| check_clashes(&a.name, &root, lock.as_deref()));
    if let Err(Refusal(why)) = checked {
        eprintln!("error: {why}");
        return Ok(ExitCode::from(2));
    }

    let files = render(&tpl, &a.name)?;
    let new_lock = lock
        .as_deref()
        .and_then(|l| lock_with(l, &format!("scx_{TEMPLATE}"), &format!("scx_{}", a.name)));

    let dir = root.join("scheds").join(&a.name);
    for f in &files {
        let p = dir.join(&f.path);
        if let Some(parent) = p.parent() {
            fs::create_dir_all(parent)
                .with_context(|| format!("failed to create {}", parent.display()))?;
        }
        fs::write(&p, &f.text).with_context(|| format!("failed to write {}", p.display()))?;
        fs::set_permissions(&p, fs::Permissions::from_mode(f.mode))
            .with_context(|| format!("failed to set the mode of {}", p.display()))?;
    }
    match new_lock {
        Some(l) => fs::write(&lock_path, l)
            .with_context(|| format!("failed to update {}", lock_path.display()))?,
        None if lock.is_some() => eprintln!(
            "xtask: Cargo.lock has no scx_{TEMPLATE} entry to copy; the next cargo build without --locked adds scx_{}",
            a.name
        ),
        None => {}
    }
    println!(
        "created {} ({} files): package and binary scx_{}, ops name \"{}\"",
        dir.display(),
        files.len(),
        a.name,
        a.name
    );
    println!("next: cargo build --release -p scx_{0} && cargo xtask test --sched {0} --kernels 7.3.4 (docs/writing-a-scheduler.md)", a.name);
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests;
