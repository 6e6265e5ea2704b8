//! Records the git revision for `--version`. A build from a tarball has no git: it then
//! says so, unless the packager sets SCX_GIT_REV.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

fn main() {
    println!("cargo:rerun-if-env-changed=SCX_GIT_REV");
    let rev = std::env::var("SCX_GIT_REV")
        .ok()
        .filter(|s| !s.is_empty())
        .or_else(|| {
            let rev = git(&["rev-parse", "--short=12", "HEAD"])?;
            if let Some(dir) = git(&["rev-parse", "--absolute-git-dir"]) {
                // Only paths that exist: cargo treats a missing one as always changed.
                for p in ["HEAD", "refs/heads", "packed-refs"] {
                    let path = std::path::Path::new(&dir).join(p);
                    if path.exists() {
                        println!("cargo:rerun-if-changed={}", path.display());
                    }
                }
            }
            Some(format!("git {rev}"))
        });
    let rev = rev.unwrap_or_else(|| "built without git: revision unknown".to_string());
    println!("cargo:rustc-env=SCX_GIT_REV={rev}");
}
