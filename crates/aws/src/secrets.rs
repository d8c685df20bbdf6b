//! The directory bind account, read from Secrets Manager ([`bind_account`]).

use aws_config::SdkConfig;
use aws_smithy_types::error::display::DisplayErrorContext;

/// The bind account's user and password, as the secret holds them:
/// `{"username": "svc-blankslate@corp.example", "password": "..."}`.
#[derive(serde::Deserialize)]
pub struct BindAccount {
    /// A DN or user principal name.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl std::fmt::Debug for BindAccount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BindAccount").field("username", &self.username).field("password", &"<hidden>").finish()
    }
}

/// Reads the secret `arn`. The error names the secret and what was wrong, never the
/// secret's text.
pub async fn bind_account(config: &SdkConfig, arn: &str) -> Result<BindAccount, String> {
    let answer = aws_sdk_secretsmanager::Client::new(config)
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| format!("GetSecretValue {arn}: {}", DisplayErrorContext(&e)))?;
    let text = answer.secret_string.ok_or_else(|| format!("secret {arn}: has no SecretString"))?;
    serde_json::from_str(&text).map_err(|e| {
        format!(
            "secret {arn}: expected JSON {{\"username\": \"...\", \"password\": \"...\"}} (line {}, column {}: {})",
            e.line(),
            e.column(),
            if e.is_data() { "a field is missing or not a string" } else { "not JSON" }
        )
    })
}
