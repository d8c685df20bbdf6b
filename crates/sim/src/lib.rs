//! A simulated AWS account for blankslate, on a virtual clock with a seeded RNG.
//!
//! One model of WorkSpaces (states and their durations, sessions and connection
//! states, one WorkSpace per user per directory, 25 items per call, FailedRequests,
//! eventual consistency), CloudWatch (SessionDisconnect and ConnectionSuccess datapoints,
//! alarm evaluation per minute, alarm actions to SNS), CloudTrail → EventBridge delivery
//! with a delay, and the journal table with conditional writes. It implements the same
//! port traits as the AWS adapters, so the functions that run here are the ones that run
//! in Lambda. The seed's algorithm runs on the same model as a baseline.
//!
//! Determinism: all randomness comes from one `ChaCha8Rng` seeded by the caller, and the
//! clock only moves when the event loop pops the next scheduled item, so a scenario and
//! a seed replay a run exactly. Every API call a policy makes is checked against the
//! invariants when it is made (S1, S2, S3); the rest are checked at the end (S4, L1,
//! alarms, journal).
//!
//! The same model has a second face for the WorkSpaces emulator (`crates/emulator`):
//! [`World::open`] gives an account with no fleet whose clock the caller moves to the
//! wall clock ([`World::advance_to`]), whose fleet grows with every create, and whose
//! events and session datapoints leave it as [`Output`]s for real functions and a real
//! CloudWatch.

#![deny(missing_docs)]

mod aws;
pub mod bound;
pub mod campaign;
pub mod directory;
pub mod file;
mod gate;
pub mod limits;
pub mod metrics;
mod open;
mod queue;
pub mod report;
mod run;
pub mod scenario;
pub mod scenarios;
mod seed_policy;
pub mod timeline;
mod world;

pub use aws::SimAws;
pub use gate::ApiBuckets;
pub use open::{Metric, Output, SessionError, TagError, WorkspaceView};
pub use run::{run, run_inline, HeldEvent, Outcome, Policy, Simulation};
pub use world::{Function, Violation, World};
