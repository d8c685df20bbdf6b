//! SDK failures mapped to [`PortError`]: the one place that decides what a failure means.
//!
//! The kind matters more than the message: `Throttled`, `Rejected` and `Conflict` mean
//! the call certainly had no effect, `Unavailable` means it may have. The reconciler
//! treats an `Unavailable` create as "maybe created" and looks the desk up before trying
//! again (invariant S4), so a failure is only ever classed as certain-no-effect when AWS
//! itself answered with an error.

use std::error::Error;

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_runtime_api::http::Response as HttpResponse;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use aws_smithy_types::error::operation::BuildError;
use blankslate_handlers::ports::{ErrorKind, PortError};

/// Error codes that mean "rate exceeded": the request was refused before doing anything.
/// The SDK's own throttling list plus SNS's `Throttled`. CloudWatch's `LimitExceeded`
/// (the alarm quota) is deliberately absent: waiting does not cure a quota.
const THROTTLING_CODES: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "Throttled",
    "RequestThrottledException",
    "RequestThrottled",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "SlowDown",
    "PriorRequestNotComplete",
    "TransactionInProgressException",
    "EC2ThrottledException",
];

/// Codes a service sends when it could not answer in time; the request may have run.
const TRANSIENT_CODES: &[&str] =
    &["RequestTimeout", "RequestTimeoutException", "InternalFailure", "InternalServerError", "ServiceUnavailable"];

/// A lost optimistic-concurrency race on a conditional write.
const CONFLICT_CODES: &[&str] = &["ConditionalCheckFailedException"];

/// What an error answer from a service means, from its code and HTTP status.
pub(crate) fn classify(code: Option<&str>, status: Option<u16>) -> ErrorKind {
    if let Some(code) = code {
        if CONFLICT_CODES.contains(&code) {
            return ErrorKind::Conflict;
        }
        if THROTTLING_CODES.contains(&code) {
            return ErrorKind::Throttled;
        }
        if TRANSIENT_CODES.contains(&code) {
            return ErrorKind::Unavailable;
        }
    }
    match status {
        Some(429) => ErrorKind::Throttled,
        Some(s) if s >= 500 => ErrorKind::Unavailable,
        // A 4xx with a code we do not single out: the request was refused as invalid.
        Some(_) => ErrorKind::Rejected,
        // An error answer without a status cannot happen over HTTP; if it does, the
        // effect is unknown.
        None => ErrorKind::Unavailable,
    }
}

/// Maps any SDK failure of `operation` to a [`PortError`], keeping AWS's code and message.
pub(crate) fn port_error<E>(operation: &'static str, err: SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + Error + Send + Sync + 'static,
{
    match &err {
        SdkError::ServiceError(service) => {
            let status = service.raw().status().as_u16();
            let e = service.err();
            let kind = classify(e.code(), Some(status));
            let message = match (e.code(), e.message()) {
                (Some(code), Some(message)) => format!("{code}: {message} (HTTP {status})"),
                (Some(code), None) => format!("{code} (HTTP {status})"),
                _ => format!("{} (HTTP {status})", DisplayErrorContext(&err)),
            };
            PortError::new(kind, operation, message)
        }
        // Never sent: the request could not be built from what we gave the SDK.
        SdkError::ConstructionFailure(_) => {
            PortError::new(ErrorKind::Rejected, operation, format!("request not sent: {}", DisplayErrorContext(&err)))
        }
        SdkError::TimeoutError(_) => {
            PortError::new(ErrorKind::Unavailable, operation, format!("timed out: {}", DisplayErrorContext(&err)))
        }
        SdkError::DispatchFailure(_) => {
            PortError::new(ErrorKind::Unavailable, operation, format!("not delivered: {}", DisplayErrorContext(&err)))
        }
        SdkError::ResponseError(response) => {
            let status = response.raw().status().as_u16();
            PortError::new(
                ErrorKind::Unavailable,
                operation,
                format!("unreadable response (HTTP {status}): {}", DisplayErrorContext(&err)),
            )
        }
        // `SdkError` is non-exhaustive: a variant added later is of unknown effect.
        _ => PortError::new(ErrorKind::Unavailable, operation, DisplayErrorContext(&err).to_string()),
    }
}

/// A request we could not assemble (an SDK builder refused it): nothing was sent.
pub(crate) fn build_error(operation: &'static str, err: BuildError) -> PortError {
    PortError::new(ErrorKind::Rejected, operation, format!("request not sent: {err}"))
}

/// Our own refusal before calling, e.g. a batch over AWS's limit.
pub(crate) fn rejected(operation: &'static str, message: impl Into<String>) -> PortError {
    PortError::new(ErrorKind::Rejected, operation, message)
}

/// Refuses a batch larger than AWS accepts, before any call is made.
pub(crate) fn check_batch(operation: &'static str, len: usize, max: usize) -> Result<(), PortError> {
    if len > max {
        Err(rejected(operation, format!("{len} items given; {operation} takes at most {max} per call")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_the_kind_the_caller_needs() {
        let cases: &[(Option<&str>, Option<u16>, ErrorKind)] = &[
            (Some("ThrottlingException"), Some(400), ErrorKind::Throttled),
            (Some("Throttling"), Some(400), ErrorKind::Throttled),
            (Some("RequestLimitExceeded"), Some(400), ErrorKind::Throttled),
            (Some("TooManyRequestsException"), Some(400), ErrorKind::Throttled),
            (Some("ProvisionedThroughputExceededException"), Some(400), ErrorKind::Throttled),
            (Some("LimitExceededException"), Some(400), ErrorKind::Throttled),
            (Some("Throttled"), Some(400), ErrorKind::Throttled),
            (Some("LimitExceeded"), Some(400), ErrorKind::Rejected),
            (Some("ConditionalCheckFailedException"), Some(400), ErrorKind::Conflict),
            (Some("InternalServerError"), Some(500), ErrorKind::Unavailable),
            (Some("ServiceUnavailable"), Some(503), ErrorKind::Unavailable),
            (Some("SomethingNew"), Some(502), ErrorKind::Unavailable),
            (Some("ResourceNotFoundException"), Some(400), ErrorKind::Rejected),
            (Some("InvalidParameterValuesException"), Some(400), ErrorKind::Rejected),
            (None, Some(429), ErrorKind::Throttled),
            (None, Some(403), ErrorKind::Rejected),
            (None, None, ErrorKind::Unavailable),
        ];
        for &(code, status, kind) in cases {
            assert_eq!(classify(code, status), kind, "{code:?} {status:?}");
        }
    }

    #[test]
    fn oversized_batches_are_refused_with_the_limit_named() {
        assert!(check_batch("TerminateWorkspaces", 25, 25).is_ok());
        let err = check_batch("TerminateWorkspaces", 26, 25).unwrap_err();
        assert_eq!(err.kind, ErrorKind::Rejected);
        assert!(err.message.contains("26") && err.message.contains("25"), "{err}");
    }
}
