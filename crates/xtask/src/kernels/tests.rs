use super::*;

fn version_key(v: &str) -> Vec<u32> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[test]
fn pinned_is_sorted_and_default_is_newest() {
    let mut sorted = PINNED.to_vec();
    sorted.sort_by_key(|v| version_key(v));
    assert_eq!(sorted, PINNED);
    assert_eq!(default_version(), "7.3.4");
    assert!(CI.iter().all(|v| PINNED.contains(v)));
}

#[test]
fn kernel_arg() {
    assert_eq!(
        parse_kernel_arg("7.3.4").expect("ok"),
        KernelSel::Pinned("7.3.4".into())
    );
    assert_eq!(
        parse_kernel_arg("v6.16.12").expect("ok"),
        KernelSel::Pinned("6.16.12".into())
    );
    let err = format!("{}", parse_kernel_arg("6.1.0").expect_err("unknown"));
    assert!(err.contains("unknown kernel version `6.1.0`"), "{err}");
    assert!(err.contains("6.16.12, 6.17.13"), "{err}");
    assert!(parse_kernel_arg("/nonexistent/vmlinuz").is_err());
}

#[test]
fn kernels_list() {
    let ci = parse_kernels_list("ci").expect("ci");
    assert_eq!(
        ci,
        vec![
            KernelSel::Pinned("6.16.12".into()),
            KernelSel::Pinned("7.3.4".into())
        ]
    );
    assert_eq!(parse_kernels_list("all").expect("all").len(), PINNED.len());
    let l = parse_kernels_list("7.0.13, 6.19.14,7.0.13").expect("list");
    assert_eq!(
        l,
        vec![
            KernelSel::Pinned("7.0.13".into()),
            KernelSel::Pinned("6.19.14".into())
        ]
    );
    assert!(parse_kernels_list("7.3.4,5.15").is_err());
    assert!(parse_kernels_list("").is_err());
    // A real file is taken as a path even without a slash.
    let f = std::env::temp_dir().join(format!("xtask-vmlinuz-test-{}", std::process::id()));
    fs::write(&f, b"x").expect("write");
    let l = parse_kernels_list(&format!("ci,{}", f.display())).expect("path");
    assert_eq!(l.len(), 3);
    assert_eq!(l[2], KernelSel::Path(f.clone()));
    let _ = fs::remove_file(&f);
}

#[test]
fn package_set() {
    let dep = |n: &str, listed: bool| apt::Dep {
        name: n.into(),
        listed,
    };
    assert_eq!(
        packages_for("6.16.12", &[dep("kmod", true), dep("linux-base", true)]).0,
        ["linux-image-6.16.12+deb13-amd64"]
    );
    let deps = [
        dep("linux-base", true),
        dep("initramfs-tools", false),
        dep("linux-base-7.3.4+deb13-amd64", true),
        dep("linux-binary-7.3.4+deb13-amd64", true),
        dep("linux-modules-7.3.4+deb13-amd64", true),
    ];
    let missing = [
        dep("linux-base-6.19.14+deb13-amd64", false),
        dep("linux-binary-6.19.14+deb13-amd64", true),
        dep("linux-modules-6.19.14+deb13-amd64", false),
    ];
    let (pkgs, unlisted) = packages_for("6.19.14", &missing);
    assert_eq!(
        pkgs,
        [
            "linux-image-6.19.14+deb13-amd64",
            "linux-binary-6.19.14+deb13-amd64"
        ]
    );
    assert_eq!(
        unlisted,
        [
            "linux-base-6.19.14+deb13-amd64",
            "linux-modules-6.19.14+deb13-amd64"
        ]
    );
    assert_eq!(
        packages_for("7.3.4", &deps).0,
        [
            "linux-image-7.3.4+deb13-amd64",
            "linux-base-7.3.4+deb13-amd64",
            "linux-binary-7.3.4+deb13-amd64",
            "linux-modules-7.3.4+deb13-amd64"
        ]
    );
}

#[test]
fn config_check() {
    assert!(config_has_sched_ext(
        "CONFIG_FOO=y\nCONFIG_SCHED_CLASS_EXT=y\n"
    ));
    assert!(!config_has_sched_ext(
        "# CONFIG_SCHED_CLASS_EXT is not set\n"
    ));
}

#[test]
fn labels_for_paths() {
    assert_eq!(
        path_label(Path::new("/boot/vmlinuz-6.1.0-18-amd64")),
        "6.1.0-18-amd64"
    );
    assert_eq!(
        path_label(Path::new("/x/usr/lib/modules/7.3.4+deb13-amd64/vmlinuz")),
        "7.3.4+deb13-amd64"
    );
    assert_eq!(
        path_label(Path::new("/src/linux/arch/x86/boot/bzImage")),
        "linux"
    );
}

#[test]
fn tree_layouts() {
    let root = std::env::temp_dir().join(format!("xtask-tree-test-{}", std::process::id()));
    let new = root.join("new/usr/lib/modules/7.3.4+deb13-amd64");
    fs::create_dir_all(&new).expect("mkdir");
    fs::write(new.join("vmlinuz"), b"k").expect("write");
    fs::write(new.join("config"), b"CONFIG_SCHED_CLASS_EXT=y\n").expect("write");
    let (v, c) = find_in_tree(&root.join("new")).expect("found");
    assert_eq!(v, new.join("vmlinuz"));
    assert_eq!(c, Some(new.join("config")));

    let boot = root.join("old/boot");
    fs::create_dir_all(&boot).expect("mkdir");
    fs::write(boot.join("vmlinuz-6.16.12+deb13-amd64"), b"k").expect("write");
    fs::write(boot.join("config-6.16.12+deb13-amd64"), b"x").expect("write");
    let (v, c) = find_in_tree(&root.join("old")).expect("found");
    assert_eq!(v, boot.join("vmlinuz-6.16.12+deb13-amd64"));
    assert_eq!(c, Some(boot.join("config-6.16.12+deb13-amd64")));
    assert!(!has_modules(&root.join("old")));
    fs::create_dir_all(root.join("old/usr/lib/modules/6.16.12+deb13-amd64/kernel")).expect("mkdir");
    assert!(has_modules(&root.join("old")));

    // vmlinuz in boot/ (linux-binary), config under usr/lib/modules (linux-base).
    let split = root.join("split");
    fs::create_dir_all(split.join("boot")).expect("mkdir");
    fs::create_dir_all(split.join("usr/lib/modules/6.19.14+deb13-amd64")).expect("mkdir");
    fs::write(split.join("boot/vmlinuz-6.19.14+deb13-amd64"), b"k").expect("write");
    fs::write(
        split.join("usr/lib/modules/6.19.14+deb13-amd64/config"),
        b"x",
    )
    .expect("write");
    let (v, c) = find_in_tree(&split).expect("found");
    assert_eq!(v, split.join("boot/vmlinuz-6.19.14+deb13-amd64"));
    assert_eq!(
        c,
        Some(split.join("usr/lib/modules/6.19.14+deb13-amd64/config"))
    );
    let _ = fs::remove_dir_all(&root);
}
