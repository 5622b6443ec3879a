#!/usr/bin/env python3
"""Writes the catalogue's 42 configs (images/debian1{2,3}/NAME[-nonroot|-debug].yaml) from the
table below: one place to change a package list, every variant follows.

    images/generate.py            # rewrite the configs
    images/generate.py --check    # exit 1, naming them, if any config differs from the table
"""
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent

RELEASES = {
    "debian12": dict(suite="bookworm", name="Debian 12", libssl="libssl3", java="openjdk-17-jre-headless"),
    "debian13": dict(suite="trixie", name="Debian 13", libssl="libssl3t64", java="openjdk-21-jre-headless"),
}
STATIC = ["ca-certificates", "media-types", "netbase", "tzdata"]
# libc-bin ships the C.utf8 locale LANG=C.UTF-8 needs; everything else of it is left out
LIBC_BIN_PROGRAMS = [
    "/sbin/ldconfig", "/usr/sbin/ldconfig", "/usr/sbin/iconvconfig", "/usr/sbin/zic",
    "/usr/bin/getconf", "/usr/bin/getent", "/usr/bin/iconv", "/usr/bin/ldd", "/usr/bin/ld.so",
    "/usr/bin/locale", "/usr/bin/localedef", "/usr/bin/pldd", "/usr/bin/tzselect", "/usr/bin/zdump",
]
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def images(r):
    """(name, what it is for, packages, entrypoint, extra environment) of each image."""
    base = STATIC + ["libc6", r["libssl"]]
    utf8 = {"LANG": "C.UTF-8"}
    return [
        ("static", "no libc: for statically linked programs (Go, Rust with musl or static glibc)", STATIC, None, {}),
        ("base-nossl", "glibc, no OpenSSL", STATIC + ["libc6"], None, {}),
        ("base", "glibc and OpenSSL", base, None, {}),
        ("cc", "glibc, OpenSSL, libstdc++ and OpenMP (libgomp): for C and C++ programs",
         base + ["libgcc-s1", "libgomp1", "libstdc++6"], None, {}),
        ("python3", "the distribution's Python 3", base + ["libc-bin", "python3"], "/usr/bin/python3", utf8),
        ("java", f"the distribution's headless OpenJDK runtime ({r['java']})", base + ["libc-bin", r["java"]],
         "/usr/bin/java -jar", utf8),
        ("nodejs", "the distribution's Node.js", base + ["libgcc-s1", "libstdc++6", "nodejs"], "/usr/bin/node", {}),
    ]


def config(rel, r, name, what, packages, entrypoint, env, variant):
    """The text of one config; `variant` is root, nonroot or debug."""
    suffix = "" if variant == "root" else f"-{variant}"
    debug = variant == "debug"
    tag = "latest" if variant == "root" else variant
    out = [
        f"# whittle catalogue, {r['name']}: {name}{suffix} — {what}.",
        f"# Google distroless's `{name}` image{'' if variant == 'root' else ':' + variant} made from signed Debian packages; see images/README.md.",
        f"#   whittle build images/{rel}/{name}{suffix}.yaml -o oci:out/{name}:{tag}",
    ]
    if debug:
        out += [
            "# debug: busybox (a shell and the usual tools) under /busybox, on PATH; every other variant",
            "# has no shell and no package manager.",
        ]
    out += [
        "contents:",
        "  repositories:",
        f"    - deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] host:debian {r['suite']} main",
        "  packages:",
    ]
    out += [f"    - {p}" for p in packages + (["busybox-static"] if debug else [])]
    out += [
        "  # ca-certificates' openssl serves only update-ca-certificates, which whittle does natively",
        "  exclude: [openssl]",
    ]
    if "libc-bin" in packages:
        out += [
            "  # LANG=C.UTF-8 needs libc-bin's C.utf8 locale; its programs stay out (as distroless keeps",
            "  # only the locale from it)",
            "  path-exclude:",
        ]
        out += [f"    - {p}" for p in LIBC_BIN_PROGRAMS]
    entrypoint = entrypoint or ("/busybox/sh" if debug else None)
    if entrypoint:
        out += ["entrypoint:", f"  command: {entrypoint}"]
    out += [
        "environment:",
        f"  PATH: {PATH}{':/busybox' if debug else ''}",
        "  SSL_CERT_FILE: /etc/ssl/certs/ca-certificates.crt",
    ]
    out += [f"  {k}: {v}" for k, v in env.items()]
    out += [
        "accounts:",
        "  groups:",
        "    - groupname: nonroot",
        "      gid: 65532",
        "    - groupname: nogroup",
        "      gid: 65534",
        "  users:",
        "    - username: nonroot",
        "      uid: 65532",
        "      gid: 65532",
        "      homedir: /home/nonroot",
        "    - username: nobody",
        "      uid: 65534",
        "      gid: 65534",
        "      homedir: /nonexistent",
    ]
    if variant == "nonroot":
        out += ["  run-as: nonroot", "work-dir: /home/nonroot"]
    else:
        out += ["  run-as: root", "work-dir: /"]
    if debug:
        out += ["paths:"]
        for link in ["/busybox/busybox", "/busybox/sh"]:
            out += [f"  - path: {link}", "    type: symlink", "    source: /usr/bin/busybox"]
    out += [
        "annotations:",
        f"  org.opencontainers.image.title: {name}{suffix}",
        f"  org.opencontainers.image.description: \"{what} ({r['name']}, {variant}), built by whittle\"",
        "archs:",
        "  - amd64",
    ]
    return "\n".join(out) + "\n"


def main():
    check = sys.argv[1:] == ["--check"]
    stale = []
    for rel, r in RELEASES.items():
        for image in images(r):
            for variant in ["root", "nonroot", "debug"]:
                name = image[0] + ("" if variant == "root" else f"-{variant}")
                path = HERE / rel / f"{name}.yaml"
                text = config(rel, r, *image, variant)
                if check:
                    if not path.exists() or path.read_text() != text:
                        stale.append(str(path.relative_to(HERE)))
                else:
                    path.parent.mkdir(exist_ok=True)
                    path.write_text(text)
    if stale:
        print("not what images/generate.py writes (run it): " + ", ".join(stale), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
