//! What package scripts would have done, done natively after the packages are installed
//! (whittle runs no script): the links Debian's `update-alternatives` makes (including the JVM
//! tools OpenJDK's `postinst` registers in a loop, read from its `.jinfo` file), the CA bundle
//! `update-ca-certificates` writes (Debian's `ca-certificates` postinst, Alpine's trigger), and
//! Java's trust store `ca-certificates-java` makes from that bundle.

use crate::ldcache::{file_bytes, file_data, link_target, lookup, under};
use crate::{Error, Events};
use whittle_deb::alternatives::Alternative;
use whittle_fs::{Meta, Node, Tree};

/// Does every native equivalent on an assembled tree (after the config's `paths`, so what the
/// config adds counts) and says in the build log what it did. APK builds pass no alternatives.
pub fn apply(
    tree: &mut Tree,
    alternatives: &[Alternative],
    events: &dyn Events,
) -> Result<(), Error> {
    // OpenJDK registers its tools in a postinst loop the literal-call reader skips; its
    // `.jinfo` file lists the same tools, paths and priority
    let mut alternatives = alternatives.to_vec();
    alternatives.extend(jvm_alternatives(tree));
    let made = apply_alternatives(tree, &alternatives)?;
    if !made.is_empty() {
        let list: Vec<String> = made
            .iter()
            .map(|(name, path)| format!("{name} -> {path}"))
            .collect();
        events.step(&format!(
            "assemble  alternatives, as update-alternatives would set them: {}",
            list.join(", ")
        ));
    }
    let certs = ca_certificates(tree)?;
    if certs > 0 {
        events.step(&format!(
            "assemble  {CA_BUNDLE} with {certs} certificates, as update-ca-certificates would write it"
        ));
    }
    match java_cacerts(tree)? {
        JavaCacerts::NotWanted => {}
        JavaCacerts::Written {
            certificates,
            left_out,
        } => events.step(&format!(
            "assemble  /{JAVA_CACERTS} with {certificates} certificates, as ca-certificates-java would write it{}",
            match left_out {
                0 => String::new(),
                n => format!(" ({n} entries of /{CA_BUNDLE} left out: not certificates Java can read)"),
            }
        )),
        JavaCacerts::BundleTooLarge(size) => events.warn(&format!(
            "/{JAVA_CACERTS} not written: /{CA_BUNDLE} is {size} bytes, more than the {MAX_BUNDLE} read"
        )),
    }
    // libc-bin's and tzdata's scripts: /etc/nsswitch.conf, the time zone, and (last, once every
    // library is in) the loader's cache
    crate::etcfiles::apply(tree, events)?;
    crate::ldcache::apply(tree, events)?;
    Ok(())
}

/// Makes the links `update-alternatives` would: for each generic name, the installed alternative
/// of highest priority (the first of equal ones) wins; `LINK -> /etc/alternatives/NAME ->
/// PATH`, and the same for each slave whose path is in the image. A link path something else
/// already occupies (a package's own file) is left alone. Returns `name -> path` of each made.
pub fn apply_alternatives(
    tree: &mut Tree,
    alternatives: &[Alternative],
) -> Result<Vec<(String, String)>, Error> {
    let present = |tree: &Tree, p: &str| tree.get(p.trim_start_matches('/')).is_some();
    let mut best: std::collections::BTreeMap<&str, &Alternative> = Default::default();
    for a in alternatives {
        if !present(tree, &a.path) {
            continue;
        }
        match best.get(a.name.as_str()) {
            Some(b) if b.priority >= a.priority => {}
            _ => {
                best.insert(&a.name, a);
            }
        }
    }
    let mut made = Vec::new();
    for (name, a) in best {
        let link = |tree: &mut Tree, link: &str, name: &str, path: &str| -> Result<bool, Error> {
            let link = link.trim_start_matches('/');
            if tree.get(link).is_some() {
                return Ok(false);
            }
            let admin = format!("etc/alternatives/{name}");
            tree.insert(&admin, Node::symlink(path.to_string()), Meta::root(0o777))?;
            tree.insert(link, Node::symlink(format!("/{admin}")), Meta::root(0o777))?;
            Ok(true)
        };
        if !link(tree, &a.link, name, &a.path)? {
            continue;
        }
        for (l, n, p) in &a.slaves {
            if present(tree, p) {
                link(tree, l, n, p)?;
            }
        }
        made.push((name.to_string(), a.path.clone()));
    }
    Ok(made)
}

/// Where Debian's `ca-certificates` keeps the certificates it ships, and where local ones go.
const CA_DIRS: [&str; 2] = [
    "usr/share/ca-certificates/",
    "usr/local/share/ca-certificates/",
];
/// The bundle `update-ca-certificates` writes.
pub const CA_BUNDLE: &str = "etc/ssl/certs/ca-certificates.crt";

/// Writes what `update-ca-certificates` would after `ca-certificates` is installed: every
/// `*.crt` under `/usr/share/ca-certificates` (in byte order of their paths, as the package's
/// `postinst` lists them in `/etc/ca-certificates.conf`, all selected), then those under
/// `/usr/local/share/ca-certificates`, concatenated into `/etc/ssl/certs/ca-certificates.crt`,
/// with a `/etc/ssl/certs/NAME.pem` link to each. OpenSSL's hashed names are not made (the
/// bundle is what TLS libraries read). Nothing happens when no certificate is installed or a
/// package already ships the bundle. Returns the number of certificates bundled.
pub fn ca_certificates(tree: &mut Tree) -> Result<usize, Error> {
    if tree.get(CA_BUNDLE).is_some() {
        return Ok(0);
    }
    let certs: Vec<(usize, String, whittle_fs::FileData)> = CA_DIRS
        .iter()
        .enumerate()
        .flat_map(|(dir, prefix)| {
            under(tree, prefix).filter_map(move |(path, entry)| match &entry.node {
                Node::File(data) if path.ends_with(".crt") => {
                    Some((dir, path.to_string(), data.clone()))
                }
                _ => None,
            })
        })
        .collect();
    if certs.is_empty() {
        return Ok(0);
    }
    // the bundle is made in memory: bounded before anything is read (large files are on disk,
    // up to the image's cap)
    let total = certs
        .iter()
        .fold(0u64, |t, (_, _, d)| t.saturating_add(d.len()));
    if total > MAX_BUNDLE as u64 {
        return Err(Error::Unsupported(format!(
            "the certificates under /{} and /{} are {total} bytes together, more than the \
             {MAX_BUNDLE} a CA bundle may have (Debian's is about 220 KB): a package ships \
             something else as a .crt file",
            CA_DIRS[0], CA_DIRS[1]
        )));
    }
    // in byte order of their paths already: the directories in order, each walked in order
    let mut bundle = Vec::new();
    let mut conf = String::from(
        "# Written by whittle as ca-certificates' postinst would: every certificate selected.\n",
    );
    for (dir, path, data) in &certs {
        bundle.extend_from_slice(
            &data
                .bytes()
                .map_err(|e| whittle_fs::Error::content(path, e))?,
        );
        if !bundle.ends_with(b"\n") {
            bundle.push(b'\n');
        }
        let rel = &path[CA_DIRS[*dir].len()..];
        if *dir == 0 {
            conf.push_str(rel);
            conf.push('\n');
        }
        let name = rel.rsplit('/').next().unwrap_or(rel);
        let link = format!("etc/ssl/certs/{}.pem", name.trim_end_matches(".crt"));
        if tree.get(&link).is_none() {
            tree.insert(&link, Node::symlink(format!("/{path}")), Meta::root(0o777))?;
        }
    }
    tree.insert(CA_BUNDLE, Node::file(bundle), Meta::root(0o644))?;
    if tree.get("etc/ca-certificates.conf").is_none() {
        tree.insert(
            "etc/ca-certificates.conf",
            Node::file(conf.into_bytes()),
            Meta::root(0o644),
        )?;
    }
    Ok(certs.len())
}

/// Where Debian's JVMs are installed, each with a `.NAME.jinfo` file beside it.
const JVM_DIR: &str = "usr/lib/jvm/";
/// Largest `.jinfo` file read (bookworm's and trixie's are under 2 KiB).
const MAX_JINFO: usize = 64 << 10;

/// The alternatives the installed JVMs' `postinst` registers (`/usr/bin/java`, `keytool`, ...),
/// read from their `/usr/lib/jvm/.NAME.jinfo` files (see
/// [`whittle_deb::alternatives::parse_jinfo`]): the scripts do it in a loop over shell
/// variables, which [`whittle_deb::alternatives::parse_postinst`] does not evaluate. Files that
/// are not UTF-8 or larger than 64 KiB are skipped. Tools the image does not hold are left to
/// [`apply_alternatives`], which makes links only to installed paths.
pub fn jvm_alternatives(tree: &Tree) -> Vec<Alternative> {
    under(tree, JVM_DIR)
        .filter(|(path, _)| {
            let name = &path[JVM_DIR.len()..];
            name.starts_with('.') && name.ends_with(".jinfo") && !name.contains('/')
        })
        .filter_map(|(_, entry)| match &entry.node {
            Node::File(data) => data.text_at_most(MAX_JINFO as u64),
            _ => None,
        })
        .flat_map(|text| whittle_deb::alternatives::parse_jinfo(&text))
        .collect()
}

/// The keystore `ca-certificates-java` writes, which Debian's JREs link `lib/security/cacerts`
/// to.
pub const JAVA_CACERTS: &str = "etc/ssl/certs/java/cacerts";
/// The keystore's password: `ca-certificates-java`'s `storepass`, the JDK's default.
pub const JAVA_CACERTS_PASSWORD: &str = "changeit";
/// `ca-certificates-java`'s program: when installed, the keystore is wanted.
const CA_CERTIFICATES_JAVA: &str = "usr/share/ca-certificates-java/ca-certificates-java.jar";
/// Largest CA bundle read for Java's trust store (Debian's is about 220 KB).
pub const MAX_BUNDLE: usize = 32 << 20;
/// Where `update-ca-certificates` links each certificate as `NAME.pem`.
const PEM_DIR: &str = "etc/ssl/certs/";
/// Largest `/etc/ssl/certs/*.pem` file read to name a certificate of the bundle.
const MAX_PEM_FILE: usize = 1 << 20;

/// What [`java_cacerts`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JavaCacerts {
    /// Nothing: no JRE reads the keystore and `ca-certificates-java` is not installed, a package
    /// ships the keystore, or the image has no CA bundle.
    NotWanted,
    /// The keystore was written with `certificates` entries; `left_out` blocks of the bundle are
    /// not certificates Java could read (bad base64, not an X.509 structure, unterminated).
    Written {
        /// Entries of the keystore.
        certificates: usize,
        /// Blocks of the bundle not in it.
        left_out: usize,
    },
    /// The bundle is larger than [`MAX_BUNDLE`] bytes (its size): not read, nothing written.
    BundleTooLarge(usize),
}

/// Writes Java's trust store `/etc/ssl/certs/java/cacerts` as `ca-certificates-java`'s
/// `postinst` would (it runs Java, which whittle does not): when the image has the CA bundle
/// ([`CA_BUNDLE`]) and a JRE under `/usr/lib/jvm` whose `lib/security/cacerts` links to the
/// keystore (or `ca-certificates-java` is installed), and no package ships the keystore.
///
/// The keystore is a JKS file (what `ca-certificates-java` writes, and what `keytool -list
/// -cacerts` reads) with one trusted-certificate entry per certificate of the bundle, password
/// [`JAVA_CACERTS_PASSWORD`]. Each entry is named as `ca-certificates-java` names it,
/// `debian:NAME.pem` (lower case, as JKS keeps aliases) after the `/etc/ssl/certs/NAME.pem` file
/// holding that certificate; a certificate no such file holds (a bundle a package ships) is
/// `ca-certificates.crt:N` after its place in the bundle. Entries are sorted by name and dated
/// 1970-01-01, so the same bundle gives the same bytes.
pub fn java_cacerts(tree: &mut Tree) -> Result<JavaCacerts, Error> {
    if tree.get(JAVA_CACERTS).is_some() || !java_cacerts_wanted(tree) {
        return Ok(JavaCacerts::NotWanted);
    }
    // sized before it is read: large files are on disk, up to the image's cap
    let Some(size) = lookup(tree, CA_BUNDLE, true)
        .and_then(|(_, e)| file_data(tree, e))
        .map(|d| d.len())
    else {
        return Ok(JavaCacerts::NotWanted);
    };
    if size > MAX_BUNDLE as u64 {
        return Ok(JavaCacerts::BundleTooLarge(
            usize::try_from(size).unwrap_or(usize::MAX),
        ));
    }
    let Some(bundle) = read_file(tree, CA_BUNDLE) else {
        return Ok(JavaCacerts::NotWanted);
    };
    let (certs, left_out) = pem_certificates(&bundle);
    if certs.is_empty() {
        return Ok(JavaCacerts::NotWanted);
    }
    // the names ca-certificates-java gives: /etc/ssl/certs/NAME.pem holding that certificate
    // (in name order, for certificates the bundle holds twice); each file the links lead to is
    // read once, up to its first certificate
    let mut names: std::collections::BTreeMap<Vec<u8>, Vec<String>> = Default::default();
    let mut first_cert: std::collections::HashMap<String, Option<Vec<u8>>> = Default::default();
    let pems: Vec<&str> = under(tree, PEM_DIR)
        .map(|(path, _)| &path[PEM_DIR.len()..])
        .filter(|name| name.ends_with(".pem") && !name.contains('/'))
        .collect();
    for name in pems.into_iter().rev() {
        let Some((real, entry)) = lookup(tree, &format!("{PEM_DIR}{name}"), true) else {
            continue;
        };
        let der = first_cert.entry(real).or_insert_with(|| {
            let data = file_data(tree, entry).filter(|d| d.len() <= MAX_PEM_FILE as u64)?;
            pem_blocks(&data.bytes().ok()?).flatten().next()
        });
        if let Some(der) = der {
            names.entry(der.clone()).or_default().push(name.to_string());
        }
    }
    let mut used = std::collections::BTreeSet::new();
    let mut entries: Vec<(String, Vec<u8>)> = Vec::with_capacity(certs.len());
    for (i, der) in certs.into_iter().enumerate() {
        let named = names
            .get_mut(&der)
            .and_then(|n| n.pop())
            .map(|n| format!("debian:{}", n.to_lowercase()))
            .filter(|a| !used.contains(a) && java_utf(a).is_some());
        let alias = named.unwrap_or_else(|| format!("ca-certificates.crt:{:06}", i + 1));
        used.insert(alias.clone());
        entries.push((alias, der));
    }
    entries.sort();
    let Some(store) = jks_trust_store(&entries, JAVA_CACERTS_PASSWORD, 0) else {
        return Ok(JavaCacerts::NotWanted);
    };
    tree.insert(JAVA_CACERTS, Node::file(store), Meta::root(0o644))?;
    Ok(JavaCacerts::Written {
        certificates: entries.len(),
        left_out,
    })
}

/// Whether the image wants [`JAVA_CACERTS`]: `ca-certificates-java` is installed, or a JRE's
/// `lib/security/cacerts` under `/usr/lib/jvm` is a symlink to it.
fn java_cacerts_wanted(tree: &Tree) -> bool {
    if tree.get(CA_CERTIFICATES_JAVA).is_some() {
        return true;
    }
    let Ok(want) = tree.real_path(JAVA_CACERTS) else {
        return false;
    };
    under(tree, JVM_DIR).any(|(path, entry)| {
        path.ends_with("/lib/security/cacerts")
            && matches!(&entry.node, Node::Symlink(t)
                if link_target(path, t).and_then(|p| tree.real_path(&p).ok()).as_deref()
                    == Some(want.as_str()))
    })
}

/// The content of the regular file the tree path `path` names, symlinks and hardlinks followed
/// ([`lookup`]). `None` when it names no file.
fn read_file<'t>(tree: &'t Tree, path: &str) -> Option<std::borrow::Cow<'t, [u8]>> {
    lookup(tree, path, true).and_then(|(_, e)| file_bytes(tree, e))
}

/// The DER certificates of the PEM text `pem`, in order, and how many of its `-----BEGIN`
/// blocks are left out ([`pem_blocks`]).
fn pem_certificates(pem: &[u8]) -> (Vec<Vec<u8>>, usize) {
    let mut certs = Vec::new();
    let mut left_out = 0;
    for block in pem_blocks(pem) {
        match block {
            Some(der) => certs.push(der),
            None => left_out += 1,
        }
    }
    (certs, left_out)
}

/// The `-----BEGIN` blocks of the PEM text `pem`, in order, as they are read: the DER
/// certificate of each, or `None` for a block left out: of another kind (`TRUSTED
/// CERTIFICATE`, `X509 CRL`), with bad base64, whose content is not shaped as an X.509
/// certificate ([`is_certificate`]), or not terminated. Text outside the blocks is ignored, as
/// OpenSSL and Java ignore it.
fn pem_blocks(pem: &[u8]) -> impl Iterator<Item = Option<Vec<u8>>> + '_ {
    use base64::Engine;
    let mut lines = pem.split(|&b| b == b'\n');
    // the label and base64 text of the block being read
    let mut block: Option<(&[u8], Vec<u8>)> = None;
    std::iter::from_fn(move || {
        loop {
            let Some(line) = lines.next() else {
                // an unterminated block
                return block.take().map(|_| None);
            };
            let line = line.trim_ascii();
            if let Some(label) = line
                .strip_prefix(b"-----BEGIN ")
                .and_then(|l| l.strip_suffix(b"-----"))
            {
                if block.replace((label, Vec::new())).is_some() {
                    return Some(None);
                }
            } else if let Some(label) = line
                .strip_prefix(b"-----END ")
                .and_then(|l| l.strip_suffix(b"-----"))
            {
                let Some((begun, text)) = block.take() else {
                    continue;
                };
                let der = (begun == label && label == b"CERTIFICATE")
                    .then(|| base64::engine::general_purpose::STANDARD.decode(&text).ok())
                    .flatten()
                    .filter(|der| is_certificate(der));
                return Some(der);
            } else if let Some((_, text)) = &mut block {
                text.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
            }
        }
    })
}

/// Whether `der` has the shape of an X.509 certificate: one DER `SEQUENCE` of a `SEQUENCE`
/// (the signed part), a `SEQUENCE` (the signature algorithm) and a `BIT STRING` (the
/// signature), with nothing after. Java refuses to load a whole keystore when one entry does not
/// parse, so what is clearly not a certificate stays out.
fn is_certificate(der: &[u8]) -> bool {
    let Some((0x30, body, [])) = der_element(der) else {
        return false;
    };
    let Some((0x30, _, rest)) = der_element(body) else {
        return false;
    };
    let Some((0x30, _, rest)) = der_element(rest) else {
        return false;
    };
    matches!(der_element(rest), Some((0x03, _, [])))
}

/// One DER element at the start of `b`: `(tag, content, rest)`. Only definite, minimally encoded
/// lengths up to 4 bytes are accepted (as DER requires).
fn der_element(b: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, b) = b.split_first()?;
    let (&first, b) = b.split_first()?;
    let (len, b) = if first < 0x80 {
        (usize::from(first), b)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 || b.len() < n || b[0] == 0 {
            return None;
        }
        let len = b[..n]
            .iter()
            .fold(0usize, |acc, &x| (acc << 8) | usize::from(x));
        if len < 0x80 {
            return None;
        }
        (len, &b[n..])
    };
    (b.len() >= len).then(|| (tag, &b[..len], &b[len..]))
}

/// `s` as Java's `DataOutputStream.writeUTF` writes it: a big-endian 16-bit length, then the
/// text in modified UTF-8 (UTF-16 units, NUL as two bytes). `None` when longer than 65535 bytes.
fn java_utf(s: &str) -> Option<Vec<u8>> {
    let mut text = Vec::with_capacity(s.len());
    for u in s.encode_utf16() {
        match u {
            0x01..=0x7f => text.push(u as u8),
            0 | 0x80..=0x7ff => text.extend([0xc0 | (u >> 6) as u8, 0x80 | (u & 0x3f) as u8]),
            _ => text.extend([
                0xe0 | (u >> 12) as u8,
                0x80 | ((u >> 6) & 0x3f) as u8,
                0x80 | (u & 0x3f) as u8,
            ]),
        }
    }
    let mut out = u16::try_from(text.len()).ok()?.to_be_bytes().to_vec();
    out.extend(text);
    Some(out)
}

/// A JKS keystore as the JDK's `JavaKeyStore` stores one: magic `0xFEEDFEED`, version 2, the
/// entry count, then per entry (in the given order) tag 2 (trusted certificate), alias, creation
/// time `timestamp_ms` (milliseconds since 1970), type `X.509`, and the DER certificate; last the
/// integrity digest, SHA-1 over the password (UTF-16 big-endian), the words "Mighty Aphrodite"
/// and everything before. `None` when an alias is longer than 65535 bytes or a certificate than
/// 4 GiB (Java could not read them).
pub fn jks_trust_store(
    entries: &[(String, Vec<u8>)],
    password: &str,
    timestamp_ms: u64,
) -> Option<Vec<u8>> {
    use sha1::Digest;
    let mut out = Vec::new();
    out.extend(0xFEED_FEEDu32.to_be_bytes());
    out.extend(2u32.to_be_bytes());
    out.extend(u32::try_from(entries.len()).ok()?.to_be_bytes());
    let x509 = java_utf("X.509")?;
    for (alias, der) in entries {
        out.extend(2u32.to_be_bytes());
        out.extend(java_utf(alias)?);
        out.extend(timestamp_ms.to_be_bytes());
        out.extend(&x509);
        out.extend(u32::try_from(der.len()).ok()?.to_be_bytes());
        out.extend(der);
    }
    let mut sha = sha1::Sha1::new();
    for u in password.encode_utf16() {
        sha.update(u.to_be_bytes());
    }
    sha.update(b"Mighty Aphrodite");
    sha.update(&out);
    out.extend(sha.finalize());
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assemble::{put_file, skeleton};

    #[test]
    fn alternatives_pick_the_highest_priority_installed_one() {
        let alt = |link: &str, name: &str, path: &str, priority: i64| Alternative {
            link: link.into(),
            name: name.into(),
            path: path.into(),
            priority,
            slaves: vec![(
                format!("{link}.1"),
                format!("{name}.1"),
                format!("{path}.1"),
            )],
        };
        let mut tree = skeleton("amd64").unwrap();
        for f in [
            "usr/bin/mawk",
            "usr/bin/gawk",
            "usr/bin/gawk.1",
            "usr/bin/gcc",
            "usr/bin/vi",
        ] {
            put_file(&mut tree, f, b"x".to_vec(), 0o755).unwrap();
        }
        let made = apply_alternatives(
            &mut tree,
            &[
                alt("/usr/bin/awk", "awk", "/usr/bin/mawk", 5),
                alt("/usr/bin/awk", "awk", "/usr/bin/gawk", 10),
                alt("/usr/bin/cc", "cc", "/usr/bin/gcc", 20),
                alt("/usr/bin/ghost", "ghost", "/usr/bin/not-installed", 99),
                // a package's own file at the link path stays
                alt("/usr/bin/vi", "vi", "/usr/bin/gawk", 1),
            ],
        )
        .unwrap();
        assert_eq!(
            made,
            [
                ("awk".to_string(), "/usr/bin/gawk".to_string()),
                ("cc".to_string(), "/usr/bin/gcc".to_string())
            ]
        );
        let target = |p: &str| match tree.get(p).map(|e| &e.node) {
            Some(Node::Symlink(t)) => Some(t.to_string()),
            _ => None,
        };
        assert_eq!(
            target("usr/bin/awk").as_deref(),
            Some("/etc/alternatives/awk")
        );
        assert_eq!(
            target("etc/alternatives/awk").as_deref(),
            Some("/usr/bin/gawk")
        );
        // slaves only where their path is installed
        assert_eq!(
            target("usr/bin/awk.1").as_deref(),
            Some("/etc/alternatives/awk.1")
        );
        assert_eq!(target("usr/bin/cc.1"), None);
        assert!(matches!(
            tree.get("usr/bin/vi").map(|e| &e.node),
            Some(Node::File(_))
        ));
        assert!(tree.get("usr/bin/ghost").is_none());
    }

    #[test]
    fn ca_bundle_concatenates_shipped_then_local_certificates() {
        let mut tree = skeleton("amd64").unwrap();
        assert_eq!(ca_certificates(&mut tree).unwrap(), 0, "nothing installed");
        for (p, d) in [
            ("usr/share/ca-certificates/mozilla/B_Root.crt", &b"B\n"[..]),
            ("usr/share/ca-certificates/mozilla/A_Root.crt", &b"A"[..]),
            ("usr/local/share/ca-certificates/corp.crt", &b"LOCAL\n"[..]),
            (
                "usr/share/ca-certificates/mozilla/README",
                &b"not a cert"[..],
            ),
        ] {
            put_file(&mut tree, p, d.to_vec(), 0o644).unwrap();
        }
        assert_eq!(ca_certificates(&mut tree).unwrap(), 3);
        let file = |p: &str| match tree.get(p).map(|e| &e.node) {
            Some(Node::File(d)) => String::from_utf8(d.read_to_vec().unwrap()).unwrap(),
            other => panic!("{p}: {other:?}"),
        };
        assert_eq!(file(CA_BUNDLE), "A\nB\nLOCAL\n");
        assert!(
            file("etc/ca-certificates.conf").ends_with("mozilla/A_Root.crt\nmozilla/B_Root.crt\n")
        );
        assert!(matches!(
            tree.get("etc/ssl/certs/A_Root.pem").map(|e| &e.node),
            Some(Node::Symlink(t)) if &**t == "/usr/share/ca-certificates/mozilla/A_Root.crt"
        ));
        // a second run (or a package's own bundle) leaves it as it is
        assert_eq!(ca_certificates(&mut tree).unwrap(), 0);
    }

    /// Collects the build log.
    #[derive(Default)]
    struct Log(std::sync::Mutex<Vec<String>>);
    impl whittle_fetch::Progress for Log {
        fn start(&self, _: usize, _: u64, _: usize) {}
        fn done(&self, _: &str, _: u64, _: bool) {}
    }
    impl Events for Log {
        fn step(&self, msg: &str) {
            self.0.lock().unwrap().push(msg.to_string());
        }
        fn warn(&self, msg: &str) {
            self.0.lock().unwrap().push(format!("warning: {msg}"));
        }
    }
    impl Log {
        fn text(&self) -> String {
            self.0.lock().unwrap().join("\n")
        }
    }

    fn symlink_target(tree: &Tree, p: &str) -> Option<String> {
        match tree.get(p).map(|e| &e.node) {
            Some(Node::Symlink(t)) => Some(t.to_string()),
            _ => None,
        }
    }

    const JDK: &str = "usr/lib/jvm/java-17-openjdk-amd64";

    #[test]
    fn jvm_tools_from_the_jinfo_file_become_usr_bin_links() {
        let mut tree = skeleton("amd64").unwrap();
        let jinfo = format!(
            "name=java-17-openjdk-amd64\npriority=1711\nsection=main\n\nhl java /{JDK}/bin/java\nhl keytool /{JDK}/bin/keytool\nhl jexec /{JDK}/lib/jexec\njdkhl javac /{JDK}/bin/javac\n"
        );
        put_file(
            &mut tree,
            "usr/lib/jvm/.java-1.17.0-openjdk-amd64.jinfo",
            jinfo.into_bytes(),
            0o644,
        )
        .unwrap();
        for f in ["bin/java", "bin/keytool", "lib/jexec"] {
            put_file(&mut tree, &format!("{JDK}/{f}"), b"ELF".to_vec(), 0o755).unwrap();
        }
        // a file beside the JVMs that is not a .jinfo, and one in a JVM's directory, are not read
        put_file(
            &mut tree,
            "usr/lib/jvm/jinfo",
            b"priority=9\nhl rmid /usr/bin/gawk\n".to_vec(),
            0o644,
        )
        .unwrap();
        put_file(
            &mut tree,
            &format!("{JDK}/.x.jinfo"),
            b"priority=9\nhl rmid /usr/bin/gawk\n".to_vec(),
            0o644,
        )
        .unwrap();
        put_file(&mut tree, "usr/bin/gawk", b"ELF".to_vec(), 0o755).unwrap();
        // a literal postinst call of higher priority for the same name still wins
        put_file(&mut tree, "opt/jre/bin/keytool", b"ELF".to_vec(), 0o755).unwrap();
        let from_postinst = Alternative {
            link: "/usr/bin/keytool".into(),
            name: "keytool".into(),
            path: "/opt/jre/bin/keytool".into(),
            priority: 5000,
            slaves: Vec::new(),
        };
        let log = Log::default();
        apply(&mut tree, &[from_postinst], &log).unwrap();
        assert_eq!(
            symlink_target(&tree, "usr/bin/java").as_deref(),
            Some("/etc/alternatives/java")
        );
        assert_eq!(
            symlink_target(&tree, "etc/alternatives/java"),
            Some(format!("/{JDK}/bin/java"))
        );
        assert_eq!(
            symlink_target(&tree, "etc/alternatives/jexec"),
            Some(format!("/{JDK}/lib/jexec"))
        );
        assert_eq!(
            symlink_target(&tree, "etc/alternatives/keytool").as_deref(),
            Some("/opt/jre/bin/keytool")
        );
        // javac is not in the image, rmid came from no .jinfo of /usr/lib/jvm
        assert!(tree.get("usr/bin/javac").is_none());
        assert!(tree.get("usr/bin/rmid").is_none());
        let text = log.text();
        assert!(text.contains(&format!("java -> /{JDK}/bin/java")), "{text}");
        assert!(text.contains("keytool -> /opt/jre/bin/keytool"), "{text}");
    }

    /// Two self-signed roots made with `openssl req -x509 -newkey ec` for these tests.
    const ROOT_A: &str = "-----BEGIN CERTIFICATE-----
MIIBfzCCASagAwIBAgIBATAKBggqhkjOPQQDAjAeMRwwGgYDVQQDDBN3aGl0dGxl
IHRlc3Qgcm9vdCBhMCAXDTI2MTIwNTA5MTgzOFoYDzIxMjYxMTExMDkxODM4WjAe
MRwwGgYDVQQDDBN3aGl0dGxlIHRlc3Qgcm9vdCBhMFkwEwYHKoZIzj0CAQYIKoZI
zj0DAQcDQgAE0vOh0vR5OjI5O1KhzB279gF+u7OtPscmWgzEV3D5x7gG+KNw0H2g
Wnvp0Vh1yq6RbS/KsIPcnk9NaLp1Q8a12qNTMFEwHQYDVR0OBBYEFKgGFCaI+wsw
MDZLTxSkaunqhyqLMB8GA1UdIwQYMBaAFKgGFCaI+wswMDZLTxSkaunqhyqLMA8G
A1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgcmDoV07O0e9H3RMT7STX
0kbSsK1cikBDRPw7Pgu0x/ICIE5TkcID5P7MLNTKx0cXAlbsPaG8F7fkPmoiUKSW
K2eu
-----END CERTIFICATE-----
";
    const ROOT_B: &str = "-----BEGIN CERTIFICATE-----
MIIBfzCCASagAwIBAgIBATAKBggqhkjOPQQDAjAeMRwwGgYDVQQDDBN3aGl0dGxl
IHRlc3Qgcm9vdCBiMCAXDTI2MTIwNTA5MTgzOFoYDzIxMjYxMTExMDkxODM4WjAe
MRwwGgYDVQQDDBN3aGl0dGxlIHRlc3Qgcm9vdCBiMFkwEwYHKoZIzj0CAQYIKoZI
zj0DAQcDQgAEw1G5+HZzyHJaEpgl3wmurF91JY/UDYCduNnuSeT22MeqjKoB+Pid
673Tju83QwUtZDTnuTgCqYG4BQiaP22I+KNTMFEwHQYDVR0OBBYEFM4VKeqyvGQy
0OCXMkPqqY0eBI4NMB8GA1UdIwQYMBaAFM4VKeqyvGQy0OCXMkPqqY0eBI4NMA8G
A1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDRwAwRAIgeX6quoxIJhLIW5FP9IA3
lla8RNgmadyh3Ipbv2EekswCIHr7bhoOy5SeVZcCZu1YasByJBvpCaPpS6Y1sI2O
70ao
-----END CERTIFICATE-----
";
    const BROKEN: &str = "-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n";

    /// An image with `ca-certificates`' files (two roots and a broken one) and a JRE whose
    /// `lib/security/cacerts` links to `target`.
    fn java_image(target: &str) -> Tree {
        let mut tree = skeleton("amd64").unwrap();
        for (name, pem) in [
            ("Whittle_Root_A.crt", ROOT_A),
            ("whittle_root_b.crt", ROOT_B),
            ("zz_broken.crt", BROKEN),
        ] {
            let path = format!("usr/share/ca-certificates/test/{name}");
            put_file(&mut tree, &path, pem.as_bytes().to_vec(), 0o644).unwrap();
        }
        put_file(
            &mut tree,
            &format!("{JDK}/bin/java"),
            b"ELF".to_vec(),
            0o755,
        )
        .unwrap();
        tree.insert(
            &format!("{JDK}/lib/security/cacerts"),
            Node::symlink(target),
            Meta::root(0o777),
        )
        .unwrap();
        tree
    }

    fn file(tree: &Tree, p: &str) -> Vec<u8> {
        match tree.get(p).map(|e| &e.node) {
            Some(Node::File(d)) => d.read_to_vec().unwrap(),
            other => panic!("{p}: {other:?}"),
        }
    }

    /// The SHA-256 fingerprint of a PEM certificate as keytool prints it (`AB:CD:...`).
    fn fingerprint(pem: &str) -> String {
        use base64::Engine;
        use sha2::Digest;
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let hex = hex::encode_upper(sha2::Sha256::digest(&der));
        hex.as_bytes()
            .chunks(2)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect::<Vec<_>>()
            .join(":")
    }

    #[test]
    fn java_trust_store_is_a_keystore_keytool_reads_with_every_certificate() {
        let mut tree = java_image("/etc/ssl/certs/java/cacerts");
        let log = Log::default();
        apply(&mut tree, &[], &log).unwrap();
        let text = log.text();
        assert!(
            text.contains("assemble  /etc/ssl/certs/java/cacerts with 2 certificates, as ca-certificates-java would write it (1 entries of /etc/ssl/certs/ca-certificates.crt left out: not certificates Java can read)"),
            "{text}"
        );
        let store = file(&tree, JAVA_CACERTS);
        assert_eq!(
            store[..12],
            [0xfe, 0xed, 0xfe, 0xed, 0, 0, 0, 2, 0, 0, 0, 2],
            "JKS magic, version 2, 2 entries"
        );
        // byte-reproducible: the same image gives the same keystore
        let mut again = java_image("/etc/ssl/certs/java/cacerts");
        apply(&mut again, &[], &Log::default()).unwrap();
        assert_eq!(file(&again, JAVA_CACERTS), store);

        if !whittle_testutil::tool("keytool") {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cacerts");
        std::fs::write(&path, &store).unwrap();
        let keytool = |password: &str| {
            let out = std::process::Command::new("keytool")
                .args(["-list", "-keystore"])
                .arg(&path)
                .args(["-storepass", password])
                .output()
                .expect("running keytool");
            let text = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
            (out.status.success(), text)
        };
        let (ok, out) = keytool(JAVA_CACERTS_PASSWORD);
        assert!(ok, "{out}");
        assert!(out.contains("Keystore type: JKS"), "{out}");
        assert!(out.contains("Your keystore contains 2 entries"), "{out}");
        for (alias, pem) in [
            ("debian:whittle_root_a.pem", ROOT_A),
            ("debian:whittle_root_b.pem", ROOT_B),
        ] {
            assert!(out.contains(&format!("{alias}, ")), "{alias}: {out}");
            assert!(out.contains(&fingerprint(pem)), "{alias}: {out}");
        }
        // the digest is keyed by the password: another one is refused
        let (ok, out) = keytool("notchangeit");
        assert!(!ok, "{out}");
        assert!(out.contains("password was incorrect"), "{out}");
    }

    #[test]
    fn java_trust_store_only_where_a_jre_reads_it_and_no_package_ships_it() {
        // a relative link to the keystore counts as well
        let mut tree = java_image("../../../../../../etc/ssl/certs/java/cacerts");
        ca_certificates(&mut tree).unwrap();
        assert_eq!(
            java_cacerts(&mut tree).unwrap(),
            JavaCacerts::Written {
                certificates: 2,
                left_out: 1
            }
        );
        // a second run leaves it alone, as it does a keystore a package ships
        assert_eq!(java_cacerts(&mut tree).unwrap(), JavaCacerts::NotWanted);
        let mut shipped = java_image("/etc/ssl/certs/java/cacerts");
        ca_certificates(&mut shipped).unwrap();
        put_file(&mut shipped, JAVA_CACERTS, b"packaged".to_vec(), 0o644).unwrap();
        assert_eq!(java_cacerts(&mut shipped).unwrap(), JavaCacerts::NotWanted);
        assert_eq!(file(&shipped, JAVA_CACERTS), b"packaged");
        // a JRE with its own store, and no ca-certificates-java: nothing
        let mut own = java_image("/etc/pki/java/cacerts");
        ca_certificates(&mut own).unwrap();
        assert_eq!(java_cacerts(&mut own).unwrap(), JavaCacerts::NotWanted);
        assert!(own.get(JAVA_CACERTS).is_none());
        // ... unless ca-certificates-java is installed
        put_file(&mut own, CA_CERTIFICATES_JAVA, b"PK".to_vec(), 0o644).unwrap();
        assert!(matches!(
            java_cacerts(&mut own).unwrap(),
            JavaCacerts::Written {
                certificates: 2,
                ..
            }
        ));
        // a JRE but no CA bundle: nothing
        let mut bare = skeleton("amd64").unwrap();
        put_file(&mut bare, CA_CERTIFICATES_JAVA, b"PK".to_vec(), 0o644).unwrap();
        assert_eq!(java_cacerts(&mut bare).unwrap(), JavaCacerts::NotWanted);
        // a bundle a package ships, without per-certificate files: named after its place, and
        // read through a symlink
        put_file(
            &mut bare,
            "etc/pki/bundle.pem",
            format!("{ROOT_B}{ROOT_A}").into_bytes(),
            0o644,
        )
        .unwrap();
        bare.insert(
            CA_BUNDLE,
            Node::symlink("../../pki/bundle.pem"),
            Meta::root(0o777),
        )
        .unwrap();
        assert!(matches!(
            java_cacerts(&mut bare).unwrap(),
            JavaCacerts::Written {
                certificates: 2,
                left_out: 0
            }
        ));
        let store = file(&bare, JAVA_CACERTS);
        let find = |s: &str| store.windows(s.len()).position(|w| w == s.as_bytes());
        assert!(find("ca-certificates.crt:000001") < find("ca-certificates.crt:000002"));
        assert!(find("ca-certificates.crt:000002").is_some());
        // a bundle too large to read is not read
        let mut huge = skeleton("amd64").unwrap();
        put_file(&mut huge, CA_CERTIFICATES_JAVA, b"PK".to_vec(), 0o644).unwrap();
        put_file(&mut huge, CA_BUNDLE, vec![b'\n'; MAX_BUNDLE + 1], 0o644).unwrap();
        assert_eq!(
            java_cacerts(&mut huge).unwrap(),
            JavaCacerts::BundleTooLarge(MAX_BUNDLE + 1)
        );
    }

    /// Certificates and bundles that are large files kept on disk are sized, not read, before
    /// they are refused: here their backing file is shorter than they claim, so reading them
    /// first would fail instead (a real one of gigabytes would be read into memory).
    #[test]
    fn large_certificate_files_are_refused_unread() {
        let gib = 1u64 << 30;
        let claims_a_gib = || {
            whittle_fs::FileData::extent(std::sync::Arc::new(tempfile::tempfile().unwrap()), 0, gib)
        };
        let mut java = skeleton("amd64").unwrap();
        put_file(&mut java, CA_CERTIFICATES_JAVA, b"PK".to_vec(), 0o644).unwrap();
        java.insert(CA_BUNDLE, Node::file(claims_a_gib()), Meta::root(0o644))
            .unwrap();
        assert_eq!(
            java_cacerts(&mut java).unwrap(),
            JavaCacerts::BundleTooLarge(gib as usize)
        );
        let mut certs = skeleton("amd64").unwrap();
        let crt = format!("{}mozilla/huge.crt", CA_DIRS[0]);
        certs
            .insert(&crt, Node::file(claims_a_gib()), Meta::root(0o644))
            .unwrap();
        let err = ca_certificates(&mut certs).unwrap_err().to_string();
        assert!(err.contains("1073741824 bytes together"), "{err}");
        assert!(certs.get(CA_BUNDLE).is_none());
    }

    #[test]
    fn pem_blocks_that_are_not_certificates_are_left_out() {
        let (certs, left_out) = pem_certificates(ROOT_A.replace('\n', "\r\n").as_bytes());
        assert_eq!((certs.len(), left_out), (1, 0), "CRLF lines");
        let (a, _) = pem_certificates(ROOT_A.as_bytes());
        for (pem, want) in [
            // other kinds of block, mismatched labels, unterminated blocks
            (
                format!(
                    "{}{BROKEN}",
                    ROOT_A.replace("CERTIFICATE", "TRUSTED CERTIFICATE")
                ),
                (0, 2),
            ),
            (ROOT_A.replace("END CERTIFICATE", "END X509 CRL"), (0, 1)),
            (ROOT_A.replace("-----END CERTIFICATE-----\n", ""), (0, 1)),
            (
                format!(
                    "{}{ROOT_B}",
                    ROOT_A.replace("-----END CERTIFICATE-----\n", "")
                ),
                (1, 1),
            ),
            // text around blocks is ignored, an END without BEGIN too
            (
                format!("# comment\n-----END CERTIFICATE-----\n{ROOT_A}trailer"),
                (1, 0),
            ),
        ] {
            let (certs, left_out) = pem_certificates(pem.as_bytes());
            assert_eq!((certs.len(), left_out), want, "{pem}");
        }
        // valid base64 of something that is not a certificate
        let der = &a[0];
        assert!(is_certificate(der));
        for bad in [
            &der[..der.len() - 1],
            &der[1..],
            &[0x30, 0x00][..],
            &[0x30, 0x81, 0x05, 0, 0, 0, 0, 0][..], // length not minimal
            &[0x30, 0x84, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            assert!(!is_certificate(bad), "{bad:?}");
        }
        let mut trailing = der.clone();
        trailing.push(0);
        assert!(!is_certificate(&trailing));
    }

    #[test]
    fn aliases_are_written_as_java_writes_utf() {
        assert_eq!(java_utf("debian:a.pem").unwrap()[..2], [0, 12]);
        assert_eq!(java_utf("\0").unwrap(), [0, 2, 0xc0, 0x80]);
        assert_eq!(java_utf("é").unwrap(), [0, 2, 0xc3, 0xa9]);
        // outside the BMP: each UTF-16 unit on its own (CESU-8)
        assert_eq!(
            java_utf("😀").unwrap(),
            [0, 6, 0xed, 0xa0, 0xbd, 0xed, 0xb8, 0x80]
        );
        assert!(java_utf(&"a".repeat(65535)).is_some());
        assert!(java_utf(&"a".repeat(65536)).is_none());
        assert!(jks_trust_store(&[("a".repeat(70000), vec![0x30, 0])], "x", 0).is_none());
    }
}
