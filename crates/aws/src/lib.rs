//! The AWS side of blankslate's ports: adapters over the AWS SDK for Rust.
//!
//! Each adapter implements one trait of `blankslate_handlers::ports` and does nothing
//! but translate: core types to SDK requests, SDK answers back to core types, and every
//! SDK failure to a [`PortError`] whose [`ErrorKind`] tells the caller whether the call
//! may have taken effect. No decision is taken here; that is the core's.
//!
//! Two rules hold throughout, because what AWS returns is input like any other:
//! - nothing from AWS is trusted to fit our types. A WorkSpace that fails validation is
//!   skipped with a warning naming it and why, instead of failing the whole call, so one
//!   odd desktop never blinds the reconciler to the rest of the fleet;
//! - batch limits are checked before calling, so a caller's mistake is a typed
//!   `Rejected` error and never a half-sent batch.
//!
//! All clients share one retry and timeout policy ([`config`]): the SDK's standard retry
//! mode (exponential back-off with jitter on throttling, 5xx and transient errors) and
//! bounded connect, attempt and operation timeouts, so a Lambda invocation never hangs
//! on a slow endpoint.
//!
//! [`PortError`]: blankslate_handlers::ports::PortError
//! [`ErrorKind`]: blankslate_handlers::ports::ErrorKind

#![deny(missing_docs)]

mod cloudwatch;
pub mod config;
mod directory_function;
mod dynamodb;
mod error;
mod pace;
pub mod secrets;
mod sns;
mod tagging;
mod workspaces;

pub use cloudwatch::CloudWatchAlarms;
pub use config::{load_sdk_config, with_policy, Policy};
pub use directory_function::{DirectoryFunction, ITEMS_PER_INVOKE};
pub use dynamodb::{journal_schema, DynamoJournal};
pub use sns::SnsNotifier;
pub use tagging::WorkspaceArnPrefix;
pub use workspaces::AwsWorkspaces;
