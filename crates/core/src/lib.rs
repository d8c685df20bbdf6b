//! The pure core of blankslate.
//!
//! Everything that decides lives here: which WorkSpaces are managed, when a grace period
//! is over, whether a user came back, what to terminate or create next and in which
//! batches, how an event from AWS reads. Nothing here performs I/O, reads a clock or
//! draws a random number: time comes in as a [`Timestamp`] argument and results go out as
//! values (journal writes and [`reconcile::Action`]s) that a shell carries out. That is
//! what lets the same decisions run in a Lambda function, in the simulator on a virtual
//! clock, and in property tests.

#![deny(missing_docs)]

pub mod alarm;
pub mod config;
pub mod directory;
mod error;
pub mod events;
pub mod history;
pub mod ids;
pub mod journal;
pub mod observe;
pub mod pacing;
pub mod reconcile;
pub mod selector;
pub mod spec;
pub mod status;
pub mod time;
mod validated;

pub use error::ValidationError;
pub use time::Timestamp;
