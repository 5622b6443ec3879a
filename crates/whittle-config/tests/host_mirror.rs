//! `host:debian` resolution against fake apt sources in a temp dir and an injected env.

use std::collections::BTreeMap;
use std::fs;

use whittle_config::host_mirror::{HostMirrorError, HostMirrorResolver, MIRROR_ENV};

fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("etc/apt/sources.list.d")).unwrap();
    for (name, text) in files {
        fs::write(dir.path().join("etc/apt").join(name), text).unwrap();
    }
    dir
}

fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn deb822_sources() {
    let root = root_with(&[
        (
            "sources.list.d/debian.sources",
            "Types: deb\nURIs: http://mirror-a.invalid/debian-security/\nSuites: bookworm-security\nComponents: main\n\n\
             Types: deb\nURIs: http://mirror-a.invalid/debian/\nSuites: bookworm bookworm-updates\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
        ),
        (
            "sources.list",
            "deb http://mirror-b.invalid/debian bookworm main\n",
        ),
    ]);
    let r = HostMirrorResolver::new(root.path(), BTreeMap::new());
    assert_eq!(
        r.resolve("host:debian").unwrap(),
        "http://mirror-a.invalid/debian"
    );
    assert_eq!(
        r.resolve("host:debian-security").unwrap(),
        "http://mirror-a.invalid/debian-security"
    );
    // Non-alias URIs pass through.
    assert_eq!(
        r.resolve("https://x.invalid/d").unwrap(),
        "https://x.invalid/d"
    );
    assert!(matches!(
        r.resolve("host:ubuntu"),
        Err(HostMirrorError::UnknownAlias(_))
    ));
}

#[test]
fn one_line_sources_list() {
    let root = root_with(&[(
        "sources.list",
        "# comment\ndeb-src http://src.invalid/debian bookworm main\n\
         deb http://mirror-c.invalid/debian bookworm-updates main\n\
         deb [arch=amd64] http://mirror-c.invalid/debian/ bookworm main\n\
         deb http://security.invalid/debian-security bookworm-security main\n",
    )]);
    let r = HostMirrorResolver::new(root.path(), BTreeMap::new());
    assert_eq!(
        r.resolve("host:debian").unwrap(),
        "http://mirror-c.invalid/debian"
    );
    assert_eq!(
        r.resolve("host:debian-security").unwrap(),
        "http://security.invalid/debian-security"
    );
}

#[test]
fn env_overrides_files() {
    let root = root_with(&[(
        "sources.list",
        "deb http://mirror-c.invalid/debian bookworm main\n",
    )]);
    let r = HostMirrorResolver::new(
        root.path(),
        env(&[(MIRROR_ENV, "http://env.invalid/debian/")]),
    );
    assert_eq!(
        r.resolve("host:debian").unwrap(),
        "http://env.invalid/debian"
    );
    let bad = HostMirrorResolver::new(root.path(), env(&[(MIRROR_ENV, "mirror.invalid")]));
    let err = bad.resolve("host:debian").unwrap_err();
    assert!(matches!(err, HostMirrorError::BadEnv { .. }), "{err}");
    // An empty variable is ignored.
    let empty = HostMirrorResolver::new(root.path(), env(&[(MIRROR_ENV, "")]));
    assert_eq!(
        empty.resolve("host:debian").unwrap(),
        "http://mirror-c.invalid/debian"
    );
}

#[test]
fn not_found_names_files_and_env() {
    let root = root_with(&[("sources.list", "deb cdrom:[Debian]/ bookworm main\n")]);
    let r = HostMirrorResolver::new(root.path(), BTreeMap::new());
    let err = r.resolve("host:debian").unwrap_err().to_string();
    assert!(err.contains("sources.list"), "{err}");
    assert!(err.contains("WHITTLE_DEBIAN_MIRROR"), "{err}");
    let empty = tempfile::tempdir().unwrap();
    let err = HostMirrorResolver::new(empty.path(), BTreeMap::new())
        .resolve("host:debian-security")
        .unwrap_err()
        .to_string();
    assert!(err.contains("no sources files"), "{err}");
    assert!(err.contains("WHITTLE_DEBIAN_SECURITY_MIRROR"), "{err}");
}

#[test]
fn huge_sources_file_is_refused() {
    let root = root_with(&[]);
    let big = root.path().join("etc/apt/sources.list");
    fs::File::create(&big).unwrap().set_len(2 << 20).unwrap();
    let err = HostMirrorResolver::new(root.path(), BTreeMap::new()).resolve("host:debian");
    assert!(matches!(err, Err(HostMirrorError::TooLarge(_))));
}
