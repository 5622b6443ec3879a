//! apko's `build` flags that add to a config: `-k/--keyring-append`, `-r/--repository-append`,
//! `-b/--build-repository-append`, `-p/--package-append` and `--annotations`.

use std::path::Path;

use crate::repo::{Repository, parse_repository};
use crate::validate::parse_package;
use crate::{
    ANNOTATION_REVISION, ANNOTATION_SOURCE, Config, ConfigError, ConfigPath, Diagnostic, Keyring,
    KeyringSource, PackageSpec, Pos,
};

/// What the command line adds to a config, as apko's `build` flags spell it. Relative paths are
/// relative to the current directory (the user typed them: they are not confined to the config's
/// directory as the config's own paths are).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Append {
    /// `-k/--keyring-append`: key files or http(s):// URLs added to `contents.keyring`.
    pub keyrings: Vec<String>,
    /// `-r/--repository-append`: entries added to `contents.repositories`.
    pub repositories: Vec<String>,
    /// `-b/--build-repository-append`: entries added to `contents.build_repositories`.
    pub build_repositories: Vec<String>,
    /// `-p/--package-append`: entries added to `contents.packages`.
    pub packages: Vec<String>,
    /// `--annotations KEY:VALUE`: set on the image (over the config's own).
    pub annotations: Vec<String>,
    /// apko's `--vcs` probe: the (source URL, revision) of the git repository the config lies
    /// in. As apko's, it stands in for a `vcs-url` the config does not give: a config that sets
    /// the source (by `vcs-url` or `annotations`) keeps its own, and `--annotations` win.
    pub vcs: Option<(String, String)>,
}

impl Append {
    /// Whether nothing is added.
    pub fn is_empty(&self) -> bool {
        *self == Append::default()
    }

    /// Whether what is added can change what the packages resolve to (keys, repositories,
    /// packages; annotations cannot), so that a lock made from the config alone no longer holds.
    pub fn changes_resolution(&self) -> bool {
        !(self.keyrings.is_empty()
            && self.repositories.is_empty()
            && self.build_repositories.is_empty()
            && self.packages.is_empty())
    }
}

fn diag(flag: &str, i: usize, message: String, hint: Option<&str>) -> Diagnostic {
    Diagnostic {
        origin: flag.to_string(),
        pos: Pos::new(i as u64 + 1, 1),
        message,
        hint: hint.map(str::to_string),
        source_line: None,
    }
}

impl Config {
    /// Adds what `extra` gives to this config; relative paths resolve against `cwd`. An error
    /// names the flag and the value (its place among that flag's values is the "line").
    pub fn append(&mut self, extra: &Append, cwd: &Path) -> Result<(), ConfigError> {
        let mut diags = Vec::new();
        let typed = |mut r: Repository| {
            // typed by the user: not confined to the config's directory
            if let Repository::Apk(a) = &mut r {
                a.relative = None;
            }
            r
        };
        for (flag, list, into) in [
            (
                "--repository-append",
                &extra.repositories,
                &mut self.contents.repositories,
            ),
            (
                "--build-repository-append",
                &extra.build_repositories,
                &mut self.contents.build_repositories,
            ),
        ] {
            for (i, r) in list.iter().enumerate() {
                match parse_repository(r, Pos::new(i as u64 + 1, 1), cwd) {
                    Ok(repo) => into.push(typed(repo)),
                    Err(p) => diags.push(diag(flag, i, p.message, p.hint.as_deref())),
                }
            }
        }
        for (i, k) in extra.keyrings.iter().enumerate() {
            let k = k.trim();
            let pos = Pos::new(i as u64 + 1, 1);
            let source = if k.starts_with("https://") || k.starts_with("http://") {
                KeyringSource::Url(k.to_string())
            } else if k.is_empty() || k.contains("://") {
                diags.push(diag(
                    "--keyring-append",
                    i,
                    format!("`{k}` is not a key file or an http(s):// URL"),
                    Some("give a public key file (PEM) or an http(s):// URL"),
                ));
                continue;
            } else {
                let p = ConfigPath::resolve(k, cwd);
                // said here, naming the flag: the config check that follows knows no line for it
                if std::fs::symlink_metadata(&p.resolved).is_err() {
                    diags.push(diag(
                        "--keyring-append",
                        i,
                        format!(
                            "keyring `{k}` not found (looked at {})",
                            p.resolved.display()
                        ),
                        Some("relative paths are relative to the current directory"),
                    ));
                    continue;
                }
                KeyringSource::File(ConfigPath {
                    written: p.resolved.display().to_string(),
                    resolved: p.resolved,
                })
            };
            self.contents.keyring.push(Keyring { source, pos });
        }
        for (i, p) in extra.packages.iter().enumerate() {
            match parse_package(p) {
                Ok((name, constraint)) => {
                    if !self.contents.packages.iter().any(|q| q.name == name) {
                        self.contents.packages.push(PackageSpec {
                            name,
                            constraint,
                            written: p.clone(),
                            pos: Pos::new(i as u64 + 1, 1),
                        });
                    }
                }
                Err(e) => diags.push(diag("--package-append", i, e.message, e.hint.as_deref())),
            }
        }
        if let Some((url, rev)) = &extra.vcs
            && !self.annotations.contains_key(ANNOTATION_SOURCE)
        {
            self.annotations
                .insert(ANNOTATION_SOURCE.to_string(), url.clone());
            self.annotations
                .entry(ANNOTATION_REVISION.to_string())
                .or_insert_with(|| rev.clone());
        }
        for (i, a) in extra.annotations.iter().enumerate() {
            match a.split_once(':') {
                Some((k, v)) if !k.trim().is_empty() => {
                    self.annotations
                        .insert(k.trim().to_string(), v.trim().to_string());
                }
                _ => diags.push(diag(
                    "--annotations",
                    i,
                    format!("`{a}` is not KEY:VALUE"),
                    Some("write the annotation as apko does, e.g. `org.opencontainers.image.vendor:Example`"),
                )),
            }
        }
        if diags.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(diags))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> Config {
        Config::from_str(
            "/cfg/apko.yaml",
            "contents:\n  repositories: [./packages]\n  keyring: [./melange.rsa.pub]\n  packages: [hello]\n",
        )
        .unwrap()
    }

    #[test]
    fn flags_add_to_the_config() {
        let cwd = tempfile::tempdir().unwrap();
        std::fs::write(cwd.path().join("k.pub"), "key").unwrap();
        let cwd_s = cwd.path().display().to_string();
        let mut c = config();
        c.append(
            &Append {
                keyrings: vec!["k.pub".into(), "https://x.example/k.rsa.pub".into()],
                repositories: vec!["./more".into(), "https://x.example/main".into()],
                build_repositories: vec!["/srv/b".into()],
                packages: vec!["hello".into(), "gawk>=5".into()],
                annotations: vec!["org.example.a: b:c".into()],
                vcs: None,
            },
            cwd.path(),
        )
        .unwrap();
        let urls: Vec<String> = c
            .contents
            .repositories
            .iter()
            .map(|r| match r {
                Repository::Apk(a) => a.url.clone(),
                Repository::Deb(d) => d.uri.clone(),
            })
            .collect();
        assert_eq!(
            urls,
            [
                "/cfg/packages".to_string(),
                format!("{cwd_s}/more"),
                "https://x.example/main".to_string()
            ]
        );
        // the config's own relative directory is confined, the typed one is not
        let relative: Vec<bool> = c
            .contents
            .repositories
            .iter()
            .map(|r| matches!(r, Repository::Apk(a) if a.relative.is_some()))
            .collect();
        assert_eq!(relative, [true, false, false]);
        assert_eq!(c.contents.build_repositories.len(), 1);
        let names: Vec<&str> = c
            .contents
            .packages
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["hello", "gawk"]);
        assert_eq!(c.contents.keyring.len(), 3);
        assert!(matches!(&c.contents.keyring[1].source,
            KeyringSource::File(p) if p.written == format!("{cwd_s}/k.pub")));
        assert_eq!(c.annotations["org.example.a"], "b:c");
    }

    #[test]
    fn bad_values_name_the_flag() {
        let mut c = config();
        let err = c
            .append(
                &Append {
                    annotations: vec!["no-colon".into()],
                    packages: vec!["".into()],
                    keyrings: vec!["missing.pub".into()],
                    ..Append::default()
                },
                Path::new("/cwd"),
            )
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--annotations:1:1: `no-colon` is not KEY:VALUE"),
            "{err}"
        );
        assert!(err.contains("--package-append:1:1:"), "{err}");
        // a key file that is not there: the flag is named, not a line of the config
        assert!(
            err.contains(
                "--keyring-append:1:1: keyring `missing.pub` not found (looked at /cwd/missing.pub)"
            ),
            "{err}"
        );
    }

    /// apko probes the git repository only when the config gives no `vcs-url`: the probe
    /// fills in for it, a config's own source (by `vcs-url` or `annotations`) stands, and
    /// `--annotations` win over both.
    #[test]
    fn the_vcs_probe_stands_in_for_a_missing_vcs_url() {
        let probed = || Append {
            vcs: Some(("https://git.example/probed".into(), "abc123".into())),
            ..Append::default()
        };
        let built = |yaml: &str, extra: &Append| {
            let mut c = Config::from_str("/cfg/apko.yaml", yaml).unwrap();
            c.append(extra, Path::new("/cwd")).unwrap();
            (
                c.annotations.get(ANNOTATION_SOURCE).cloned(),
                c.annotations.get(ANNOTATION_REVISION).cloned(),
            )
        };
        let plain = "contents:\n  packages: [hello]\n";
        assert_eq!(
            built(plain, &probed()),
            (
                Some("https://git.example/probed".into()),
                Some("abc123".into())
            )
        );
        let with_url = format!("{plain}vcs-url: https://git.example/mine@def456\n");
        let mine = (
            Some("https://git.example/mine".into()),
            Some("def456".into()),
        );
        assert_eq!(built(&with_url, &probed()), mine);
        // a `vcs-url` without a revision: apko does not probe, so no revision is taken from it
        let no_rev = format!("{plain}vcs-url: https://git.example/mine\n");
        assert_eq!(
            built(&no_rev, &probed()),
            (Some("https://git.example/mine".into()), None)
        );
        let annotated =
            format!("{plain}annotations:\n  {ANNOTATION_SOURCE}: https://git.example/own\n");
        assert_eq!(
            built(&annotated, &probed()).0.as_deref(),
            Some("https://git.example/own")
        );
        let flag = Append {
            annotations: vec![format!("{ANNOTATION_SOURCE}:https://git.example/flag")],
            ..probed()
        };
        assert_eq!(
            built(&with_url, &flag).0.as_deref(),
            Some("https://git.example/flag")
        );
    }
}
