//! Identifiers, each validated on construction against the WorkSpaces service model.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::validated::validated_string;
use crate::ValidationError;

/// `prefix` followed by 8 to 63 characters from `alphabet`.
fn prefixed(value: &str, prefix: &str, alphabet: fn(char) -> bool, alphabet_name: &str) -> Result<(), String> {
    let rest = value.strip_prefix(prefix).ok_or_else(|| format!("must start with {prefix:?}"))?;
    let len = rest.chars().count();
    if !(8..=63).contains(&len) {
        return Err(format!("needs 8 to 63 characters after {prefix:?}, found {len}"));
    }
    if !rest.chars().all(alphabet) {
        return Err(format!("may only contain {alphabet_name} after {prefix:?}"));
    }
    Ok(())
}

fn lower_alnum(c: char) -> bool {
    c.is_ascii_digit() || c.is_ascii_lowercase()
}

fn lower_hex(c: char) -> bool {
    c.is_ascii_hexdigit() && !c.is_ascii_uppercase()
}

validated_string!(
    /// A WorkSpace ID, `ws-` and 8 to 63 lowercase letters or digits. It changes on every
    /// re-creation; the stable identity of a desktop is its [`DeskKey`].
    WorkspaceId,
    "WorkspaceId",
    |v| prefixed(v, "ws-", lower_alnum, "lowercase letters and digits")
);

validated_string!(
    /// A directory ID: `d-` and hex digits (AWS Directory Service) or `wsd-` and lowercase
    /// letters or digits (WorkSpaces-managed directories).
    DirectoryId,
    "DirectoryId",
    |v| {
        if v.starts_with("wsd-") {
            prefixed(v, "wsd-", lower_alnum, "lowercase letters and digits")
        } else {
            prefixed(v, "d-", lower_hex, "lowercase hex digits")
        }
    }
);

validated_string!(
    /// A bundle ID, `wsb-` and 8 to 63 lowercase letters or digits.
    BundleId,
    "BundleId",
    |v| prefixed(v, "wsb-", lower_alnum, "lowercase letters and digits")
);

validated_string!(
    /// A directory user name: 1 to 63 characters, no whitespace or control characters.
    UserName,
    "UserName",
    |v| {
        let len = v.chars().count();
        if !(1..=63).contains(&len) {
            return Err(format!("needs 1 to 63 characters, found {len}"));
        }
        if v.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("may not contain whitespace or control characters".into());
        }
        Ok(())
    }
);

/// The stable identity of a managed desktop: one user in one directory.
///
/// WorkSpaces allows one WorkSpace per user per directory, and a rebuild gives the
/// desktop a new [`WorkspaceId`], so the journal is keyed by this pair.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize)]
pub struct DeskKey {
    /// The directory the user belongs to.
    pub directory_id: DirectoryId,
    /// The user the desktop is for.
    pub user_name: UserName,
}

impl fmt::Display for DeskKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.directory_id, self.user_name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_accept_the_service_model_shapes() {
        for ok in ["ws-bfh7rjnt9", "ws-0123456789abcdef"] {
            WorkspaceId::new(ok).unwrap();
        }
        DirectoryId::new("d-9067083b4b").unwrap();
        DirectoryId::new("wsd-abc123xyz").unwrap();
        BundleId::new("wsb-vw0mb86zg").unwrap();
        UserName::new("tester2").unwrap();
        UserName::new("jane.doe@school.example").unwrap();
    }

    #[test]
    fn ids_reject_with_a_reason() {
        let cases: [(&str, Result<WorkspaceId, ValidationError>, &str); 4] = [
            ("wrong prefix", WorkspaceId::new("wx-bfh7rjnt9"), "must start with \"ws-\""),
            ("too short", WorkspaceId::new("ws-abc"), "found 3"),
            ("uppercase", WorkspaceId::new("ws-BFH7RJNT9"), "lowercase"),
            ("empty", WorkspaceId::new(""), "must start"),
        ];
        for (name, result, expected) in cases {
            let err = result.unwrap_err().to_string();
            assert!(err.contains(expected), "{name}: {err}");
            assert!(err.contains("WorkspaceId"), "{name}: {err}");
        }
        assert!(DirectoryId::new("d-zzzzzzzzzz").is_err());
        assert!(UserName::new("two words").is_err());
        assert!(UserName::new("x".repeat(64)).is_err());
    }

    #[test]
    fn ids_deserialize_only_when_valid() {
        let ok: WorkspaceId = serde_json::from_str("\"ws-bfh7rjnt9\"").unwrap();
        assert_eq!(ok.as_str(), "ws-bfh7rjnt9");
        let err = serde_json::from_str::<WorkspaceId>("\"nope\"").unwrap_err();
        assert!(err.to_string().contains("WorkspaceId"), "{err}");
    }
}
