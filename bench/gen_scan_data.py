#!/usr/bin/env python3
"""Synthetic data for bench/scan.sh: N OSV records (Debian:12) in a zip and an SPDX SBOM of M
Debian packages whose source packages are among the records' packages.
usage: gen_scan_data.py OUTDIR [RECORDS=100000] [PACKAGES=500]"""
import json, os, random, sys, zipfile

out = sys.argv[1]
n = int(sys.argv[2]) if len(sys.argv) > 2 else 100_000
m = int(sys.argv[3]) if len(sys.argv) > 3 else 500
rnd = random.Random(42)
os.makedirs(out, exist_ok=True)
srcs = [f"src{i:05d}" for i in range(20_000)]
with zipfile.ZipFile(os.path.join(out, "all.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    for i in range(n):
        s = srcs[rnd.randrange(len(srcs))]
        fixed = f"{rnd.randrange(1, 10)}.{rnd.randrange(0, 10)}-{rnd.randrange(1, 5)}"
        rec = {
            "id": f"DEBIAN-CVE-2099-{i:06d}", "upstream": [f"CVE-2099-{i:06d}"],
            "summary": f"synthetic record {i}",
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"}] if i % 3 == 0 else [],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": s},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}],
        }
        z.writestr(f"DEBIAN-CVE-2099-{i:06d}.json", json.dumps(rec))
pkgs = []
for j in range(m):
    s = srcs[j * 37 % len(srcs)]
    v = f"{rnd.randrange(1, 10)}.{rnd.randrange(0, 10)}-1"
    pkgs.append({"SPDXID": f"SPDXRef-Package-{j}", "name": f"bin{j}", "versionInfo": v,
                 "downloadLocation": "NOASSERTION",
                 "externalRefs": [{"referenceCategory": "PACKAGE-MANAGER", "referenceType": "purl",
                                   "referenceLocator": f"pkg:deb/debian/bin{j}@{v}?arch=amd64&distro=debian-12&upstream={s}"}]})
doc = {"spdxVersion": "SPDX-2.3", "dataLicense": "CC0-1.0", "SPDXID": "SPDXRef-DOCUMENT",
       "name": "bench", "documentNamespace": "https://example.invalid/bench",
       "creationInfo": {"created": "2024-01-01T00:00:00Z", "creators": ["Tool: bench"]}, "packages": pkgs}
with open(os.path.join(out, "sbom.spdx.json"), "w") as f:
    json.dump(doc, f)
