//! The directory clean-up function, as the reconciler and the doctor reach it: a
//! synchronous Lambda Invoke ([`DirectoryFunction`]).
//!
//! The directory answers only inside the customer's VPC; the reconciler runs outside it
//! (it needs the WorkSpaces, DynamoDB and SNS endpoints). So the reconciler hands the
//! names to delete to a function attached to the VPC and waits for the outcomes
//! (`core::directory::function` is the contract). An invocation that fails as a whole
//! (the function cannot be reached, it timed out, it crashed) fails every item it
//! carried as `Unreachable`: the core retries those with back-off, and the re-creates
//! never waited for any of it.

use std::time::Duration;

use aws_config::SdkConfig;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::InvocationType;
use aws_sdk_lambda::Client;
use aws_smithy_types::error::display::DisplayErrorContext;
use blankslate_core::directory::function::{Checked, Deleted, Request};
use blankslate_core::directory::{CleanupItem, FailureKind, Outcome};
use blankslate_handlers::ports::Directory;
use serde::de::DeserializeOwned;

use crate::config::Policy;

/// Items per invocation: far below Lambda's 6 MB synchronous payload (an item is about
/// 200 bytes), and few enough that one invocation's LDAP deletes end well inside the
/// function's timeout.
pub const ITEMS_PER_INVOKE: usize = 250;

/// [`Directory`] over a synchronous Invoke of the clean-up function.
#[derive(Clone, Debug)]
pub struct DirectoryFunction {
    client: Client,
    name: String,
}

impl DirectoryFunction {
    /// The function `name` (or ARN), reached with `config`. The invocation waits for the
    /// function (which bounds itself at its own timeout, 60 s in the template), so
    /// this client allows 75 s per attempt and two attempts: a repeated delete is
    /// harmless, the guard finds nothing the second time.
    pub fn new(config: &SdkConfig, name: String) -> Self {
        let policy = Policy {
            max_attempts: 2,
            attempt_timeout: Duration::from_secs(75),
            operation_timeout: Duration::from_secs(160),
            ..Policy::default()
        };
        let lambda = aws_sdk_lambda::config::Builder::from(config)
            .retry_config(policy.retry_config())
            .timeout_config(policy.timeout_config())
            .build();
        Self { client: Client::from_conf(lambda), name }
    }

    /// The function's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Connects, binds, probes the delete right and lists the computers named `prefix*`,
    /// changing nothing (`blankslate doctor`).
    pub async fn check(&self, prefix: &str) -> Result<Checked, String> {
        self.invoke(&Request::Check { prefix: prefix.to_owned() }).await
    }

    async fn invoke<T: DeserializeOwned>(&self, request: &Request) -> Result<T, String> {
        let payload = serde_json::to_vec(request).map_err(|e| format!("encoding the request: {e}"))?;
        let answer = self
            .client
            .invoke()
            .function_name(&self.name)
            .invocation_type(InvocationType::RequestResponse)
            .payload(Blob::new(payload))
            .send()
            .await
            .map_err(|e| format!("Invoke {}: {}", self.name, DisplayErrorContext(&e)))?;
        let body = answer.payload.map(Blob::into_inner).unwrap_or_default();
        if let Some(error) = answer.function_error {
            return Err(format!("{} failed ({error}): {}", self.name, String::from_utf8_lossy(&body)));
        }
        serde_json::from_slice(&body)
            .map_err(|e| format!("{} answered {:?}: {e}", self.name, String::from_utf8_lossy(&body)))
    }
}

impl Directory for DirectoryFunction {
    async fn delete_computers(&self, items: &[CleanupItem]) -> Vec<Outcome> {
        let mut outcomes = Vec::with_capacity(items.len());
        for chunk in items.chunks(ITEMS_PER_INVOKE) {
            match self.invoke::<Deleted>(&Request::Delete { items: chunk.to_vec() }).await {
                Ok(answer) if answer.outcomes.len() == chunk.len() => outcomes.extend(answer.outcomes),
                Ok(answer) => {
                    let message =
                        format!("{} answered {} outcomes for {} items", self.name, answer.outcomes.len(), chunk.len());
                    outcomes.extend(
                        chunk.iter().map(|_| Outcome::Failed { kind: FailureKind::Other, message: message.clone() }),
                    );
                }
                Err(message) => {
                    tracing::warn!(function = %self.name, %message, "directory clean-up function not reached");
                    outcomes.extend(
                        chunk
                            .iter()
                            .map(|_| Outcome::Failed { kind: FailureKind::Unreachable, message: message.clone() }),
                    );
                }
            }
        }
        outcomes
    }
}
