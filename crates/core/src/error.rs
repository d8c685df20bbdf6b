//! The one error type for values that fail validation.

use std::fmt;

/// A value that failed validation, naming the field, the offending value and the rule it broke.
///
/// Every constructor in this crate that takes untrusted input returns this instead of
/// panicking, so a bad event or a bad flag ends in a message an admin can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationError {
    /// What was being validated, e.g. `WorkspaceId` or `grace period`.
    pub field: &'static str,
    /// The rejected value, as given (truncated to keep messages readable).
    pub value: String,
    /// The rule the value broke.
    pub reason: String,
}

impl ValidationError {
    /// Builds an error; long values are cut to 80 characters.
    pub fn new(field: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> Self {
        let mut value = value.to_string();
        if value.chars().count() > 80 {
            value = value.chars().take(77).collect::<String>() + "...";
        }
        Self { field, value, reason: reason.into() }
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {} {:?}: {}", self.field, self.value, self.reason)
    }
}
