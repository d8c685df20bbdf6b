//! The opt-in selector: what a deploy manages (invariant S2). Nothing else is touched.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::ids::{BundleId, DirectoryId};
use crate::spec::{TagKey, TagValue, WorkspaceSpec};
use crate::ValidationError;

/// Which WorkSpaces are managed. There is no default: managing every WorkSpace in a
/// Region must be asked for with `all`, because one wrong deploy would otherwise wipe an
/// admin's persistent desktops.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Selector {
    /// `tag:KEY` or `tag:KEY=VALUE`: WorkSpaces carrying the tag (with that value).
    Tag {
        /// The tag key to look for.
        key: TagKey,
        /// The value it must have; any value when `None`.
        value: Option<TagValue>,
    },
    /// `directory:d-1,d-2`: WorkSpaces in these directories.
    Directories(BTreeSet<DirectoryId>),
    /// `bundle:wsb-1,wsb-2`: WorkSpaces created from these bundles.
    Bundles(BTreeSet<BundleId>),
    /// `all`: every WorkSpace in the Region.
    All,
}

impl Selector {
    /// Whether the WorkSpace described by `spec` (with its current tags) is managed.
    pub fn matches(&self, spec: &WorkspaceSpec) -> bool {
        match self {
            Self::Tag { key, value } => match (spec.tags.get(key), value) {
                (Some(found), Some(wanted)) => found == wanted,
                (Some(_), None) => true,
                (None, _) => false,
            },
            Self::Directories(ids) => ids.contains(&spec.directory_id),
            Self::Bundles(ids) => ids.contains(&spec.bundle_id),
            Self::All => true,
        }
    }

    /// True when deciding needs the WorkSpace's tags (a DescribeTags call per WorkSpace).
    pub fn needs_tags(&self) -> bool {
        matches!(self, Self::Tag { .. })
    }
}

const FORMS: &str = "expected tag:KEY, tag:KEY=VALUE, directory:ID[,ID...], bundle:ID[,ID...] or all";

fn id_set<T: Ord>(
    list: &str,
    parse: impl Fn(&str) -> Result<T, ValidationError>,
) -> Result<BTreeSet<T>, ValidationError> {
    let set =
        list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(parse).collect::<Result<BTreeSet<T>, _>>()?;
    if set.is_empty() {
        return Err(ValidationError::new("selector", list, "names no IDs"));
    }
    Ok(set)
}

impl FromStr for Selector {
    type Err = ValidationError;
    fn from_str(text: &str) -> Result<Self, ValidationError> {
        let text = text.trim();
        if text == "all" {
            return Ok(Self::All);
        }
        let (kind, rest) = text.split_once(':').ok_or_else(|| ValidationError::new("selector", text, FORMS))?;
        match kind {
            "tag" => {
                let (key, value) = match rest.split_once('=') {
                    Some((k, v)) => (k, Some(TagValue::new(v)?)),
                    None => (rest, None),
                };
                Ok(Self::Tag { key: TagKey::new(key)?, value })
            }
            "directory" => Ok(Self::Directories(id_set(rest, |s| s.parse())?)),
            "bundle" => Ok(Self::Bundles(id_set(rest, |s| s.parse())?)),
            _ => Err(ValidationError::new("selector", text, FORMS)),
        }
    }
}

impl TryFrom<String> for Selector {
    type Error = ValidationError;
    fn try_from(s: String) -> Result<Self, ValidationError> {
        s.parse()
    }
}

impl From<Selector> for String {
    fn from(s: Selector) -> String {
        s.to_string()
    }
}

fn join<T: fmt::Display>(items: &BTreeSet<T>) -> String {
    items.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tag { key, value: Some(v) } => write!(f, "tag:{key}={v}"),
            Self::Tag { key, value: None } => write!(f, "tag:{key}"),
            Self::Directories(ids) => write!(f, "directory:{}", join(ids)),
            Self::Bundles(ids) => write!(f, "bundle:{}", join(ids)),
            Self::All => f.write_str("all"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::UserName;
    use crate::spec::Tags;

    fn spec(tags: &[(&str, &str)]) -> WorkspaceSpec {
        let mut s = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("alice").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        s.tags = Tags::from_pairs(tags.iter().copied()).unwrap();
        s
    }

    #[test]
    fn selector_decisions() {
        let cases = [
            ("tag:blankslate", &[("blankslate", "x")][..], true),
            ("tag:blankslate", &[("other", "x")][..], false),
            ("tag:blankslate=on", &[("blankslate", "on")][..], true),
            ("tag:blankslate=on", &[("blankslate", "off")][..], false),
            ("directory:d-9067083b4b", &[][..], true),
            ("directory:d-00000000aa,d-9067083b4b", &[][..], true),
            ("directory:d-00000000aa", &[][..], false),
            ("bundle:wsb-vw0mb86zg", &[][..], true),
            ("bundle:wsb-000000000", &[][..], false),
            ("all", &[][..], true),
        ];
        for (text, tags, expected) in cases {
            let selector: Selector = text.parse().unwrap();
            assert_eq!(selector.matches(&spec(tags)), expected, "{text} on {tags:?}");
            assert_eq!(selector.to_string().parse::<Selector>().unwrap(), selector, "{text} round trip");
        }
    }

    #[test]
    fn bad_selectors_say_what_is_wrong() {
        for (text, expected) in [
            ("", "expected tag:KEY"),
            ("everything", "expected tag:KEY"),
            ("tag:", "tag key"),
            ("directory:", "names no IDs"),
            ("directory:d-XYZ", "DirectoryId"),
            ("bundle:ws-123", "BundleId"),
            ("owner:alice", "expected tag:KEY"),
        ] {
            let err = text.parse::<Selector>().unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }
}
