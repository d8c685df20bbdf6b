//! The per-WorkSpace SessionDisconnect alarms' names, shared by every function that
//! creates, finds or deletes one, and who owns an alarm found in the account.
//!
//! Every other resource of a stack carries the stack's name (the template's `!Sub`s); the
//! per-WorkSpace alarms are created by the functions, so they carry it here. Without it two
//! stacks in one Region would each take the other's alarms for orphans (issue 12).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::WorkspaceId;
use crate::validated::validated_string;
use crate::ValidationError;

/// What every SessionDisconnect alarm's name starts with, whichever stack (or the seed)
/// made it: one DescribeAlarms prefix lists them all.
pub const FAMILY_PREFIX: &str = "Workspace_Disconnected_";

/// The seed's own naming, used by this project before stacks named their alarms: such an
/// alarm has no owner, and is adopted by the stack that manages its WorkSpace.
pub const LEGACY_PREFIX: &str = "Workspace_Disconnected_id_";

validated_string!(
    /// A CloudFormation stack name: a letter, then letters, digits and hyphens, at most 128
    /// characters (CloudFormation's `CreateStack` rule). No underscore, so it can never
    /// run into the `_id_` that follows it in an alarm name.
    StackName,
    "stack name",
    |v| {
        let mut chars = v.chars();
        let first_is_letter = chars.next().is_some_and(|c| c.is_ascii_alphabetic());
        if !first_is_letter || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') || v.len() > 128 {
            return Err("must be a letter followed by letters, digits and hyphens, at most 128 characters".into());
        }
        Ok(())
    }
);

/// Who made an alarm of the family.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Owner {
    /// The seed's naming (no stack): adopted by whichever stack manages the WorkSpace.
    Legacy,
    /// A stack's own alarm.
    Stack(StackName),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Legacy => f.write_str("the seed's naming"),
            Self::Stack(stack) => write!(f, "stack {stack}"),
        }
    }
}

/// An alarm of the family found in the account.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub struct Listed {
    /// The WorkSpace it watches.
    pub workspace: WorkspaceId,
    /// Who made it.
    pub owner: Owner,
}

/// The prefix of `owner`'s alarms.
pub fn prefix(owner: &Owner) -> String {
    match owner {
        Owner::Legacy => LEGACY_PREFIX.to_owned(),
        Owner::Stack(stack) => format!("{FAMILY_PREFIX}{stack}_id_"),
    }
}

/// The name of `owner`'s alarm watching `id`.
pub fn alarm_name(owner: &Owner, id: &WorkspaceId) -> String {
    format!("{}{id}", prefix(owner))
}

/// Who made the alarm `name` and which WorkSpace it watches; `None` for an alarm outside
/// the family (or a name no owner of it would write).
pub fn parse(name: &str) -> Option<Listed> {
    // A stack may be named `id`: its names start like the seed's, so fall through.
    if let Some(workspace) = name.strip_prefix(LEGACY_PREFIX).and_then(|id| WorkspaceId::new(id).ok()) {
        return Some(Listed { workspace, owner: Owner::Legacy });
    }
    let (stack, id) = name.strip_prefix(FAMILY_PREFIX)?.split_once("_id_")?;
    Some(Listed { workspace: WorkspaceId::new(id).ok()?, owner: Owner::Stack(StackName::new(stack).ok()?) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_foreign_alarms_are_ignored() {
        let id = WorkspaceId::new("ws-bfh7rjnt9").unwrap();
        let lab = Owner::Stack(StackName::new("lab-2").unwrap());
        let named_id = Owner::Stack(StackName::new("id").unwrap());
        assert_eq!(alarm_name(&Owner::Legacy, &id), "Workspace_Disconnected_id_ws-bfh7rjnt9");
        assert_eq!(alarm_name(&lab, &id), "Workspace_Disconnected_lab-2_id_ws-bfh7rjnt9");
        for owner in [Owner::Legacy, lab, named_id] {
            assert_eq!(parse(&alarm_name(&owner, &id)), Some(Listed { workspace: id.clone(), owner }));
        }
        for foreign in [
            "CPUHigh",
            "Workspace_Disconnected_id_garbage",
            "Workspace_Disconnected_lab_2_id_ws-bfh7rjnt9",
            "Workspace_Disconnected__id_ws-bfh7rjnt9",
            "Workspace_Disconnected_lab-2_ws-bfh7rjnt9",
        ] {
            assert_eq!(parse(foreign), None, "{foreign}");
        }
    }

    #[test]
    fn stack_names_follow_cloudformation() {
        for good in ["a", "blankslate", "Lab-2", &"a".repeat(128)] {
            assert!(StackName::new(good).is_ok(), "{good}");
        }
        for bad in ["", "2lab", "-lab", "lab_2", "lab 2", &"a".repeat(129)] {
            let err = StackName::new(bad).unwrap_err().to_string();
            assert!(err.contains("stack name"), "{bad}: {err}");
        }
    }
}
