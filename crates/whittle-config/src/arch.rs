//! CPU architectures and their names in Debian, OCI and APK.

use std::fmt;
use std::str::FromStr;

/// A CPU architecture an image can be built for. Displayed with its Debian name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Arch {
    /// x86-64 (`amd64`, `x86_64`).
    Amd64,
    /// 64-bit ARM (`arm64`, `aarch64`).
    Arm64,
    /// 32-bit ARMv7 hard-float (`armhf`, `armv7`, `arm/v7`).
    Armhf,
    /// 32-bit ARMv5 soft-float (`armel`, `arm/v5`).
    Armel,
    /// 32-bit x86 (`i386`, `386`, `x86`).
    I386,
    /// 64-bit little-endian POWER (`ppc64el`, `ppc64le`).
    Ppc64el,
    /// IBM Z (`s390x`).
    S390x,
    /// 64-bit RISC-V (`riscv64`).
    Riscv64,
}

impl Arch {
    /// Every architecture, in a stable order.
    pub const ALL: [Arch; 8] = [
        Arch::Amd64,
        Arch::Arm64,
        Arch::Armhf,
        Arch::Armel,
        Arch::I386,
        Arch::Ppc64el,
        Arch::S390x,
        Arch::Riscv64,
    ];

    /// Every spelling accepted by [`Arch::parse`].
    pub const SPELLINGS: [&'static str; 22] = [
        "amd64", "x86_64", "arm64", "aarch64", "arm64/v8", "armhf", "armv7", "arm/v7", "armv7l",
        "armel", "arm/v5", "i386", "386", "x86", "i686", "ppc64el", "ppc64le", "s390x", "riscv64",
        "arm64v8", "arm32v7", "x86-64",
    ];

    /// Parse a Debian, OCI, APK or uname spelling (`x86_64` → `amd64`, `aarch64` → `arm64`, …).
    pub fn parse(s: &str) -> Option<Arch> {
        Some(match s {
            "amd64" | "x86_64" | "x86-64" => Arch::Amd64,
            "arm64" | "aarch64" | "arm64/v8" | "arm64v8" => Arch::Arm64,
            "armhf" | "armv7" | "arm/v7" | "armv7l" | "arm32v7" => Arch::Armhf,
            "armel" | "arm/v5" => Arch::Armel,
            "i386" | "386" | "x86" | "i686" => Arch::I386,
            "ppc64el" | "ppc64le" => Arch::Ppc64el,
            "s390x" => Arch::S390x,
            "riscv64" => Arch::Riscv64,
            _ => return None,
        })
    }

    /// The architecture of the machine running this program, if it is one we know.
    pub fn host() -> Option<Arch> {
        match std::env::consts::ARCH {
            "x86_64" => Some(Arch::Amd64),
            "aarch64" => Some(Arch::Arm64),
            "arm" => Some(Arch::Armhf),
            "x86" => Some(Arch::I386),
            "powerpc64" if cfg!(target_endian = "little") => Some(Arch::Ppc64el),
            "s390x" => Some(Arch::S390x),
            "riscv64" => Some(Arch::Riscv64),
            _ => None,
        }
    }

    /// Debian's name (`Architecture:` field, `binary-<arch>` directories).
    pub fn debian(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Armhf => "armhf",
            Arch::Armel => "armel",
            Arch::I386 => "i386",
            Arch::Ppc64el => "ppc64el",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The OCI image-spec `architecture` value (Go's GOARCH).
    pub fn oci_architecture(self) -> &'static str {
        match self {
            Arch::Amd64 => "amd64",
            Arch::Arm64 => "arm64",
            Arch::Armhf | Arch::Armel => "arm",
            Arch::I386 => "386",
            Arch::Ppc64el => "ppc64le",
            Arch::S390x => "s390x",
            Arch::Riscv64 => "riscv64",
        }
    }

    /// The OCI image-spec `variant` value, where one is conventional.
    pub fn oci_variant(self) -> Option<&'static str> {
        match self {
            Arch::Arm64 => Some("v8"),
            Arch::Armhf => Some("v7"),
            Arch::Armel => Some("v5"),
            _ => None,
        }
    }

    /// The APK (Alpine/Wolfi) name, where APK distributions build for this architecture.
    pub fn apk(self) -> Option<&'static str> {
        match self {
            Arch::Amd64 => Some("x86_64"),
            Arch::Arm64 => Some("aarch64"),
            Arch::Armhf => Some("armv7"),
            Arch::Armel => None,
            Arch::I386 => Some("x86"),
            Arch::Ppc64el => Some("ppc64le"),
            Arch::S390x => Some("s390x"),
            Arch::Riscv64 => Some("riscv64"),
        }
    }
}

impl fmt::Display for Arch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.debian())
    }
}

/// The error of `Arch::from_str`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown architecture `{0}`; expected one of amd64, arm64, armhf, armel, i386, ppc64el, s390x, riscv64 (or x86_64, aarch64, armv7, ppc64le)"
)]
pub struct UnknownArch(pub String);

impl FromStr for Arch {
    type Err = UnknownArch;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Arch::parse(s).ok_or_else(|| UnknownArch(s.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_normalize() {
        assert_eq!(Arch::parse("x86_64"), Some(Arch::Amd64));
        assert_eq!(Arch::parse("aarch64"), Some(Arch::Arm64));
        assert_eq!(Arch::parse("ppc64le"), Some(Arch::Ppc64el));
        assert_eq!(Arch::parse("arm/v7"), Some(Arch::Armhf));
        assert_eq!(Arch::parse("sparc"), None);
        assert!("mips".parse::<Arch>().is_err());
    }

    #[test]
    fn every_spelling_parses_and_names_roundtrip() {
        for s in Arch::SPELLINGS {
            assert!(Arch::parse(s).is_some(), "{s}");
        }
        for a in Arch::ALL {
            assert_eq!(Arch::parse(a.debian()), Some(a));
            if let Some(apk) = a.apk() {
                assert_eq!(Arch::parse(apk), Some(a));
            }
            let oci = match a.oci_variant() {
                Some(v) if a != Arch::Arm64 => format!("{}/{v}", a.oci_architecture()),
                _ => a.oci_architecture().to_string(),
            };
            assert_eq!(Arch::parse(&oci), Some(a), "{oci}");
        }
    }

    #[test]
    fn host_is_known_here() {
        // The CI hosts are amd64 or arm64.
        assert!(Arch::host().is_some());
    }
}
