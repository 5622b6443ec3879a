//! The peers' view of an image: trivy and syft (the real static binaries `./dev` installs, run
//! with the network off) must place it — family and version — and list exactly the packages
//! `whittle sbom` lists; whittle's own catalog must read the OS the same way. `whittle sbom`'s
//! SPDX and CycloneDX validate (pyspdxtools, the CycloneDX 1.6 schema), its purls are
//! packageurl-python's canonical form and equal syft's, and it names a licence for at least as
//! many packages as syft.

use super::*;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use whittle_testutil::peers;

/// `(name, version)` of every package `whittle sbom` lists for `image`.
pub fn sbom_set(image: &str) -> BTreeSet<(String, String)> {
    let out = run(whittle().args(["sbom", image]));
    spdx_libraries(out.as_bytes()).into_iter().collect()
}

/// What one image must look like to every scanner.
pub struct Expected<'a> {
    /// The OS family (`debian`, `alpine`, `wolfi`).
    pub family: &'a str,
    /// trivy's version: the release file (`12.15`, `3.16.3`) or, for Wolfi, os-release.
    pub trivy: &'a str,
    /// syft's version: os-release's `VERSION_ID`.
    pub syft: &'a str,
}

/// [`check_peers`] on a Debian `major` image unpacked at `rootfs`: trivy's version is its
/// `etc/debian_version` (`12.15`), which must be of `major`.
pub fn check_debian_peers(layout: &Path, tag: &str, work: &Path, rootfs: &Path, major: &str) {
    let point = std::fs::read_to_string(rootfs.join("etc/debian_version")).unwrap();
    let point = point.trim();
    assert!(point.starts_with(&format!("{major}.")), "{point}");
    let want = Expected {
        family: "debian",
        trivy: point,
        syft: major,
    };
    check_peers(layout, tag, work, &want);
}

/// Checks trivy, syft, whittle's catalog and `whittle sbom` against each other on the OCI
/// layout `layout` (one image, tag `tag`).
pub fn check_peers(layout: &Path, tag: &str, work: &Path, want: &Expected<'_>) {
    let image = format!("oci:{}:{tag}", layout.display());
    let listed = sbom_set(&image);
    assert!(!listed.is_empty(), "whittle sbom lists no package");
    let (spdx, _) = checked_sboms(&[&image], &work.join("sboms"));
    let view = spdx_view(&spdx);
    let r = whittle_oci::ImageRef::parse(&image).unwrap();
    let cat = whittle_catalog::catalog_image(&whittle_oci::read_image(&r, None).unwrap()).unwrap();
    let os = cat.os.expect("whittle's catalog finds the OS");
    assert_eq!(os.id, want.family, "{os:?}");
    assert_eq!(os.version_id, want.syft, "{os:?}");
    if want.family != "wolfi" {
        assert_eq!(os.release, want.trivy, "{os:?}");
    }
    let Some(trivy) = peers::trivy(layout, &work.join("trivy")) else {
        return;
    };
    assert_eq!(
        (trivy.family.as_str(), trivy.version.as_str()),
        (want.family, want.trivy),
        "trivy's OS"
    );
    assert_eq!(trivy.packages, listed, "trivy's packages vs whittle sbom");
    let Some(syft) = peers::syft(layout, &work.join("syft")) else {
        return;
    };
    assert_eq!(
        (syft.family.as_str(), syft.version.as_str()),
        (want.family, want.syft),
        "syft's OS"
    );
    assert_eq!(syft.packages, listed, "syft's packages vs whittle sbom");
    // purls equal as strings once syft's are in canonical form; licences at least as complete
    let theirs: Vec<&str> = syft.purls.values().map(String::as_str).collect();
    if let Some(canon) = canonical_purls(&theirs) {
        let syft_purls: BTreeMap<String, String> = syft.purls.keys().cloned().zip(canon).collect();
        assert_eq!(view.purls, syft_purls, "whittle's purls vs syft's");
    }
    assert!(
        view.licensed.len() >= syft.licensed.len(),
        "whittle names a licence for {} packages, syft for {}: syft has {:?}, whittle lacks {:?}",
        view.licensed.len(),
        syft.licensed.len(),
        syft.licensed,
        syft.licensed.difference(&view.licensed).collect::<Vec<_>>()
    );
}

/// What `whittle sbom` (SPDX) says of an image's packages beyond names and versions.
#[derive(Debug, Default)]
pub struct SbomView {
    /// Purl by package name.
    pub purls: BTreeMap<String, String>,
    /// Packages with a declared licence (not NOASSERTION).
    pub licensed: BTreeSet<String>,
}

/// Reads an SPDX document's packages (`LIBRARY` purpose: not the image, not the OS).
pub fn spdx_view(doc: &serde_json::Value) -> SbomView {
    let mut view = SbomView::default();
    for p in doc["packages"].as_array().unwrap() {
        if p["primaryPackagePurpose"] != "LIBRARY" {
            continue;
        }
        let name = p["name"].as_str().unwrap().to_string();
        let purl = p["externalRefs"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|r| r["referenceType"] == "purl")
            .and_then(|r| r["referenceLocator"].as_str())
            .unwrap_or_else(|| panic!("{name} has no purl"));
        view.purls.insert(name.clone(), purl.to_string());
        if p["licenseDeclared"] != "NOASSERTION" {
            view.licensed.insert(name);
        }
    }
    view
}

/// Whether python3 can run `check` (an import); after [`skip`] when not. Answered once per
/// test process (some imports take seconds).
pub fn python_has(check: &str) -> bool {
    static SEEN: std::sync::Mutex<BTreeMap<String, bool>> = std::sync::Mutex::new(BTreeMap::new());
    if let Some(&ok) = SEEN.lock().unwrap().get(check) {
        return ok;
    }
    let ok = Command::new("python3")
        .args(["-c", check])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        skip(&format!("python module ({check}; run ./dev)"));
    }
    SEEN.lock().unwrap().insert(check.to_string(), ok);
    ok
}

/// `packageurl-python`'s canonical form of each purl (parse, then print), in order; `None` when
/// the module is not installed.
pub fn canonical_purls(purls: &[&str]) -> Option<Vec<String>> {
    if !python_has("import packageurl") {
        return None;
    }
    let script = "import sys\nfrom packageurl import PackageURL\nfor l in sys.stdin.read().split('\\n'):\n    if l: print(PackageURL.from_string(l).to_string())\n";
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(purls.join("\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "packageurl-python refused a purl");
    let lines: Vec<String> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    assert_eq!(lines.len(), purls.len());
    Some(lines)
}

/// Validates SPDX JSON files as `pyspdxtools -i FILE` does (its parser and
/// `validate_full_spdx_document`) and CycloneDX JSON files against the official 1.6 schema
/// (`cyclonedx.validation.json.JsonStrictValidator`), all in one python process; each half is
/// skipped when its module is not installed.
pub fn validate_sboms(spdx: &[PathBuf], cyclonedx: &[PathBuf]) {
    let spdx_ok = spdx.is_empty() || python_has("import spdx_tools");
    let cdx_ok = cyclonedx.is_empty() || python_has("import cyclonedx.validation.json, jsonschema");
    let mut args: Vec<String> = Vec::new();
    if spdx_ok {
        args.extend(spdx.iter().map(|p| format!("spdx={}", p.display())));
    }
    if cdx_ok {
        args.extend(cyclonedx.iter().map(|p| format!("cdx={}", p.display())));
    }
    if args.is_empty() {
        return;
    }
    let script = "import sys\nbad = []\nfor a in sys.argv[1:]:\n    kind, path = a.split('=', 1)\n    if kind == 'spdx':\n        from spdx_tools.spdx.parser.parse_anything import parse_file\n        from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document\n        doc = parse_file(path)\n        msgs = validate_full_spdx_document(doc, doc.creation_info.spdx_version)\n        bad += [f'{path}: {m.validation_message}' for m in msgs]\n    else:\n        from cyclonedx.validation.json import JsonStrictValidator\n        from cyclonedx.schema import SchemaVersion\n        err = JsonStrictValidator(SchemaVersion.V1_6).validate_str(open(path).read())\n        if err: bad.append(f'{path}: {err}')\nprint('\\n'.join(bad))\nsys.exit(1 if bad else 0)\n";
    let o = Command::new("python3")
        .args(["-c", script])
        .args(&args)
        .output()
        .unwrap();
    assert!(
        o.status.success(),
        "SBOM validation failed:\n{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// `whittle sbom ARGS…` in both formats, written under `work`; the SPDX and CycloneDX paths.
pub fn write_sboms(args: &[&str], work: &Path) -> (PathBuf, PathBuf) {
    std::fs::create_dir_all(work).unwrap();
    let spdx = work.join("whittle.spdx.json");
    let cdx = work.join("whittle.cdx.json");
    run(whittle()
        .env_remove("SOURCE_DATE_EPOCH")
        .arg("sbom")
        .args(args)
        .arg("-o")
        .arg(&spdx));
    run(whittle()
        .env_remove("SOURCE_DATE_EPOCH")
        .arg("sbom")
        .args(args)
        .args(["--format", "cyclonedx", "-o"])
        .arg(&cdx));
    (spdx, cdx)
}

/// Reads an SBOM written by [`write_sboms`] (or the build) and checks its purls: they
/// round-trip through packageurl-python unchanged, and a CycloneDX document `cdx` gives the
/// same ones.
pub fn check_purls(spdx: &serde_json::Value, cdx: Option<&serde_json::Value>) {
    let view = spdx_view(spdx);
    let purls: Vec<&str> = view.purls.values().map(String::as_str).collect();
    if let Some(canon) = canonical_purls(&purls) {
        assert_eq!(
            canon, purls,
            "whittle's purls are packageurl-python's canonical form"
        );
    }
    if let Some(cdx) = cdx {
        let cdx_purls: BTreeMap<String, String> = cdx["components"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["type"] == "library")
            .map(|c| {
                (
                    c["name"].as_str().unwrap().to_string(),
                    c["purl"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(cdx_purls, view.purls);
    }
}

/// A JSON file.
pub fn read_json(p: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(p).unwrap())
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// `whittle sbom ARGS…` (the image and e.g. `--platform`) in both formats, written under
/// `work`, validated ([`validate_sboms`]) and their purls checked ([`check_purls`]). Returns the
/// SPDX and CycloneDX documents.
pub fn checked_sboms(args: &[&str], work: &Path) -> (serde_json::Value, serde_json::Value) {
    let (spdx, cdx) = write_sboms(args, work);
    validate_sboms(std::slice::from_ref(&spdx), std::slice::from_ref(&cdx));
    let (spdx, cdx) = (read_json(&spdx), read_json(&cdx));
    check_purls(&spdx, Some(&cdx));
    (spdx, cdx)
}

/// What an SPDX document says of each package, by name, for comparing two documents: version,
/// purl, licence, source, supplier, homepage, purpose; and its `DEPENDS_ON` pairs by name.
type SpdxFacts = (
    BTreeMap<String, Vec<serde_json::Value>>,
    BTreeSet<(String, String)>,
);

fn spdx_facts(doc: &serde_json::Value) -> SpdxFacts {
    let mut names = BTreeMap::new();
    let mut facts = BTreeMap::new();
    for p in doc["packages"].as_array().unwrap() {
        if p["primaryPackagePurpose"] == "CONTAINER" {
            continue;
        }
        let name = p["name"].as_str().unwrap().to_string();
        names.insert(p["SPDXID"].as_str().unwrap().to_string(), name.clone());
        let f = [
            "versionInfo",
            "externalRefs",
            "licenseDeclared",
            "sourceInfo",
            "supplier",
            "homepage",
            "primaryPackagePurpose",
        ]
        .iter()
        .map(|k| p[*k].clone())
        .collect();
        assert!(facts.insert(name, f).is_none(), "one package per name");
    }
    let deps = doc["relationships"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["relationshipType"] == "DEPENDS_ON")
        .map(|r| {
            let n = |k: &str| names[r[k].as_str().unwrap()].clone();
            (n("spdxElementId"), n("relatedSpdxElement"))
        })
        .collect();
    (facts, deps)
}

/// The SBOM `whittle build` wrote beside the OCI layout `layout` (`LAYOUT.spdx.json`) validates
/// and says what `whittle sbom` says of the built image `oci:LAYOUT:TAG` — packages, purls,
/// licences, sources, suppliers, dependencies, the OS, the creation time and the manifest
/// digest — plus the SHA-256 of every package archive, which only the build knows. Returns the
/// `DEPENDS_ON` pairs, by package name.
pub fn check_build_sbom(layout: &Path, tag: &str, work: &Path) -> BTreeSet<(String, String)> {
    let built_path = layout.with_extension("spdx.json");
    validate_sboms(std::slice::from_ref(&built_path), &[]);
    let built = read_json(&built_path);
    check_purls(&built, None);
    let image = format!("oci:{}:{tag}", layout.display());
    let (read, _) = checked_sboms(&[&image], &work.join("sbom-of-build"));
    let (bf, bd) = spdx_facts(&built);
    let (rf, rd) = spdx_facts(&read);
    assert_eq!(bf, rf, "the build's SBOM and whittle sbom's");
    assert_eq!(bd, rd, "the build's DEPENDS_ON and whittle sbom's");
    assert_eq!(built["creationInfo"], read["creationInfo"]);
    assert_eq!(
        built["packages"][0]["checksums"],
        read["packages"][0]["checksums"]
    );
    for p in built["packages"].as_array().unwrap() {
        let checksums = p["checksums"].as_array();
        if p["primaryPackagePurpose"] == "LIBRARY" {
            let c = checksums.unwrap_or_else(|| panic!("{}: no checksum", p["name"]));
            assert_eq!(c[0]["algorithm"], "SHA256", "{p}");
        }
    }
    for p in read["packages"].as_array().unwrap() {
        if p["primaryPackagePurpose"] == "LIBRARY" {
            assert!(
                p.get("checksums").is_none(),
                "an image holds no archive checksum: {p}"
            );
        }
    }
    bd
}
