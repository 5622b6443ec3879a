//! Opening any image reference a command reads: `oci:`, `oci-archive:`, `docker-archive:`
//! (also gzip-compressed), and `docker://` (pulled into a temporary layout first).

use std::error::Error;

/// An opened image; keeps whatever temporary copy reading it needs alive.
pub struct Opened {
    inner: Inner,
}

enum Inner {
    /// From a registry, with the temporary layout it was pulled into.
    Pulled {
        image: whittle_oci::ReadImage,
        _dir: Option<tempfile::TempDir>,
    },
    /// From disk (with the gunzipped copy of a compressed archive, if any).
    Local(whittle_catalog::OpenedImage),
}

impl Opened {
    /// The image.
    pub fn image(&self) -> &whittle_oci::ReadImage {
        match &self.inner {
            Inner::Pulled { image, .. } => image,
            Inner::Local(opened) => &opened.image,
        }
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
        _ => Err(format!(
            "--platform {s:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm64/v8"
        )),
    }
}

/// Opens the image `reference` names, for `platform` when it is a multi-platform image.
pub fn open(reference: &str, platform: Option<&str>) -> Result<Opened, Box<dyn Error>> {
    let r = whittle_oci::ImageRef::parse(reference)?;
    let platform = platform.map(parse_platform).transpose()?;
    if let whittle_oci::ImageRef::Docker(_) = r {
        let (image, pulled) = whittle_registry::open(
            &r,
            platform.as_ref(),
            &whittle_registry::Options::from_env(),
        )?;
        return Ok(Opened {
            inner: Inner::Pulled {
                image,
                _dir: pulled,
            },
        });
    }
    if platform.is_some() {
        // local multi-platform layouts pick their platform in read_image
        let image = whittle_oci::read_image(&r, platform.as_ref())?;
        return Ok(Opened {
            inner: Inner::Pulled { image, _dir: None },
        });
    }
    Ok(Opened {
        inner: Inner::Local(whittle_catalog::open_image(&r)?),
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
