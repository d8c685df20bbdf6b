//! What the reconciler and the doctor send the directory clean-up function, and what
//! it answers.
//!
//! The directory is reachable only inside the customer's network, so the LDAP work runs
//! in a function attached to their VPC, which is handed everything it needs in the
//! request: the items to delete (desk, terminated WorkSpace, computer name, when it was
//! gone) or a check to run. It needs no AWS API besides its bind account's secret, so
//! a VPC with no route to the internet needs one endpoint (Secrets Manager) and nothing
//! else. Every answer is data, never an invocation error: an unreachable directory is a
//! [`super::Outcome::Failed`] per item, so the reconciler's back-off rule sees it.

use serde::{Deserialize, Serialize};

use super::acl::DeleteRight;
use super::{CleanupItem, FailureKind, FoundObject, Outcome};

/// One invocation's request.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// Delete these computer objects, each through the S5 guard.
    Delete {
        /// One per terminated WorkSpace.
        items: Vec<CleanupItem>,
    },
    /// Connect, bind, probe the delete right and list the computers that look like
    /// WorkSpaces (`blankslate doctor`). Changes nothing.
    Check {
        /// The computer-name prefix to list.
        prefix: String,
    },
}

/// The answer to [`Request::Delete`]: one outcome per item, in order.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Deleted {
    /// The outcomes.
    pub outcomes: Vec<Outcome>,
}

/// A step of a check that could not be done.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Failure {
    /// Which kind.
    pub kind: FailureKind,
    /// What the directory (or the transport) said.
    pub message: String,
}

/// The answer to [`Request::Check`]. Each step runs only if the one before it worked.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Checked {
    /// The URL that answered and accepted the bind.
    pub bound: Result<String, Failure>,
    /// May the bind account delete computer objects in the OU (read from its DACL).
    pub may_delete: Option<Result<DeleteRight, Failure>>,
    /// The computer objects whose name starts with the prefix.
    pub computers: Option<Result<Vec<FoundObject>, Failure>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_read_as_the_function_documents_them() {
        let delete: Request = serde_json::from_str(
            r#"{"delete":{"items":[{"desk":{"directory_id":"d-1234567890","user_name":"alice"},"workspace_id":"ws-abc123def","computer_name":"WSAMZN-1A2B3C4D","terminated_at":5}]}}"#,
        )
        .unwrap();
        let Request::Delete { items } = delete else { panic!("not a delete: {delete:?}") };
        assert_eq!((items.len(), items[0].computer_name.as_str()), (1, "WSAMZN-1A2B3C4D"));
        let check: Request = serde_json::from_str(r#"{"check":{"prefix":"WSAMZN-"}}"#).unwrap();
        assert_eq!(check, Request::Check { prefix: "WSAMZN-".into() });
        assert!(serde_json::from_str::<Request>(r#"{"erase":{}}"#).is_err());
    }
}
