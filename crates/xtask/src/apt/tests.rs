use super::*;

const DEB822: &str = "\
Types: deb
# a comment line inside a stanza
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
";

#[test]
fn deb822_debian_entry() {
    let s = parse_deb822(DEB822);
    assert_eq!(s.len(), 2);
    let d = pick_debian(&s).expect("debian entry");
    assert_eq!(d.uri, "http://mirror.invalid/debian");
    assert_eq!(
        d.signed_by.as_deref(),
        Some("/usr/share/keyrings/debian-archive-keyring.gpg")
    );
    assert_eq!(
        private_source_line(&s, None).expect("line"),
        "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] \
         http://mirror.invalid/debian trixie-backports main\n"
    );
}

#[test]
fn deb822_skips_security_src_disabled_and_inline_keys() {
    let text = "\
Types: deb-src
URIs: http://a.invalid/debian
Suites: trixie

Types: deb
URIs: http://b.invalid/debian
Suites: trixie
Enabled: no

Types: deb
URIs: http://c.invalid/debian-security
Suites: trixie-security

Types: deb
URIs: http://d.invalid/debian
Suites: trixie
Signed-By:
 -----BEGIN PGP PUBLIC KEY BLOCK-----
 .
 abc
";
    let s = parse_deb822(text);
    let d = pick_debian(&s).expect("debian entry");
    assert_eq!(d.uri, "http://d.invalid/debian");
    assert_eq!(d.signed_by, None);
    assert!(private_source_line(&s, None)
        .expect("line")
        .contains(DEFAULT_KEYRING));
}

#[test]
fn one_line_form() {
    let text = "\
# comment
deb-src http://a.invalid/debian bookworm main
deb http://sec.invalid/debian-security bookworm-security main
deb [arch=amd64 signed-by=/etc/apt/keyrings/deb.gpg] http://b.invalid/debian bookworm main contrib # trailing
deb http://c.invalid/debian bookworm-updates main
";
    let s = parse_one_line(text);
    assert_eq!(s.len(), 3);
    let d = pick_debian(&s).expect("debian entry");
    assert_eq!(d.uri, "http://b.invalid/debian");
    assert_eq!(d.signed_by.as_deref(), Some("/etc/apt/keyrings/deb.gpg"));
}

#[test]
fn ubuntu_needs_override() {
    let s = parse_one_line("deb http://archive.invalid/ubuntu noble main universe\n");
    assert!(pick_debian(&s).is_none());
    let err = private_source_line(&s, None).expect_err("no debian entry");
    assert!(format!("{err}").contains(MIRROR_ENV));
    let line = private_source_line(&s, Some("http://m.invalid/debian")).expect("override");
    assert_eq!(
        line,
        format!(
            "deb [signed-by={DEFAULT_KEYRING}] http://m.invalid/debian trixie-backports main\n"
        )
    );
}

#[test]
fn override_keeps_system_keyring() {
    let s = parse_deb822(DEB822);
    let line = private_source_line(&s, Some("http://other.invalid/debian")).expect("line");
    assert!(line.contains("http://other.invalid/debian trixie-backports"));
    assert!(line.contains("debian-archive-keyring.gpg"));
}

#[test]
fn pool_fallback_pieces() {
    assert_eq!(
        source_uri("deb [signed-by=/k.gpg] http://mirror.invalid/debian trixie-backports main\n"),
        Some("http://mirror.invalid/debian")
    );
    assert_eq!(
        source_uri("deb http://m.invalid/d trixie-backports main"),
        Some("http://m.invalid/d")
    );
    assert_eq!(source_uri("# nothing"), None);
    let show = "Package: linux-image-6.19.14+deb13-amd64\nSource: linux-signed-amd64 (6.19.14+1~bpo13+1)\n\
                Version: 6.19.14-1~bpo13+1\nArchitecture: amd64\n";
    assert_eq!(parse_version(show).as_deref(), Some("6.19.14-1~bpo13+1"));
    assert_eq!(parse_version("Package: x\n"), None);
    assert_eq!(
        linux_pool_path("linux-modules-6.19.14+deb13-amd64", "6.19.14-1~bpo13+1"),
        "pool/main/l/linux/linux-modules-6.19.14+deb13-amd64_6.19.14-1~bpo13+1_amd64.deb"
    );
    assert_eq!(
        linux_pool_path("p", "1:2.0-1"),
        "pool/main/l/linux/p_2.0-1_amd64.deb"
    );
}

#[test]
fn depends_output() {
    let text = "\
linux-image-7.3.4+deb13-amd64
  PreDepends: linux-base
 |Depends: <dracut>
  Depends: <linux-initramfs-tool>
  Depends: linux-base-7.3.4+deb13-amd64
  Depends: linux-binary-7.3.4+deb13-amd64
  Breaks: <fwupdate>
  Suggests: linux-doc-7.3
";
    let deps = parse_depends(text);
    let listed: Vec<&str> = deps
        .iter()
        .filter(|d| d.listed)
        .map(|d| d.name.as_str())
        .collect();
    assert_eq!(
        listed,
        [
            "linux-base",
            "linux-base-7.3.4+deb13-amd64",
            "linux-binary-7.3.4+deb13-amd64"
        ]
    );
    assert!(deps.contains(&Dep {
        name: "dracut".into(),
        listed: false
    }));
}
