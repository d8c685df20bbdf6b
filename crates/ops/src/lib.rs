//! Operating a deployed blankslate stack: the library behind `blankslate status`,
//! `history`, `rebuild`, `enrol`, `release` and `doctor`.
//!
//! Every command starts the same way, and this is the API the commands share (kept
//! stable):
//!
//! ```text
//! let session = blankslate_ops::connect(profile, region).await?;      // credentials + Region, checked
//! let stack = blankslate_ops::DeployedStack::open(&session, name).await?;
//! stack.config            // core Config: the reconciler's environment, else the stack's parameters
//! stack.output(outputs::RECONCILER_FUNCTION)?   // any output, or an error saying what to do
//! stack.journal() / stack.workspaces() / stack.alarms() / stack.lambda() / stack.cloudformation()
//! stack.sdk_config()      // for any other client
//! ```
//!
//! Errors are [`OpsError`]: stack not found (which stack, which Region, what to do),
//! missing output, no credentials or Region (from `blankslate_deploy::Session`),
//! throttled, unreachable. Decisions (what a desk's next action is, what a history line
//! says, whether a rebuild request is allowed) are pure functions in `blankslate_core`;
//! this crate only reads and writes.

#![deny(missing_docs)]

pub mod doctor;
pub mod enrol;
pub mod error;
pub mod history;
pub mod rebuild;
pub mod stack;
pub mod status;

pub use error::OpsError;
pub use stack::{connect, outputs, parameters, ConfigSource, DeployedStack};
