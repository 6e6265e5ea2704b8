use super::*;

#[test]
fn console_lines() {
    assert!(is_console_line(b"[    1.234567] Linux version 7.3.4\n"));
    assert!(is_console_line(b"Memory KASLR using RDRAND RDTSC...\n"));
    assert!(!is_console_line(
        b"xtask-guest: [7.3.4] simple: smoke PASS\n"
    ));
    assert!(!is_console_line(b"[stats] running 4\n"));
}

#[test]
fn vng_command_line() {
    let k = Kernel {
        label: "7.3.4".into(),
        vmlinuz: "/k/vmlinuz".into(),
    };
    let cfg = VmConfig {
        rwdirs: vec!["/r".into()],
        ..VmConfig::new(&k)
    };
    let a = vng_args(&cfg, false, &["sh".into(), "-c".into(), "exit 3".into()]);
    let s = a.join(" ");
    assert!(
        s.starts_with("--run /k/vmlinuz --force-9p --cpus 4 --memory 2G --disable-kvm"),
        "{s}"
    );
    assert!(a.contains(&"--qemu-opts=-accel tcg,thread=single".to_string()));
    assert!(a.contains(&"--rwdir=/r".to_string()));
    assert_eq!(a.last().map(String::as_str), Some("sh -c 'exit 3'"));
    let a = vng_args(&cfg, true, &["true".into()]);
    assert!(!a.iter().any(|x| x.contains("tcg") || x == "--disable-kvm"));
}
