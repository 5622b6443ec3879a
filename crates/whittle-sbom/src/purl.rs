//! Package URLs (purl) in their canonical form.

/// Percent-encode per the purl spec's canonical form: everything except `A-Z a-z 0-9 . - _ ~`
/// and `:` becomes `%XX` (so `+` → `%2B`, `@` → `%40`, while an epoch's `:` stays as it is, as
/// packageurl-python, packageurl-go and syft write it).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `pkg:<ty>/<namespace>/<name>@<version>?<qualifiers>`: the namespace lowercased, every
/// part percent-encoded, empty qualifiers left out and the others sorted by key (the purl
/// canonical form), e.g. `pkg:deb/debian/gawk@1:5.2.1-2?arch=amd64&distro=debian-12`.
pub fn purl(
    ty: &str,
    namespace: &str,
    name: &str,
    version: &str,
    qualifiers: &[(&str, &str)],
) -> String {
    let mut s = format!(
        "pkg:{ty}/{}/{}",
        percent_encode(&namespace.to_ascii_lowercase()),
        percent_encode(name)
    );
    if !version.is_empty() {
        s.push('@');
        s.push_str(&percent_encode(version));
    }
    let mut q: Vec<&(&str, &str)> = qualifiers.iter().filter(|(_, v)| !v.is_empty()).collect();
    q.sort_by_key(|(k, _)| *k);
    for (i, (k, v)) in q.iter().enumerate() {
        s.push(if i == 0 { '?' } else { '&' });
        s.push_str(k);
        s.push('=');
        s.push_str(&percent_encode(v));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn deb_purl(ns: &str, name: &str, version: &str, arch: &str, distro: &str) -> String {
        purl(
            "deb",
            ns,
            name,
            version,
            &[("distro", distro), ("arch", arch)],
        )
    }

    fn apk_purl(ns: &str, name: &str, version: &str, arch: &str, distro: &str) -> String {
        purl(
            "apk",
            ns,
            name,
            version,
            &[("arch", arch), ("distro", distro)],
        )
    }

    #[test]
    fn table() {
        let cases = [
            (
                deb_purl("debian", "gawk", "1:5.2.1-2", "amd64", "debian-12"),
                "pkg:deb/debian/gawk@1:5.2.1-2?arch=amd64&distro=debian-12",
            ),
            (
                deb_purl("debian", "libc6", "2.36-9+deb12u10", "arm64", "debian-12"),
                "pkg:deb/debian/libc6@2.36-9%2Bdeb12u10?arch=arm64&distro=debian-12",
            ),
            (
                deb_purl("debian", "libstdc++6", "12.2.0-14~bpo", "all", ""),
                "pkg:deb/debian/libstdc%2B%2B6@12.2.0-14~bpo?arch=all",
            ),
            (
                deb_purl("Debian", "tzdata", "", "", ""),
                "pkg:deb/debian/tzdata",
            ),
            (
                apk_purl("alpine", "busybox", "1.36.1-r29", "x86_64", "alpine-3.20"),
                "pkg:apk/alpine/busybox@1.36.1-r29?arch=x86_64&distro=alpine-3.20",
            ),
            (
                apk_purl("wolfi", "so:libc.so.6", "1 2", "aarch64", ""),
                "pkg:apk/wolfi/so:libc.so.6@1%202?arch=aarch64",
            ),
        ];
        for (got, want) in cases {
            assert_eq!(got, want);
        }
    }

    fn decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }

    proptest! {
        #[test]
        fn encoding_roundtrips_and_is_safe(s in "\\PC{0,30}") {
            let e = percent_encode(&s);
            prop_assert!(e.bytes().all(|b| b.is_ascii_alphanumeric() || b".-_~%:".contains(&b)));
            prop_assert_eq!(decode(&e), s.as_bytes().to_vec());
        }
    }
}
