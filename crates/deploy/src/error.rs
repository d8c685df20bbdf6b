//! What can go wrong, each error saying what to do about it.
//!
//! A deploy fails most often for reasons outside the code: no credentials, the wrong
//! Region, a stack left half-created by an earlier attempt. Each has its own variant
//! whose message names the fix, so the CLI can print it as is.

use std::path::PathBuf;

use crate::glibc::GlibcVersion;

/// Where the standard credential chain looks, in its order, for the no-credentials message.
pub const CREDENTIAL_CHAIN: &str = "environment variables (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, \
AWS_SESSION_TOKEN), the profile named by --profile or AWS_PROFILE (default: \"default\") in ~/.aws/config and \
~/.aws/credentials (static keys, SSO, credential_process, assume-role), web identity (AWS_WEB_IDENTITY_TOKEN_FILE), \
the ECS container role and the EC2 instance role";

/// A failure of `deploy` or `destroy`.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// The standard credential chain found nothing.
    #[error(
        "no AWS credentials: the standard credential chain looked in {CREDENTIAL_CHAIN}, and found none ({detail}). \
         Configure credentials (`aws configure`, or `aws sso login --profile NAME`) and pass --profile NAME if \
         they are not in the default profile"
    )]
    NoCredentials {
        /// What the SDK said.
        detail: String,
    },
    /// Neither `--region`, `AWS_REGION` nor the profile names a Region.
    #[error(
        "no AWS Region: pass --region REGION (the Region your WorkSpaces are in), or set AWS_REGION, or set \
         `region` in the profile"
    )]
    NoRegion,
    /// `destroy` of a stack that does not exist there.
    #[error(
        "stack {stack} not found in {region}: check --region (and --profile, for the account); \
         `aws cloudformation list-stacks --region {region}` lists the stacks there"
    )]
    StackNotFound {
        /// The stack name.
        stack: String,
        /// The Region searched.
        region: String,
    },
    /// CloudFormation wants capabilities the request did not acknowledge.
    #[error(
        "CloudFormation refused the stack for missing capabilities ({detail}): the template creates IAM roles, so \
         the change set must acknowledge the capability named there (blankslate deploy acknowledges those its \
         template needs; with your own pipeline pass `--capabilities CAPABILITY_IAM`, or the one named)"
    )]
    MissingCapabilities {
        /// CloudFormation's message.
        detail: String,
    },
    /// The stack is in a state no change set can start from.
    #[error("stack {stack} is {status}: {advice}")]
    StackNotDeployable {
        /// The stack name.
        stack: String,
        /// Its status.
        status: String,
        /// What to do.
        advice: String,
    },
    /// The stack operation ended in a failure or rollback status.
    #[error("stack {stack} ended in {status}{}", first_failure.as_ref().map(|f| format!("; first failure: {f}")).unwrap_or_default())]
    StackFailed {
        /// The stack name.
        stack: String,
        /// The terminal status.
        status: String,
        /// The first failed event, "LogicalId (Type): reason", which usually is the cause
        /// (later failures are mostly "Resource creation cancelled").
        first_failure: Option<String>,
    },
    /// CloudFormation could not build the change set.
    #[error("the change set for stack {stack} failed: {reason}")]
    ChangeSetFailed {
        /// The stack name.
        stack: String,
        /// CloudFormation's StatusReason.
        reason: String,
    },
    /// The artifacts bucket's name is taken by someone else, or we may not use it.
    #[error(
        "the artifacts bucket {bucket} exists but this account may not use it (HTTP 403): pass --bucket NAME with \
         a bucket in this Region that the account owns"
    )]
    BucketNotOwned {
        /// The bucket name.
        bucket: String,
    },
    /// The operation did not finish within the wait; it goes on in CloudFormation.
    #[error(
        "stopped waiting for stack {stack} after {minutes} minutes (last status {status}); CloudFormation goes on: \
         follow it with `aws cloudformation describe-stack-events --stack-name {stack}` or in the console"
    )]
    Timeout {
        /// The stack name.
        stack: String,
        /// How long we waited.
        minutes: u64,
        /// The last status seen.
        status: String,
    },
    /// An AWS endpoint could not be reached at all.
    #[error(
        "could not reach AWS for {operation} ({detail}): check --region (a misspelt Region has no endpoint), the \
         network, and AWS_ENDPOINT_URL if set"
    )]
    Unreachable {
        /// The API operation.
        operation: &'static str,
        /// What the SDK said.
        detail: String,
    },
    /// Any other error from an AWS call, with the service's code and message.
    #[error("{operation} failed: {detail}")]
    Aws {
        /// The API operation.
        operation: &'static str,
        /// What the SDK said.
        detail: String,
    },
    /// Building or checking the bootstrap zip failed.
    #[error(transparent)]
    Packaging(#[from] PackagingError),
    /// Writing the report failed (the reader went away).
    #[error("writing the output: {0}")]
    Output(#[from] std::io::Error),
}

/// A failure building, finding or checking the bootstrap zip.
#[derive(Debug, thiserror::Error)]
pub enum PackagingError {
    /// The bootstrap needs a newer glibc than Lambda's runtime has.
    #[error(
        "the bootstrap needs glibc {needed}, newer than the {newest} of Amazon Linux 2023 (provided.al2023): it \
         would fail to start in Lambda. Build it with `bash scripts/package` (cargo-lambda links against an older \
         glibc with zig) or pass --zip with such a build"
    )]
    GlibcTooNew {
        /// The newest version a symbol needs.
        needed: GlibcVersion,
        /// The newest the runtime has.
        newest: GlibcVersion,
    },
    /// The bootstrap is for another CPU than the stack's Architecture.
    #[error("the bootstrap is built for {found}, but the stack's architecture is {expected}: {advice}")]
    WrongArchitecture {
        /// What the ELF header says.
        found: String,
        /// The Architecture parameter.
        expected: String,
        /// Which flag fixes it.
        advice: &'static str,
    },
    /// The file is not a 64-bit little-endian ELF executable.
    #[error("the bootstrap is not a 64-bit Linux executable: {detail}")]
    NotElf {
        /// What was wrong.
        detail: String,
    },
    /// The zip has no `bootstrap` at its root (Lambda's provided runtimes run that file).
    #[error("{zip} has no `bootstrap` file at its root: {detail}")]
    NoBootstrap {
        /// The zip.
        zip: PathBuf,
        /// What the zip reader said.
        detail: String,
    },
    /// No zip was given and we are not in a blankslate checkout to build one.
    #[error(
        "no bootstrap zip: pass --zip PATH (a zip with `bootstrap` at its root, built by `bash scripts/package`), \
         or run blankslate deploy inside the blankslate checkout so it can build one"
    )]
    NoCheckout,
    /// `scripts/package` failed or could not start.
    #[error("`bash scripts/package` failed ({detail}); its output above says why")]
    ScriptFailed {
        /// Exit status or spawn error.
        detail: String,
    },
    /// Reading a file.
    #[error("could not read {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

/// How an AWS error should be reported, decided from the service's error code and the
/// SDK's message. Pure, so every mapping is tested without a network.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ErrorClass {
    /// The request needs capabilities it did not acknowledge.
    MissingCapabilities,
    /// The named stack does not exist.
    StackNotFound,
    /// No credentials could be loaded to sign the request.
    NoCredentials,
    /// The endpoint could not be reached (DNS, connect, TLS, timeout).
    Unreachable,
    /// Anything else.
    Other,
}

/// Classifies an error: `code` is the service's error code, if it answered; `message`
/// the full error text; `dispatch` whether the request never got an answer.
pub fn classify(code: Option<&str>, message: &str, dispatch: bool) -> ErrorClass {
    if code == Some("InsufficientCapabilitiesException") || message.contains("Requires capabilities") {
        ErrorClass::MissingCapabilities
    } else if message.contains("does not exist") && message.contains("Stack") {
        ErrorClass::StackNotFound
    } else if message.contains("no providers in chain provided credentials")
        || message.contains("credentials provider was not enabled")
        || code == Some("InvalidClientTokenId")
        || code == Some("ExpiredToken")
    {
        ErrorClass::NoCredentials
    } else if dispatch {
        ErrorClass::Unreachable
    } else {
        ErrorClass::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_by_what_the_user_must_do() {
        let cases = [
            (
                Some("InsufficientCapabilitiesException"),
                "Requires capabilities : [CAPABILITY_NAMED_IAM]",
                false,
                ErrorClass::MissingCapabilities,
            ),
            (Some("ValidationError"), "Stack with id blankslate does not exist", false, ErrorClass::StackNotFound),
            (
                None,
                "failed to construct request: no providers in chain provided credentials",
                false,
                ErrorClass::NoCredentials,
            ),
            (
                Some("ExpiredToken"),
                "The security token included in the request is expired",
                false,
                ErrorClass::NoCredentials,
            ),
            (None, "dispatch failure: dns error: failed to lookup address", true, ErrorClass::Unreachable),
            (Some("ValidationError"), "Parameter 'Selector' must match pattern", false, ErrorClass::Other),
        ];
        for (code, message, dispatch, expected) in cases {
            assert_eq!(classify(code, message, dispatch), expected, "{message}");
        }
    }

    #[test]
    fn messages_name_the_fix() {
        let text = DeployError::NoCredentials { detail: "none".into() }.to_string();
        assert!(text.contains("credential chain") && text.contains("--profile") && text.contains("AWS_ACCESS_KEY_ID"));
        assert!(DeployError::NoRegion.to_string().contains("--region"));
        let text = DeployError::StackNotFound { stack: "bs".into(), region: "eu-west-1".into() }.to_string();
        assert!(text.contains("bs") && text.contains("eu-west-1") && text.contains("--region"));
        let text = DeployError::MissingCapabilities { detail: "x".into() }.to_string();
        assert!(text.contains("--capabilities CAPABILITY_IAM"), "{text}");
        let text = DeployError::StackFailed {
            stack: "bs".into(),
            status: "ROLLBACK_COMPLETE".into(),
            first_failure: Some("JournalTable (AWS::DynamoDB::Table): limit exceeded".into()),
        }
        .to_string();
        assert!(text.contains("ROLLBACK_COMPLETE") && text.contains("JournalTable") && text.contains("limit exceeded"));
    }
}
