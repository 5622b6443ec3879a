//! An OCI image layout directory as tests read and rewrite it: `index.json`, the first manifest
//! it lists, its config and its blobs, by digest. Rewrites stay consistent: a changed manifest
//! or config is stored under its new digest and the documents that point at it are updated.

use serde_json::{Value, json};
use sha2::Digest;
use std::path::{Path, PathBuf};

/// An OCI image layout directory (`index.json`, `blobs/sha256/…`).
#[derive(Debug, Clone)]
pub struct Layout(pub PathBuf);

impl Layout {
    /// The layout at `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Layout {
        Layout(dir.into())
    }

    /// The layout's directory.
    pub fn dir(&self) -> &Path {
        &self.0
    }

    /// The path of the blob `digest` (`sha256:…`).
    pub fn blob(&self, digest: &str) -> PathBuf {
        self.0
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"))
    }

    /// The bytes of the blob `digest`.
    pub fn read_blob(&self, digest: &str) -> Vec<u8> {
        let p = self.blob(digest);
        std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    /// The JSON document at `path`.
    pub fn json(&self, path: &Path) -> Value {
        let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// `index.json`.
    pub fn index(&self) -> Value {
        self.json(&self.0.join("index.json"))
    }

    /// The first manifest `index.json` lists (an image manifest, or an index of several).
    pub fn manifest(&self) -> Value {
        let index = self.index();
        let digest = index["manifests"][0]["digest"]
            .as_str()
            .expect("index.json lists a manifest");
        self.json(&self.blob(digest))
    }

    /// The config of [`Layout::manifest`].
    pub fn config(&self) -> Value {
        let m = self.manifest();
        self.json(&self.blob(m["config"]["digest"].as_str().expect("a config digest")))
    }

    /// The stored (compressed) bytes of layer `i` of [`Layout::manifest`].
    pub fn layer(&self, i: usize) -> Vec<u8> {
        let m = self.manifest();
        self.read_blob(m["layers"][i]["digest"].as_str().expect("a layer digest"))
    }

    /// Stores `bytes` as a blob (replacing a file already there); its digest and size.
    pub fn put(&self, bytes: &[u8]) -> (String, u64) {
        let d = format!("sha256:{:x}", sha2::Sha256::digest(bytes));
        let p = self.blob(&d);
        let _ = std::fs::remove_file(&p);
        std::fs::write(&p, bytes).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        (d, bytes.len() as u64)
    }

    /// Makes `m` the first manifest: stored as a blob, `index.json` pointing at it.
    pub fn set_manifest(&self, m: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(m).expect("JSON"));
        let mut idx = self.index();
        idx["manifests"][0]["digest"] = json!(d);
        idx["manifests"][0]["size"] = json!(n);
        let path = self.0.join("index.json");
        std::fs::write(&path, serde_json::to_vec(&idx).expect("JSON"))
            .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    }

    /// Makes `c` the config of the first manifest ([`Layout::set_manifest`] with its new digest).
    pub fn set_config(&self, c: &Value) {
        let (d, n) = self.put(&serde_json::to_vec(c).expect("JSON"));
        let mut m = self.manifest();
        m["config"]["digest"] = json!(d);
        m["config"]["size"] = json!(n);
        self.set_manifest(&m);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_stay_consistent() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("blobs/sha256")).unwrap();
        let l = Layout::new(dir.path());
        let (layer, _) = l.put(b"layer bytes");
        let (cfg, cfg_size) = l.put(br#"{"rootfs":{"diff_ids":["sha256:0"]}}"#);
        let m = json!({"config": {"digest": cfg, "size": cfg_size}, "layers": [{"digest": layer}]});
        std::fs::write(
            dir.path().join("index.json"),
            serde_json::to_vec(&json!({"manifests": [{"digest": "sha256:none"}]})).unwrap(),
        )
        .unwrap();
        l.set_manifest(&m);
        assert_eq!(l.manifest(), m);
        assert_eq!(l.layer(0), b"layer bytes");
        let mut c = l.config();
        c["rootfs"]["diff_ids"][0] = json!("sha256:1");
        l.set_config(&c);
        assert_eq!(l.config(), c);
        let top = l.index()["manifests"][0].clone();
        let stored = l.read_blob(top["digest"].as_str().unwrap());
        assert_eq!(top["size"], json!(stored.len()));
        assert_eq!(
            top["digest"],
            json!(format!("sha256:{:x}", sha2::Sha256::digest(&stored)))
        );
    }
}
