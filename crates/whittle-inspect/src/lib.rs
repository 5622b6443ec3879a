//! whittle-inspect reads any image once, streaming, and reports what it holds.
//!
//! One pass over the layers, bottom to top, never extracting to disk: [`walk::scan_layer`] reads
//! a layer tar keeping only metadata per path and the content facts the checks need (secret
//! matches, package databases); [`merge::Merged`] applies the OCI whiteout rules and records what
//! each layer added, changed, removed and hid, and [`dive::DiveTally`] counts waste as dive does.
//! From the resulting [`Analysis`],
//! [`report::inspect_report`] describes the image (`whittle inspect`) and [`audit::audit`] lists
//! its risks as [`whittle_report::Finding`]s (`whittle audit`).
//!
//! Each layer is decompressed on a helper thread while the previous chunk is parsed and scanned,
//! so the pass costs about as much as decompressing the layers.

pub mod audit;
pub mod ci;
pub mod dive;
pub mod merge;
pub mod packages;
pub mod report;
pub mod secret;
pub mod walk;

use std::io::{self, Read};
use std::sync::mpsc;

use whittle_oci::{ImageConfig, ImageRef, LayerRef, Platform, ReadError, ReadImage};

pub use audit::{RULES, audit};
pub use ci::{CiConfigError, CiOutcome, CiRules};
pub use dive::{DiveFigures, DiveTally, PathWaste};
pub use merge::{Entry, Hidden, HiddenBy, LayerDiff, Merged, Resolved};
pub use packages::{Package, PackageDb};
pub use report::{InspectReport, inspect_report};
pub use secret::Secret;
pub use walk::{Anomaly, Kind, LayerError, LayerScan, Limits, scan_layer};

/// Errors of analysing an image.
#[derive(Debug, thiserror::Error)]
pub enum InspectError {
    /// The image could not be opened or a blob could not be read.
    #[error(transparent)]
    Read(#[from] ReadError),
    /// A layer is corrupt, truncated or hostile.
    #[error("layer {layer} ({digest}) of `{image}`: {source}")]
    Layer {
        /// The image reference.
        image: String,
        /// Layer index (0 = bottom).
        layer: usize,
        /// The layer's blob digest or diff ID.
        digest: String,
        /// The cause.
        #[source]
        source: LayerError,
    },
}

/// Options of [`analyze`].
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Size and count limits for untrusted images.
    pub limits: Limits,
    /// The platform to pick from a multi-platform image.
    pub platform: Option<Platform>,
}

/// Everything one pass over an image learned.
#[derive(Debug, Clone)]
pub struct Analysis {
    /// The image reference as given.
    pub image: String,
    /// The manifest digest.
    pub manifest_digest: String,
    /// The image config.
    pub config: ImageConfig,
    /// The layers, bottom first.
    pub layers: Vec<LayerRef>,
    /// What each layer did, bottom first.
    pub diffs: Vec<LayerDiff>,
    /// The final merged tree.
    pub merged: Merged,
    /// Waste as dive counts it.
    pub dive: DiveFigures,
    /// Installed packages, when the image has a package database.
    pub packages: Option<PackageDb>,
}

/// Read and analyse the image `image` names.
pub fn analyze(image: &ImageRef, opts: &Options) -> Result<Analysis, InspectError> {
    let img = whittle_oci::read_image(image, opts.platform.as_ref())?;
    analyze_image(&img, &image.to_string(), opts)
}

/// Analyse an image already opened (`name` labels it in errors and reports).
pub fn analyze_image(
    img: &ReadImage,
    name: &str,
    opts: &Options,
) -> Result<Analysis, InspectError> {
    let mut merged = Merged::new();
    let mut dive = DiveTally::new();
    let mut diffs = Vec::with_capacity(img.layers.len());
    let mut captured = 0u64;
    for (i, layer) in img.layers.iter().enumerate() {
        let digest = layer
            .digest
            .clone()
            .or_else(|| layer.diff_id.clone())
            .unwrap_or_else(|| "unknown digest".into());
        // read_layer verifies the layer (digest, size, diff ID) once the scan is done, and
        // reports a failed check rather than the tar error it caused
        let scan = img.read_layer(i, |raw| {
            std::thread::scope(|s| {
                let reader = ReadAhead::spawn(s, raw);
                scan_layer(reader, &opts.limits, &mut captured)
            })
            .map_err(|source| InspectError::Layer {
                image: name.to_string(),
                layer: i,
                digest,
                source,
            })
        })?;
        dive.add_layer(&scan);
        diffs.push(merged.apply(scan));
    }
    let packages = packages::packages(&merged);
    Ok(Analysis {
        image: name.to_string(),
        manifest_digest: img.manifest_digest.clone(),
        config: img.config.clone(),
        layers: img.layers.clone(),
        diffs,
        merged,
        dive: dive.figures(),
        packages,
    })
}

/// Analyse uncompressed layer tars given directly (tests, fuzzing, single-layer files).
pub fn analyze_layers<R: Read>(
    layers: impl IntoIterator<Item = R>,
    limits: &Limits,
) -> Result<(Merged, Vec<LayerDiff>), (usize, LayerError)> {
    let mut merged = Merged::new();
    let mut diffs = Vec::new();
    let mut captured = 0u64;
    for (i, r) in layers.into_iter().enumerate() {
        let scan = scan_layer(r, limits, &mut captured).map_err(|e| (i, e))?;
        diffs.push(merged.apply(scan));
    }
    Ok((merged, diffs))
}

const CHUNK: usize = 1 << 20;

/// A reader fed by a thread that reads (and decompresses) ahead in 1 MiB chunks.
struct ReadAhead {
    rx: mpsc::Receiver<io::Result<Vec<u8>>>,
    back: mpsc::SyncSender<Vec<u8>>,
    cur: Vec<u8>,
    pos: usize,
    done: bool,
}

impl ReadAhead {
    fn spawn<'scope>(
        s: &'scope std::thread::Scope<'scope, '_>,
        mut inner: impl Read + Send + 'scope,
    ) -> ReadAhead {
        let (tx, rx) = mpsc::sync_channel::<io::Result<Vec<u8>>>(4);
        let (back, spare) = mpsc::sync_channel::<Vec<u8>>(8);
        s.spawn(move || {
            loop {
                let mut buf = spare.try_recv().unwrap_or_default();
                buf.resize(CHUNK, 0);
                let mut filled = 0;
                let res = loop {
                    match inner.read(buf.get_mut(filled..).unwrap_or_default()) {
                        Ok(0) => break Ok(()),
                        Ok(n) => {
                            filled += n;
                            if filled == buf.len() {
                                break Ok(());
                            }
                        }
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        Err(e) => break Err(e),
                    }
                };
                buf.truncate(filled);
                let end = filled == 0;
                let msg = match res {
                    Ok(()) => Ok(buf),
                    Err(e) => Err(e),
                };
                let failed = msg.is_err();
                if tx.send(msg).is_err() || end || failed {
                    return; // the consumer stopped, or the stream ended
                }
            }
        });
        ReadAhead {
            rx,
            back,
            cur: Vec::new(),
            pos: 0,
            done: false,
        }
    }
}

impl Read for ReadAhead {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos >= self.cur.len() {
            if self.done {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Ok(buf)) => {
                    let old = std::mem::replace(&mut self.cur, buf);
                    let _ = self.back.try_send(old);
                    self.pos = 0;
                    if self.cur.is_empty() {
                        self.done = true;
                    }
                }
                Ok(Err(e)) => {
                    self.done = true;
                    return Err(e);
                }
                Err(_) => {
                    self.done = true;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the layer reader stopped unexpectedly",
                    ));
                }
            }
        }
        let avail = self.cur.get(self.pos..).unwrap_or_default();
        let n = avail.len().min(out.len());
        out.get_mut(..n)
            .unwrap_or_default()
            .copy_from_slice(avail.get(..n).unwrap_or_default());
        self.pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_ahead_delivers_every_byte_in_order() {
        let data: Vec<u8> = (0..(3 * CHUNK + 123)).map(|i| (i % 251) as u8).collect();
        let got = std::thread::scope(|s| {
            let mut r = ReadAhead::spawn(s, Box::new(io::Cursor::new(data.clone())));
            let mut v = Vec::new();
            r.read_to_end(&mut v).map(|_| v)
        })
        .unwrap();
        assert_eq!(got, data);
    }

    #[test]
    fn read_ahead_passes_errors_on() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::InvalidData, "boom"))
            }
        }
        let err = std::thread::scope(|s| {
            let mut r = ReadAhead::spawn(s, Box::new(Failing));
            let mut v = Vec::new();
            r.read_to_end(&mut v)
        })
        .unwrap_err();
        assert_eq!(err.to_string(), "boom");
    }
}
