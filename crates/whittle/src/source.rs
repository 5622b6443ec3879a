//! Opening any image reference a command reads: `oci:`, `oci-archive:`, `docker-archive:`
//! (also gzip-compressed), and `docker://` (pulled into a temporary layout first).

use std::error::Error;

/// An opened image; keeps the temporary layout a `docker://` image was pulled into alive.
pub struct Opened {
    image: whittle_oci::ReadImage,
    _pulled: Option<tempfile::TempDir>,
}

impl Opened {
    /// The image.
    pub fn image(&self) -> &whittle_oci::ReadImage {
        &self.image
    }
}

/// Parses `os/arch[/variant]`.
pub fn parse_platform(s: &str) -> Result<whittle_oci::Platform, String> {
    let parts: Vec<&str> = s.split('/').collect();
    match parts.as_slice() {
        [os, arch] | [os, arch, _] if !os.is_empty() && !arch.is_empty() => {
            Ok(whittle_oci::Platform {
                os: (*os).to_string(),
                architecture: (*arch).to_string(),
                variant: parts.get(2).map(|v| (*v).to_string()),
            })
        }
        _ => Err("expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8".to_string()),
    }
}

/// `--platform`, the same for every command that reads one image (and for `copy`).
#[derive(clap::Args, Clone, Debug, Default)]
pub struct PlatformArg {
    /// The platform to read from a multi-platform image (OS/ARCH[/VARIANT], e.g. linux/arm64);
    /// required when the image has several.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = parse_platform)]
    pub platform: Option<whittle_oci::Platform>,
}

impl PlatformArg {
    /// The platform asked for, if any.
    pub fn get(&self) -> Option<&whittle_oci::Platform> {
        self.platform.as_ref()
    }
}

/// Opens the image `reference` names, for `platform` when it is a multi-platform image (every
/// kind of reference picks it with `whittle_oci::select_platform`, and fails the same way,
/// listing the platforms, when several are there and none is given).
pub fn open(
    reference: &str,
    platform: Option<&whittle_oci::Platform>,
) -> Result<Opened, Box<dyn Error>> {
    let r = whittle_oci::ImageRef::parse(reference)?;
    let (image, pulled) =
        whittle_registry::open(&r, platform, &whittle_registry::Options::from_env())?;
    Ok(Opened {
        image,
        _pulled: pulled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms() {
        assert_eq!(
            parse_platform("linux/arm64/v8").unwrap().variant.as_deref(),
            Some("v8")
        );
        assert_eq!(parse_platform("linux/amd64").unwrap().architecture, "amd64");
        for bad in ["linux", "", "/amd64", "a/b/c/d"] {
            assert!(parse_platform(bad).is_err(), "{bad}");
        }
    }
}
