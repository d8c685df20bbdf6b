//! `blankslate deploy` and `blankslate destroy`: everything between a checkout and a
//! running stack, as a library the CLI only glues to flags.
//!
//! The split follows the rest of blankslate (functional core, imperative shell):
//! - pure decisions, each a plain function with unit tests: which packaging step to take
//!   ([`packaging::choose`]), what glibc the bootstrap needs ([`glibc`]), the stack
//!   parameters from flags and the stack's previous values ([`params`]), the change-set
//!   type, how a stack status ends an operation, how stack events become progress lines
//!   and which event explains a failure ([`stack`]), what an AWS error means for the
//!   user ([`error`]);
//! - the shell ([`shell`]): the SDK calls to STS, S3 and CloudFormation (and CloudWatch,
//!   through `blankslate_aws::CloudWatchAlarms`, for the per-WorkSpace alarms).
//!
//! **Architecture invariant:** this crate has no WorkSpaces client at all, so neither
//! command can touch a WorkSpace; `destroy` removes the stack and the alarms the
//! functions created at run time, nothing else.

#![deny(missing_docs)]

pub mod error;
pub mod glibc;
pub mod packaging;
pub mod params;
pub mod shell;
pub mod stack;

pub use error::{DeployError, PackagingError};
pub use params::{AlarmMode, Architecture, DirectoryChange, DirectoryCleanup, StackSettings};
pub use shell::{deploy, destroy, DeployOutcome, DeployRequest, DestroyRequest, Session};
