//! AWS JSON 1.1 as WorkSpaces speaks it: the error shape, the service framework's
//! validation messages, timestamps and pagination tokens.
//!
//! A client only ever sees an error through `__type` and `message`, so each refusal here
//! uses the code the real service uses for it; the SDKs turn that code into a typed error
//! and the handlers under test branch on it.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use blankslate_core::ids::WorkspaceId;
use blankslate_core::Timestamp;
use serde_json::{json, Value};

/// The content type of every request and response.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.1";

/// A refused request: HTTP status, the error code (`__type`) and its message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ApiError {
    /// 400 for everything the caller got wrong, 500 for the emulator's own faults.
    pub status: StatusCode,
    /// The `__type`, e.g. `ResourceNotFoundException`.
    pub code: &'static str,
    /// The `message`.
    pub message: String,
    /// `ResourceId`, which ResourceNotFoundException carries in the service model.
    pub resource_id: Option<String>,
}

impl ApiError {
    fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { status: StatusCode::BAD_REQUEST, code, message: message.into(), resource_id: None }
    }

    /// An error with this code, as another AWS API names it (e.g. the tagging API's
    /// `InvalidParameterException`).
    pub fn coded(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(code, message)
    }

    /// `ValidationException` in the wording of the service framework's input validation
    /// (`1 validation error detected: Value ... at 'member' failed to satisfy constraint: ...`),
    /// which clients and people recognise.
    pub fn validation(value: impl std::fmt::Display, member: &str, constraint: &str) -> Self {
        Self::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value {value} at '{member}' failed to satisfy constraint: {constraint}"
            ),
        )
    }

    /// A required member is missing or null.
    pub fn missing(member: &str) -> Self {
        Self::validation("null", member, "Member must not be null")
    }

    /// `InvalidParameterValuesException`: the request is well-formed but the values do not
    /// go together or do not make sense.
    pub fn invalid_parameters(message: impl Into<String>) -> Self {
        Self::new("InvalidParameterValuesException", message)
    }

    /// `ResourceNotFoundException` for `resource_id`.
    pub fn not_found(resource_id: &str) -> Self {
        Self {
            resource_id: Some(resource_id.to_owned()),
            ..Self::new("ResourceNotFoundException", format!("The resource {resource_id} could not be found."))
        }
    }

    /// `ResourceLimitExceededException`.
    pub fn limit_exceeded(message: impl Into<String>) -> Self {
        Self::new("ResourceLimitExceededException", message)
    }

    /// The body is not JSON, not an object, or a member has the wrong type. The framework
    /// answers these before the service sees the request, with its namespaced code.
    pub fn serialization(message: impl Into<String>) -> Self {
        Self::new("com.amazon.coral.service#SerializationException", message)
    }

    /// `X-Amz-Target` is missing or names no WorkSpaces operation (the framework's code).
    pub fn unknown_operation(target: Option<&str>) -> Self {
        let message = match target {
            Some(target) => format!("The operation {target:?} is not known to WorkspacesService."),
            None => "The request has no X-Amz-Target header naming a WorkspacesService operation.".to_owned(),
        };
        Self::new("com.amazon.coral.service#UnknownOperationException", message)
    }

    /// A real WorkSpaces operation this emulator does not implement.
    pub fn not_supported(operation: &str) -> Self {
        Self::new(
            "OperationNotSupportedException",
            format!(
                "blankslate-emulator does not implement {operation}; see crates/emulator for the supported operations."
            ),
        )
    }

    /// `ThrottlingException`, `Rate exceeded`: the account's request rate is used up. The
    /// WorkSpaces service model declares no throttling error, so clients see it as an
    /// unmodelled error and recognise it by its code (the SDKs' retry classifiers list
    /// `ThrottlingException`); the message is what WorkSpaces answers (reports in
    /// ARCHITECTURE.md, under the emulator).
    pub fn throttled() -> Self {
        Self::new("ThrottlingException", "Rate exceeded")
    }

    /// The emulator's own fault (never the caller's).
    pub fn internal(message: impl Into<String>) -> Self {
        Self { status: StatusCode::INTERNAL_SERVER_ERROR, ..Self::new("InternalServerException", message) }
    }

    /// The JSON body: `{"__type": ..., "message": ...}` (plus `ResourceId` when known).
    pub fn body(&self) -> Value {
        let mut body = json!({ "__type": self.code, "message": self.message });
        if let (Some(id), Some(map)) = (&self.resource_id, body.as_object_mut()) {
            map.insert("ResourceId".into(), json!(id));
        }
        body
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

/// An error response: its body, and the error code also in `X-Amzn-ErrorType`, which
/// awsJson 1.1 clients read before the body's `__type` (both carry the same code).
pub fn respond_error(request_id: &str, error: &ApiError) -> Response {
    let mut response = respond(error.status, request_id, &error.body());
    if let Ok(code) = HeaderValue::from_str(error.code) {
        response.headers_mut().insert("x-amzn-errortype", code);
    }
    response
}

/// A response in the protocol's framing: status, content type, request ID, JSON body.
pub fn respond(status: StatusCode, request_id: &str, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(CONTENT_TYPE));
    if let Ok(id) = HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-requestid", id);
    }
    response
}

/// A timestamp as JSON 1.1 carries it: seconds since the epoch, as a number.
pub fn epoch_seconds(at: Timestamp) -> Value {
    json!(at.as_millis() as f64 / 1000.0)
}

/// The opaque `NextToken` that resumes a listing after `last` (hex, so callers treat it
/// as opaque rather than as an ID).
pub fn next_token(last: &WorkspaceId) -> String {
    last.as_str().bytes().map(|b| format!("{b:02x}")).collect()
}

/// Reads a `NextToken` back; anything this emulator did not issue is refused.
pub fn parse_token(token: &str) -> Result<WorkspaceId, ApiError> {
    let bad = || ApiError::invalid_parameters(format!("The next token {token:?} is not valid."));
    if token.is_empty() || token.len() % 2 != 0 || token.len() > 2048 {
        return Err(bad());
    }
    let bytes: Option<Vec<u8>> =
        (0..token.len()).step_by(2).map(|i| token.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    let text = bytes.and_then(|b| String::from_utf8(b).ok()).ok_or_else(bad)?;
    WorkspaceId::new(text).map_err(|_| bad())
}

/// `^ws-[0-9a-z]{8,63}$`, `^wsb-...$`: a prefix and 8 to 63 lowercase letters or digits.
pub fn matches_prefixed(value: &str, prefix: &str) -> bool {
    value.strip_prefix(prefix).is_some_and(|rest| {
        (8..=63).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_digit() || c.is_ascii_lowercase())
    })
}

/// `DirectoryId`: `^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)`, 10 to 65 characters.
pub fn matches_directory(value: &str) -> bool {
    let hex = value.strip_prefix("d-").is_some_and(|rest| {
        (8..=63).contains(&rest.len()) && rest.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c))
    });
    (hex || matches_prefixed(value, "wsd-")) && (10..=65).contains(&value.len())
}

/// `WorkspaceName`: `^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$`.
pub fn matches_workspace_name(value: &str) -> bool {
    let mut chars = value.chars();
    let first = chars.next().is_some_and(|c| c.is_ascii_alphanumeric() || "_()".contains(c));
    let rest: Vec<char> = chars.collect();
    first && (1..=63).contains(&rest.len()) && rest.iter().all(|&c| c.is_ascii_alphanumeric() || "_.()-".contains(c))
}

/// A list of text as the framework quotes it in validation messages: `'[a, b]'`.
pub fn quoted_list<'a>(items: impl IntoIterator<Item = &'a str>) -> String {
    format!("'[{}]'", items.into_iter().collect::<Vec<_>>().join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip_and_foreign_tokens_are_refused() {
        let id = WorkspaceId::new("ws-abc123xyz").unwrap();
        assert_eq!(parse_token(&next_token(&id)).unwrap(), id);
        for bad in ["", "zz", "abc", &"00".repeat(1025), "7773"] {
            assert_eq!(parse_token(bad).unwrap_err().code, "InvalidParameterValuesException", "{bad:?}");
        }
    }

    #[test]
    fn patterns_follow_the_service_model() {
        assert!(matches_prefixed("ws-abcd1234", "ws-"));
        assert!(!matches_prefixed("ws-abc", "ws-"));
        assert!(!matches_prefixed("ws-ABCD1234", "ws-"));
        assert!(matches_directory("d-9067083b4b"));
        assert!(matches_directory("wsd-abc123xyz"));
        assert!(!matches_directory("d-zzzzzzzzzz"));
        assert!(matches_workspace_name("lab-01"));
        assert!(!matches_workspace_name("x"));
        assert!(!matches_workspace_name("-lab"));
    }

    #[test]
    fn errors_carry_the_aws_shape() {
        let body = ApiError::not_found("ws-abcd1234").body();
        assert_eq!(body["__type"], "ResourceNotFoundException");
        assert_eq!(body["ResourceId"], "ws-abcd1234");
        let v = ApiError::validation("'[a]'", "workspaceIds", "Member must have length less than or equal to 25");
        assert!(v.message.starts_with("1 validation error detected: Value '[a]' at 'workspaceIds'"), "{v}");
        let throttled = ApiError::throttled();
        assert_eq!(throttled.status, StatusCode::BAD_REQUEST);
        assert_eq!(throttled.body(), json!({ "__type": "ThrottlingException", "message": "Rate exceeded" }));
    }
}
