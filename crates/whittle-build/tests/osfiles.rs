//! The distribution and version of real signed APK indexes (../shared/fixtures/apk), as
//! `whittle_build::osfiles` derives them from the release packages they list.

use std::path::Path;
use whittle_apk::sign::Keyring;

fn verified(apk: &Path, index: &str, keys: &str) -> whittle_apk::index::Index {
    let mut ring = Keyring::new();
    for k in std::fs::read_dir(apk.join(keys)).unwrap() {
        ring.add_file(&k.unwrap().path()).unwrap();
    }
    let bytes = std::fs::read(apk.join(index)).unwrap();
    whittle_apk::index::verify_index(index, &bytes, &ring).unwrap()
}

#[test]
fn real_indexes_name_their_distribution() {
    let Some(fx) = whittle_testutil::fixtures() else {
        return;
    };
    let apk = fx.join("apk");
    let distro = |index: &str, keys: &str| {
        let idx = verified(&apk, index, keys);
        whittle_build::osfiles::apk_distro(&[(&idx, false)]).map(|d| (d.id, d.version, d.package))
    };
    // Alpine v3.16: alpine-base ships the release files; v3.17: its subpackage alpine-release
    assert_eq!(
        distro(
            "alpine-real/v3.16-main-x86_64/APKINDEX.tar.gz",
            "alpine-real/keys"
        ),
        Some(("alpine", "3.16.3".into(), "alpine-base 3.16.3-r0".into()))
    );
    assert_eq!(
        distro(
            "alpine-real/v3.17-main-aarch64/APKINDEX.tar.gz",
            "alpine-real/keys"
        ),
        Some(("alpine", "3.17.3".into(), "alpine-release 3.17.3-r0".into()))
    );
    // Wolfi (the Chainguard-signed index lists wolfi-baselayout too)
    let (id, version, _) = distro(
        "chainguard-multisig/APKINDEX.tar.gz",
        "chainguard-multisig/keys",
    )
    .unwrap();
    assert_eq!((id, version.as_str()), ("wolfi", "20230201"));
    let (id, _, package) = distro("wolfi-real/x86_64/APKINDEX.tar.gz", "wolfi-real/keys").unwrap();
    assert_eq!(id, "wolfi", "{package}");
    // melange-built test packages: no distribution, nothing invented
    assert_eq!(
        distro(
            "e2e-melange-rsa256/x86_64/APKINDEX.tar.gz",
            "e2e-melange-rsa256/keys"
        ),
        None
    );
}
