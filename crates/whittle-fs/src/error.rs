//! Typed errors of the tree and the layer writer.

/// Everything that can go wrong while building a tree or writing a layer.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A path is not a relative, normalized, `/`-separated tree path.
    #[error(
        "invalid path `{path}`: {reason} (tree paths are relative, `/`-separated, without `.`, `..` or empty components)"
    )]
    InvalidPath {
        /// The offending path as given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A parent component of `path` is a file (or resolves to one), so it cannot hold children.
    #[error("cannot use `{component}` as a directory while handling `{path}`: it is a {kind}")]
    NotADirectory {
        /// The path being handled.
        path: String,
        /// The tree path of the component that is not a directory.
        component: String,
        /// What the component is.
        kind: &'static str,
    },
    /// Following symlinks while resolving `path` took more than 40 hops.
    #[error(
        "too many levels of symbolic links while resolving `{path}` (limit 40): check the symlinks along it for a loop"
    )]
    SymlinkLoop {
        /// The path being resolved.
        path: String,
    },
    /// A non-directory was inserted where a directory exists.
    #[error(
        "cannot put a {kind} at `{path}`: a directory is there (remove it first if this is intended)"
    )]
    FileOverDir {
        /// The tree path.
        path: String,
        /// The kind of node that was being inserted.
        kind: &'static str,
    },
    /// A directory was inserted where a non-directory exists.
    #[error(
        "cannot put a directory at `{path}`: a {kind} is there (remove it first if this is intended)"
    )]
    DirOverFile {
        /// The tree path.
        path: String,
        /// What is there.
        kind: &'static str,
    },
    /// The path does not exist in the tree.
    #[error("`{path}` does not exist in the tree")]
    NotFound {
        /// The path looked up.
        path: String,
    },
    /// A hardlink does not lead to a regular file.
    #[error(
        "hardlink `{path}` -> `{target}` does not lead to a regular file in the tree ({reason})"
    )]
    BadHardlink {
        /// The hardlink's path.
        path: String,
        /// Its target.
        target: String,
        /// Why it is unusable.
        reason: &'static str,
    },
    /// Adding content would exceed the tree's size limit.
    #[error(
        "adding `{path}` would bring the image's file contents to {would_be} bytes, over the limit of {limit} bytes that whittle holds in memory for one image; an image this large is refused (when building, leave large packages or files out: contents.exclude, contents.path-exclude)"
    )]
    SizeLimit {
        /// The path being inserted.
        path: String,
        /// The total the tree would reach.
        would_be: u64,
        /// The configured limit.
        limit: u64,
    },
    /// An image's layers wrote more file content to the spill file than the size limit, counting
    /// the files they replaced or deleted again (see [`crate::Overlay::with_spill`]).
    #[error(
        "the image's layers write {would_be} bytes of file content up to `{path}`, files later replaced or deleted included, over the limit of {limit} bytes for one image; an image this large is refused (a hostile layer?)"
    )]
    SpillLimit {
        /// The path being written.
        path: String,
        /// What the layers would have written in all.
        would_be: u64,
        /// The configured limit.
        limit: u64,
    },
    /// Adding an entry would exceed the tree's entry limit.
    #[error(
        "adding `{path}` would bring the image to more than {limit} files, directories and links, the most whittle holds in memory for one image; an image this large is refused (a hostile layer?); when building, leave files out: contents.exclude, contents.path-exclude"
    )]
    TooManyEntries {
        /// The path being inserted.
        path: String,
        /// The configured limit.
        limit: usize,
    },
    /// A layer option is out of range.
    #[error("invalid layer option: {0}")]
    InvalidOption(String),
    /// Writing the tar or gzip stream failed.
    #[error("writing the layer failed: {0}")]
    Io(#[from] std::io::Error),
    /// A file's content could not be read back from where it is kept on disk (see
    /// [`crate::FileData`]).
    #[error(
        "cannot read the content of /{path} back from whittle's temporary or cache files: {source} (was the cache directory changed or the disk full during the build?)"
    )]
    Content {
        /// The tree path.
        path: String,
        /// Why.
        source: std::io::Error,
    },
}

impl Error {
    /// A [`Error::Content`] for the file at `path`.
    pub fn content(path: &str, source: std::io::Error) -> Self {
        Error::Content {
            path: path.to_string(),
            source,
        }
    }
}

/// Result alias of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;
