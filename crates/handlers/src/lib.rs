//! blankslate's four functions, written once against the [`ports`] traits.
//!
//! | function                  | seed name                 | triggered by                                   |
//! |---------------------------|---------------------------|------------------------------------------------|
//! | [`alarm_create`]          | `Workspace_Alarm_Create`  | CloudTrail `CreateWorkspaces` via EventBridge  |
//! | [`alarm_delete`]          | `Workspace_Alarm_Del`     | CloudTrail `TerminateWorkspaces` via EventBridge |
//! | [`term_rebuild`]          | `Workspace_Term_Rebuild`  | "WorkSpaces Access" logins; [`term_rebuild_queue`]: the disconnect alarm via SNS → SQS |
//! | [`reconcile`]             | (new)                     | a schedule, every reconcile period             |
//!
//! The event functions only record facts in the journal and arm or disarm alarms; they
//! never wait. All waiting is the journal's: the reconciler reads it every period and
//! advances each desk when its time has come. Each function reads AWS, asks
//! `blankslate_core::reconcile` what to do, and hands the steps to [`execute`], which
//! writes each intent before acting on it. The shell (a Lambda binary or the simulator)
//! supplies the ports and `now`. [`reconcile_with_directory`] adds the directory
//! clean-up (issue 14) after a tick's creates.

#![deny(missing_docs)]

pub mod directory;
mod execute;
mod functions;
pub mod ports;

pub use directory::reconcile_with_directory;
pub use execute::Report;
pub use functions::{
    alarm_create, alarm_delete, reconcile, term_rebuild, term_rebuild_queue, HandlerError, QueueReport,
};
