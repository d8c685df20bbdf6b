//! What can go wrong when operating a deployed stack, each error saying what to do.

use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use blankslate_core::ValidationError;
use blankslate_deploy::error::{classify, ErrorClass};
use blankslate_deploy::DeployError;
use blankslate_handlers::ports::{ErrorKind, PortError};

/// A failure of an operations command (status, history, rebuild, enrol, release, doctor).
#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    /// No credentials, no Region, an unreachable endpoint while connecting: the deploy
    /// crate's errors, whose messages already say what to do.
    #[error(transparent)]
    Session(#[from] DeployError),
    /// DescribeStacks does not know the stack in this Region.
    #[error(
        "stack {stack} not found in {region}: deploy it with `blankslate deploy`, or pass --stack-name NAME and \
         --region REGION (and --profile, for the account) where it is deployed"
    )]
    StackNotFound {
        /// The stack name.
        stack: String,
        /// The Region searched.
        region: String,
    },
    /// The stack lacks an output this command needs (half-created, or an older template).
    #[error(
        "stack {stack} in {region} has no output {output} (stack status {status}): wait for a running deploy to \
         finish, or redeploy with this version's `blankslate deploy`"
    )]
    MissingOutput {
        /// The stack name.
        stack: String,
        /// Its Region.
        region: String,
        /// The missing output key.
        output: &'static str,
        /// The stack's status.
        status: String,
    },
    /// The stack's parameters do not make a valid configuration.
    #[error("stack {stack}'s parameters are not a valid blankslate configuration: {source}")]
    BadParameters {
        /// The stack name.
        stack: String,
        /// Which setting, and why.
        source: ValidationError,
    },
    /// AWS kept refusing for rate after the SDK's retries.
    #[error(
        "{operation} was throttled by AWS even after retries ({detail}): the account's API rate is in use \
         (the reconciler shares it); try again in a minute"
    )]
    Throttled {
        /// The operation.
        operation: String,
        /// What AWS said.
        detail: String,
    },
    /// The endpoint could not be reached.
    #[error(
        "could not reach AWS for {operation} ({detail}): check --region (a misspelt Region has no endpoint), \
         the network, and AWS_ENDPOINT_URL if set"
    )]
    Unreachable {
        /// The operation.
        operation: String,
        /// What the SDK said.
        detail: String,
    },
    /// Any other AWS error, with the service's code and message.
    #[error("{operation} failed: {detail}")]
    Aws {
        /// The operation.
        operation: String,
        /// What AWS said.
        detail: String,
    },
    /// A bad argument that clap could not catch (e.g. a malformed WorkSpace ID in a list).
    #[error("{0}")]
    Usage(String),
}

impl From<PortError> for OpsError {
    fn from(e: PortError) -> Self {
        let operation = e.operation.to_owned();
        match e.kind {
            ErrorKind::Throttled => Self::Throttled { operation, detail: e.message },
            ErrorKind::Unavailable if e.message.starts_with("not delivered") || e.message.starts_with("timed out") => {
                Self::Unreachable { operation, detail: e.message }
            }
            _ => Self::Aws { operation, detail: e.message },
        }
    }
}

impl From<ValidationError> for OpsError {
    fn from(e: ValidationError) -> Self {
        Self::Usage(e.to_string())
    }
}

/// Translates an SDK error of a call made here (CloudFormation, Lambda) into what to do.
pub(crate) fn sdk_error<E, R>(operation: &str, err: aws_smithy_runtime_api::client::result::SdkError<E, R>) -> OpsError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    use aws_smithy_runtime_api::client::result::SdkError;
    let dispatch = matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    let detail = DisplayErrorContext(&err).to_string();
    let operation = operation.to_owned();
    let throttled = err.code().is_some_and(|c| c.contains("Throttl") || c == "TooManyRequestsException");
    if throttled {
        return OpsError::Throttled { operation, detail };
    }
    match classify(err.code(), &detail, dispatch) {
        ErrorClass::NoCredentials => OpsError::Session(DeployError::NoCredentials { detail }),
        ErrorClass::Unreachable => OpsError::Unreachable { operation, detail },
        _ => OpsError::Aws { operation, detail },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_say_what_to_do() {
        let text = OpsError::StackNotFound { stack: "bs".into(), region: "eu-west-1".into() }.to_string();
        assert!(text.contains("bs") && text.contains("eu-west-1") && text.contains("blankslate deploy"), "{text}");
        assert!(text.contains("--stack-name") && text.contains("--region"), "{text}");
        let e: OpsError = PortError::new(ErrorKind::Throttled, "DescribeWorkspaces", "Rate exceeded").into();
        assert!(matches!(e, OpsError::Throttled { .. }) && e.to_string().contains("try again"), "{e}");
        let e: OpsError = PortError::new(ErrorKind::Unavailable, "Scan", "not delivered: connection refused").into();
        assert!(e.to_string().contains("--region"), "{e}");
    }
}
