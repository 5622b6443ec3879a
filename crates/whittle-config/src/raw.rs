//! The YAML schema as written (serde structs with spans); validated into [`crate::Config`].

use std::collections::BTreeMap;
use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, SeqAccess, Visitor};
use serde_saphyr::Spanned;

pub(crate) type S<T> = Spanned<T>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawConfig {
    #[serde(default)]
    pub contents: Option<RawContents>,
    #[serde(default)]
    pub entrypoint: Option<RawEntrypoint>,
    #[serde(default)]
    pub cmd: Option<S<StringOrList>>,
    #[serde(default)]
    pub work_dir: Option<S<String>>,
    #[serde(default)]
    pub environment: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub accounts: Option<RawAccounts>,
    #[serde(default)]
    pub paths: Vec<S<RawPath>>,
    #[serde(default)]
    pub annotations: BTreeMap<String, S<String>>,
    #[serde(default)]
    pub archs: Vec<S<String>>,
    #[serde(default)]
    pub stop_signal: Option<S<String>>,
    #[serde(default)]
    pub volumes: Vec<S<String>>,
    #[serde(default)]
    pub vcs_url: Option<S<String>>,
    #[serde(default)]
    pub os_release: Option<S<RawOsRelease>>,
    #[serde(default)]
    pub layering: Option<S<RawLayering>>,
    #[serde(default)]
    pub layer_compression: Option<S<String>>,
}

/// apko's `layering`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawLayering {
    #[serde(default)]
    pub strategy: Option<S<String>>,
    #[serde(default)]
    pub budget: Option<S<u32>>,
}

/// apko's `os-release`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawOsRelease {
    #[serde(default)]
    pub name: Option<S<String>>,
    #[serde(default)]
    pub id: Option<S<String>>,
    #[serde(default)]
    pub version_id: Option<S<String>>,
    #[serde(default)]
    pub pretty_name: Option<S<String>>,
    #[serde(default)]
    pub home_url: Option<S<String>>,
    #[serde(default)]
    pub bug_report_url: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawContents {
    #[serde(default)]
    pub repositories: Vec<S<String>>,
    #[serde(default, rename = "build_repositories")]
    pub build_repositories: Vec<S<String>>,
    #[serde(default, rename = "runtime_repositories")]
    pub runtime_repositories: Vec<S<String>>,
    #[serde(default)]
    pub keyring: Vec<S<String>>,
    #[serde(default)]
    pub packages: Vec<S<String>>,
    #[serde(default)]
    pub exclude: Vec<S<String>>,
    #[serde(default)]
    pub include_docs: Option<bool>,
    #[serde(default)]
    pub include_script_dependencies: Option<bool>,
    #[serde(default)]
    pub path_exclude: Vec<S<String>>,
    #[serde(default)]
    pub path_include: Vec<S<String>>,
    #[serde(default)]
    pub baseimage: Option<S<RawBaseImage>>,
}

/// apko's `contents.baseimage`: `{image: REF}` (apko's `apkindex` is accepted and not needed:
/// whittle reads the base's installed packages from its layers).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawBaseImage {
    pub image: S<String>,
    #[serde(default)]
    pub apkindex: Option<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawEntrypoint {
    #[serde(default)]
    pub command: Option<S<StringOrList>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawAccounts {
    #[serde(default)]
    pub groups: Vec<S<RawGroup>>,
    #[serde(default)]
    pub users: Vec<S<RawUser>>,
    #[serde(default)]
    pub run_as: Option<S<IntOrString>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawGroup {
    pub groupname: S<String>,
    pub gid: S<u32>,
    #[serde(default)]
    pub members: Vec<S<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawUser {
    pub username: S<String>,
    pub uid: S<u32>,
    #[serde(default)]
    pub gid: Option<S<u32>>,
    #[serde(default)]
    pub shell: Option<S<String>>,
    #[serde(default)]
    pub homedir: Option<S<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum RawPathType {
    Directory,
    EmptyFile,
    Symlink,
    Hardlink,
    Permissions,
    Local,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub(crate) struct RawPath {
    pub path: S<String>,
    #[serde(rename = "type")]
    pub kind: S<RawPathType>,
    #[serde(default)]
    pub uid: Option<S<u32>>,
    #[serde(default)]
    pub gid: Option<S<u32>>,
    #[serde(default)]
    pub permissions: Option<S<Perm>>,
    #[serde(default)]
    pub source: Option<S<String>>,
    #[serde(default)]
    pub recursive: Option<S<bool>>,
}

/// A string (split into words later) or a list of strings (taken as argv).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StringOrList {
    String(String),
    List(Vec<String>),
}

impl<'de> Deserialize<'de> for StringOrList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = StringOrList;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string or a list of strings")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(StringOrList::String(v.to_string()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(StringOrList::String(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(StringOrList::String(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(StringOrList::String(v.to_string()))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(s) = seq.next_element::<String>()? {
                    out.push(s);
                }
                Ok(StringOrList::List(out))
            }
        }
        d.deserialize_any(V)
    }
}

/// A run-as value: a user name or a numeric uid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum IntOrString {
    Int(u64),
    String(String),
}

impl<'de> Deserialize<'de> for IntOrString {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = IntOrString;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a user name or a numeric uid")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(IntOrString::String(v.to_string()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(IntOrString::Int(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                u64::try_from(v)
                    .map(IntOrString::Int)
                    .map_err(|_| E::custom(format!("uid {v} is negative")))
            }
        }
        d.deserialize_any(V)
    }
}

/// File permission bits: an integer (`0o755`, legacy `0755`, decimal `493`) or a string of
/// octal digits (`"0755"`, `"755"`, `"0o755"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Perm(pub u32);

pub(crate) const MAX_PERM: u32 = 0o7777;

fn perm_from_str(s: &str) -> Option<u32> {
    let t = s.trim();
    let digits = t
        .strip_prefix("0o")
        .or_else(|| t.strip_prefix("0O"))
        .unwrap_or(t);
    if digits.is_empty() || digits.len() > 6 || !digits.chars().all(|c| ('0'..='7').contains(&c)) {
        return None;
    }
    u32::from_str_radix(digits, 8).ok()
}

impl<'de> Deserialize<'de> for Perm {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Perm;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("permission bits such as 0o755 or \"0644\"")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                match u32::try_from(v) {
                    Ok(p) if p <= MAX_PERM => Ok(Perm(p)),
                    _ => Err(E::custom(format!(
                        "permissions {v} (octal {v:o}) exceed 0o7777"
                    ))),
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                match u64::try_from(v) {
                    Ok(u) => self.visit_u64(u),
                    Err(_) => Err(E::custom(format!("permissions {v} are negative"))),
                }
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                match perm_from_str(v) {
                    Some(p) if p <= MAX_PERM => Ok(Perm(p)),
                    _ => Err(E::custom(format!(
                        "permissions {v:?} are not octal digits up to 7777"
                    ))),
                }
            }
        }
        d.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn perm_strings() {
        assert_eq!(perm_from_str("0755"), Some(0o755));
        assert_eq!(perm_from_str("755"), Some(0o755));
        assert_eq!(perm_from_str("0o700"), Some(0o700));
        assert_eq!(perm_from_str("0789"), None);
        assert_eq!(perm_from_str(""), None);
        assert_eq!(perm_from_str("rwx"), None);
    }
}
