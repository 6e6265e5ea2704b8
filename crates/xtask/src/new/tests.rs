use super::*;

#[test]
fn renames_identifiers_and_their_parts() {
    let r = |t: &str| rename(t, "simple", "mysched");
    assert_eq!(r("name = \"scx_simple\""), "name = \"scx_mysched\"");
    assert_eq!(
        r("SCX_OPS_DEFINE(simple_ops,"),
        "SCX_OPS_DEFINE(mysched_ops,"
    );
    assert_eq!(
        r("BPF_STRUCT_OPS(simple_select_cpu, struct"),
        "BPF_STRUCT_OPS(mysched_select_cpu, struct"
    );
    assert_eq!(r(".name = \"simple\");"), ".name = \"mysched\");");
    assert_eq!(
        r("env!(\"CARGO_BIN_EXE_scx_simple\")"),
        "env!(\"CARGO_BIN_EXE_scx_mysched\")"
    );
    assert_eq!(r("#define SIMPLE_DSQ 0"), "#define MYSCHED_DSQ 0");
    assert_eq!(r("scheds/simple/tests"), "scheds/mysched/tests");
    assert_eq!(r("under scx_simple -f\n"), "under scx_mysched -f\n");
    // Words that only contain it are not identifiers of the template.
    assert_eq!(r("simpler simplex_x Simple"), "simpler simplex_x Simple");
    assert_eq!(r("sched_ext"), "sched_ext");
    assert_eq!(r(""), "");
    // Names with underscores and digits.
    assert_eq!(
        rename("simple_enqueue", "simple", "my_fifo2"),
        "my_fifo2_enqueue"
    );
}

#[test]
fn leftovers_are_found_in_any_case_but_not_in_the_new_name() {
    assert_eq!(
        leftovers("a\nfair and Simple\nscx_mysched", "simple", "mysched"),
        vec![2]
    );
    assert!(leftovers("scx_simpler2", "simple", "simpler2").is_empty());
    assert_eq!(
        leftovers("scx_simpler2 simple", "simple", "simpler2"),
        vec![1]
    );
}

#[test]
fn valid_names() {
    for ok in [
        "mysched",
        "a",
        "fifo2",
        "my_sched",
        &"x".repeat(MAX_NAME_LEN),
    ] {
        assert_eq!(validate_name(ok), Ok(()), "{ok}");
    }
}

#[test]
fn invalid_names_get_one_sentence() {
    for (bad, why) in [
        ("", "empty"),
        ("scx_foo", "without the scx_ prefix"),
        ("MySched", "start with a lowercase"),
        ("2fast", "start with a lowercase"),
        ("_x", "start with a lowercase"),
        ("my-sched", "`-` is not allowed"),
        ("my.sched", "`.` is not allowed"),
        ("my sched", "` ` is not allowed"),
        ("schéd", "is not allowed"),
        ("simple", "template"),
        ("core", "reserved"),
        ("fixture_error", "reserved"),
        ("xtask", "reserved"),
    ] {
        let Err(Refusal(msg)) = validate_name(bad) else {
            panic!("{bad:?} was accepted")
        };
        assert!(msg.contains(why), "{bad:?}: {msg}");
        assert!(
            msg.starts_with(&format!("cannot name a scheduler `{bad}`: ")),
            "{msg}"
        );
        assert_eq!(msg.lines().count(), 1, "{msg}");
        assert!(!msg.ends_with('.'), "{msg}");
    }
    let long = "x".repeat(MAX_NAME_LEN + 1);
    let Err(Refusal(msg)) = validate_name(&long) else {
        panic!("a 128-character name was accepted")
    };
    assert!(msg.contains("at most 127 characters"), "{msg}");
}

fn scratch(tag: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("xtask-new-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("mkdir");
    d
}

#[test]
fn clashes_with_directories_binaries_and_lock_packages() {
    let root = scratch("clash");
    let sched = |dir: &str, pkg: &str| {
        let d = root.join(dir);
        fs::create_dir_all(&d).expect("mkdir");
        fs::write(
            d.join("Cargo.toml"),
            format!("[package]\nname = \"{pkg}\"\n"),
        )
        .expect("write");
    };
    sched("scheds/simple", "scx_simple");
    sched("scheds/odd", "scx_renamed");
    sched("fixtures/error", "scx_fixture_error");
    fs::create_dir_all(root.join("scheds/empty")).expect("mkdir");
    let lock = "version = 4\n\n[[package]]\nname = \"scx-thing\"\nversion = \"1\"\n";

    assert_eq!(check_clashes("fresh", &root, Some(lock)), Ok(()));
    for (name, why) in [
        ("odd", "already exists"),
        ("empty", "already exists"),
        ("renamed", "already builds scx_renamed"),
        ("thing", "Cargo.lock already has a package named scx-thing"),
    ] {
        let Err(Refusal(msg)) = check_clashes(name, &root, Some(lock)) else {
            panic!("{name} was accepted")
        };
        assert!(msg.contains(why), "{name}: {msg}");
    }
    let _ = fs::remove_dir_all(&root);
}

#[test]
fn lock_entry_is_copied_in_sorted_place() {
    let lock = "# header\nversion = 4\n\n[[package]]\nname = \"anyhow\"\nversion = \"1.0\"\n\n\
                [[package]]\nname = \"scx_simple\"\nversion = \"0.1.0\"\ndependencies = [\n \"anyhow\",\n]\n\n\
                [[package]]\nname = \"zzz\"\nversion = \"1\"\n";
    let out = lock_with(lock, "scx_simple", "scx_mysched").expect("entry");
    let names: Vec<&str> = lock_packages(&out).collect();
    assert_eq!(names, ["anyhow", "scx_mysched", "scx_simple", "zzz"]);
    assert!(out.contains("[[package]]\nname = \"scx_mysched\"\nversion = \"0.1.0\"\ndependencies = [\n \"anyhow\",\n]\n\n[[package]]\nname = \"scx_simple\""), "{out}");
    assert!(out.ends_with("version = \"1\"\n"));
    // Last place: the file still ends with one newline.
    let lock = lock
        .split("\n\n[[package]]\nname = \"zzz\"")
        .next()
        .expect("split")
        .to_string()
        + "\n";
    let out = lock_with(&lock, "scx_simple", "scx_zzzz").expect("entry");
    assert_eq!(lock_packages(&out).last(), Some("scx_zzzz"));
    assert!(out.ends_with("]\n\n[[package]]\nname = \"scx_zzzz\"\nversion = \"0.1.0\"\ndependencies = [\n \"anyhow\",\n]\n"), "{out}");
    assert_eq!(lock_with(&lock, "scx_other", "scx_x"), None);
}

#[test]
fn readme_keeps_the_template_options() {
    let tpl = "# scx_simple\n\n## Overview\n\nx\n\n## Options\n\n```\nscx_simple -f\n```\n\n### Sub\n\ny\n\n## Sample output\n\nz\n";
    let r = readme("mysched", Some(tpl));
    assert!(
        r.contains("## Options\n\n```\nscx_mysched -f\n```\n\n### Sub\n\ny\n\n## Sample output"),
        "{r}"
    );
    for h in [
        "## Overview",
        "## Typical use case",
        "## Production ready?",
        "## Options",
        "## Sample output",
    ] {
        assert!(r.contains(h), "{h}");
    }
    assert!(readme("mysched", None).contains("See `scx_mysched --help`."));
}

/// The real template: the copy must come out clean.
#[test]
fn the_real_template_renders_without_leftovers() {
    let tpl = paths::workspace_root().join("scheds").join(TEMPLATE);
    let files = render(&tpl, "mysched").expect("render");
    let get = |p: &str| {
        &files
            .iter()
            .find(|f| f.path == Path::new(p))
            .unwrap_or_else(|| panic!("no {p}"))
            .text
    };
    assert!(get("Cargo.toml").contains("name = \"scx_mysched\""));
    let bpf = get("src/bpf/main.bpf.c");
    assert!(
        bpf.starts_with("/* SPDX-License-Identifier: GPL-2.0-only */\n/*\n * scx_mysched: "),
        "{bpf}"
    );
    assert!(bpf.contains("SCX_OPS_DEFINE(mysched_ops,") && bpf.contains(".name\t\t= \"mysched\""));
    assert!(get("src/main.rs").contains("#[command(name = \"scx_mysched\""));
    let checks: Vec<&NewFile> = files
        .iter()
        .filter(|f| f.path.starts_with("tests/vm"))
        .collect();
    assert!(!checks.is_empty());
    assert!(
        checks.iter().all(|f| f.mode & 0o111 != 0),
        "check scripts stay executable"
    );
    assert!(files.iter().any(|f| f.path == Path::new("README.md")));
}

#[test]
fn writes_into_a_destination_workspace() {
    let root = scratch("dest");
    let tpl = paths::workspace_root().join("scheds").join(TEMPLATE);
    let lock = fs::read_to_string(paths::workspace_root().join("Cargo.lock")).expect("lock");
    fs::write(root.join("Cargo.lock"), &lock).expect("write");
    let code = run(NewArgs {
        name: "mysched".into(),
        dest: Some(root.clone()),
    })
    .expect("run");
    assert_eq!(code, ExitCode::SUCCESS);
    let d = root.join("scheds/mysched");
    assert!(d.join("src/bpf/main.bpf.c").is_file());
    assert!(crate::util::is_executable(
        &d.join("tests/vm/fifo-smoke.sh")
    ));
    let new_lock = fs::read_to_string(root.join("Cargo.lock")).expect("lock");
    assert!(lock_packages(&new_lock).any(|p| p == "scx_mysched"));
    // Again: now it clashes, and nothing changes.
    let code = run(NewArgs {
        name: "mysched".into(),
        dest: Some(root.clone()),
    })
    .expect("run");
    assert_eq!(code, ExitCode::from(2));
    assert!(tpl.is_dir(), "the template is never touched");
    let _ = fs::remove_dir_all(&root);
}
