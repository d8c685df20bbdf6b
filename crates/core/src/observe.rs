//! What the reconciler observes of AWS: WorkSpace states and connection states.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::directory::ComputerName;
use crate::ids::WorkspaceId;
use crate::spec::WorkspaceSpec;
use crate::time::Timestamp;
use crate::ValidationError;

macro_rules! api_enum {
    ($(#[$doc:meta])* $name:ident, $label:literal { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Serialize, Deserialize)]
        pub enum $name {
            $($(#[$vdoc])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// The API's spelling.
            pub fn as_api_str(self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(text: &str) -> Result<Self, ValidationError> {
                match text {
                    $($text => Ok(Self::$variant),)+
                    other => Err(ValidationError::new($label, other, concat!("expected one of: ", $($text, " "),+))),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_api_str())
            }
        }
    };
}

api_enum!(
    /// `WorkspaceState`.
    WorkspaceState, "WorkspaceState" {
        /// Being created.
        Pending = "PENDING",
        /// Ready for use.
        Available = "AVAILABLE",
        /// Running but failing health checks.
        Impaired = "IMPAIRED",
        /// Unhealthy.
        Unhealthy = "UNHEALTHY",
        /// Rebooting.
        Rebooting = "REBOOTING",
        /// Starting.
        Starting = "STARTING",
        /// Being rebuilt by WorkSpaces.
        Rebuilding = "REBUILDING",
        /// Being restored.
        Restoring = "RESTORING",
        /// In maintenance.
        Maintenance = "MAINTENANCE",
        /// In admin maintenance.
        AdminMaintenance = "ADMIN_MAINTENANCE",
        /// Being terminated.
        Terminating = "TERMINATING",
        /// Terminated (shown only briefly).
        Terminated = "TERMINATED",
        /// Suspended; cannot be terminated.
        Suspended = "SUSPENDED",
        /// Being updated.
        Updating = "UPDATING",
        /// Stopping.
        Stopping = "STOPPING",
        /// Stopped.
        Stopped = "STOPPED",
        /// Failed.
        Error = "ERROR",
    }
);

impl WorkspaceState {
    /// States in which `TerminateWorkspaces` can be sent now. Transitional states are
    /// waited out; SUSPENDED is refused by AWS.
    pub fn can_terminate(self) -> bool {
        matches!(self, Self::Available | Self::Stopped | Self::Impaired | Self::Unhealthy | Self::Error)
    }

    /// States after which the WorkSpace can only disappear.
    pub fn is_going(self) -> bool {
        matches!(self, Self::Terminating | Self::Terminated)
    }
}

api_enum!(
    /// `ConnectionState`.
    ConnectionState, "ConnectionState" {
        /// A user is connected.
        Connected = "CONNECTED",
        /// No user is connected.
        Disconnected = "DISCONNECTED",
        /// Not known (for example while the WorkSpace is stopped).
        Unknown = "UNKNOWN",
    }
);

/// One WorkSpace as `DescribeWorkspaces` shows it. `spec.tags` is filled only when the
/// caller also read the tags (DescribeTags is a separate call).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WorkspaceDescription {
    /// Its ID.
    pub id: WorkspaceId,
    /// Its state.
    pub state: WorkspaceState,
    /// The request that would re-create it.
    pub spec: WorkspaceSpec,
    /// `ComputerName`: its computer object's name in the directory, once it has joined
    /// (absent while PENDING, and from emulators that do not model it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub computer_name: Option<ComputerName>,
}

/// One entry of `DescribeWorkspacesConnectionStatus`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConnectionObservation {
    /// The WorkSpace.
    pub id: WorkspaceId,
    /// Its connection state.
    pub state: ConnectionState,
    /// `ConnectionStateCheckTimestamp`.
    pub checked_at: Option<Timestamp>,
    /// `LastKnownUserConnectionTimestamp`: when a user last connected.
    pub last_user_connection: Option<Timestamp>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_state_round_trips_and_unknown_is_named() {
        for s in ["PENDING", "AVAILABLE", "ADMIN_MAINTENANCE", "TERMINATED", "ERROR"] {
            assert_eq!(s.parse::<WorkspaceState>().unwrap().as_api_str(), s);
        }
        let err = "HIBERNATING".parse::<WorkspaceState>().unwrap_err().to_string();
        assert!(err.contains("HIBERNATING") && err.contains("AVAILABLE"), "{err}");
        assert!(!WorkspaceState::Suspended.can_terminate());
        assert!(WorkspaceState::Stopped.can_terminate());
    }
}
