//! The directory clean-up function (`BLANKSLATE_FUNCTION=directory-cleanup`): the one
//! function attached to the customer's VPC, where the domain controllers answer.
//!
//! It is handed everything in the request (`core::directory::function`) and calls no
//! AWS API but `GetSecretValue` on its bind account's secret, read at the first
//! invocation and again after the directory refuses the bind (the secret may have been
//! rotated). The settings are checked at cold start, so a bad URL or CA bundle stops the
//! function before any invocation, naming the variable.

use std::time::Duration;

use blankslate_aws::secrets;
use blankslate_core::directory::function::{Checked, Deleted, Failure, Request};
use blankslate_core::directory::{FailureKind, Outcome};
use blankslate_core::ValidationError;
use blankslate_directory::{Directory, DirectoryError, Settings};
use blankslate_handlers::ports::Directory as _;
use tokio::sync::Mutex;

use crate::{env, required, FunctionError};

/// Per connection attempt and per LDAP operation: with two or three controllers to try,
/// well inside the function's 60 s timeout.
const LDAP_TIMEOUT: Duration = Duration::from_secs(10);

/// The clean-up function's state between invocations.
pub struct CleanupShell {
    sdk: aws_config::SdkConfig,
    secret_arn: String,
    /// The settings without the bind account (it comes from the secret).
    settings: Settings,
    /// Built once the secret has been read.
    directory: Mutex<Option<Directory>>,
}

impl CleanupShell {
    /// Reads and checks the settings; reads no secret yet.
    pub fn new(sdk: &aws_config::SdkConfig, get: &impl Fn(&str) -> Option<String>) -> Result<Self, ValidationError> {
        let urls: Vec<String> = required(get, env::LDAP_URLS)?
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(str::to_owned)
            .collect();
        let allow_plain_ldap = match get(env::ALLOW_PLAIN_LDAP).as_deref().map(str::trim) {
            None | Some("" | "false") => false,
            Some("true") => true,
            Some(other) => return Err(ValidationError::new(env::ALLOW_PLAIN_LDAP, other, "expected true or false")),
        };
        let settings = Settings {
            urls,
            bind_user: String::new(),
            password: String::new(),
            base_dn: required(get, blankslate_core::config::settings::DIRECTORY_BASE_DN)?,
            ca_bundle_pem: get(env::LDAP_CA_BUNDLE).filter(|pem| !pem.trim().is_empty()).map(String::into_bytes),
            allow_plain_ldap,
            timeout: LDAP_TIMEOUT,
        };
        // The same checks the directory makes, now: a bad URL, base DN or CA bundle is a
        // cold-start failure, not a clean-up that fails forever.
        Directory::new(settings.clone()).map_err(|e| {
            let field = match &e {
                DirectoryError::Settings(m) if m.contains("CA") || m.contains("certificate") => env::LDAP_CA_BUNDLE,
                DirectoryError::Settings(m) if m.contains("base DN") => {
                    blankslate_core::config::settings::DIRECTORY_BASE_DN
                }
                _ => env::LDAP_URLS,
            };
            ValidationError::new(field, "", e.to_string())
        })?;
        let secret_arn = required(get, env::DIRECTORY_SECRET_ARN)?;
        tracing::info!(urls = ?settings.urls, base_dn = %settings.base_dn, "directory clean-up configured");
        Ok(Self { sdk: sdk.clone(), secret_arn, settings, directory: Mutex::new(None) })
    }

    /// One request: its answer as JSON. Every failure is in the answer.
    pub async fn handle(&self, event: serde_json::Value) -> Result<serde_json::Value, FunctionError> {
        let request: Request = serde_json::from_value(event)
            .map_err(|e| FunctionError::BadEvent(format!("not a directory clean-up request ({{\"delete\": {{\"items\": [...]}}}} or {{\"check\": {{\"prefix\": ...}}}}): {e}")))?;
        let mut cached = self.directory.lock().await;
        let answer = match request {
            Request::Delete { items } => {
                let outcomes = match self.directory(&mut cached).await {
                    Ok(directory) => directory.delete_computers(&items).await,
                    Err(failure) => items
                        .iter()
                        .map(|_| Outcome::Failed { kind: failure.kind, message: failure.message.clone() })
                        .collect(),
                };
                if outcomes.iter().any(|o| matches!(o, Outcome::Failed { kind: FailureKind::BadCredentials, .. })) {
                    *cached = None;
                }
                for (item, outcome) in items.iter().zip(&outcomes) {
                    tracing::info!(desk = %item.desk, computer = %item.computer_name, ?outcome, "clean-up");
                }
                serde_json::to_value(Deleted { outcomes }).map_err(|e| FunctionError::Internal(e.to_string()))?
            }
            Request::Check { prefix } => {
                let checked = match self.directory(&mut cached).await {
                    Ok(directory) => check(directory, &prefix).await,
                    Err(failure) => Checked { bound: Err(failure), may_delete: None, computers: None },
                };
                if matches!(&checked.bound, Err(f) if f.kind == FailureKind::BadCredentials) {
                    *cached = None;
                }
                serde_json::to_value(checked).map_err(|e| FunctionError::Internal(e.to_string()))?
            }
        };
        Ok(answer)
    }

    /// The directory with the secret's bind account, reading the secret if not cached.
    async fn directory<'a>(&self, cached: &'a mut Option<Directory>) -> Result<&'a Directory, Failure> {
        if cached.is_none() {
            let account = secrets::bind_account(&self.sdk, &self.secret_arn)
                .await
                .map_err(|message| Failure { kind: FailureKind::Other, message })?;
            let settings =
                Settings { bind_user: account.username, password: account.password, ..self.settings.clone() };
            *cached = Some(Directory::new(settings).map_err(|e| failure(&e))?);
        }
        Ok(cached.as_ref().expect("set above"))
    }
}

fn failure(e: &DirectoryError) -> Failure {
    Failure { kind: e.kind(), message: e.to_string() }
}

/// Bind, probe, list: each step only if the one before it worked. Deletes nothing.
async fn check(directory: &Directory, prefix: &str) -> Checked {
    let mut session = match directory.connect().await {
        Ok(session) => session,
        Err(e) => return Checked { bound: Err(failure(&e)), may_delete: None, computers: None },
    };
    let bound = Ok(session.url().to_owned());
    let may_delete = session.may_delete_computers().await.map_err(|e| failure(&e));
    let computers = session.list_computers(prefix).await.map_err(|e| failure(&e));
    session.close().await;
    Checked { bound, may_delete: Some(may_delete), computers: Some(computers) }
}
