//! Walking an event's JSON with the path at hand, so every error can say where.

use serde_json::{Map, Value};

use super::EventError;
use crate::ValidationError;

/// A JSON value together with the path that reached it, so every error can say where.
#[derive(Clone)]
pub(super) struct Node<'a> {
    pub(super) value: &'a Value,
    /// Dotted path from the event's top, e.g. `detail.responseElements`; empty at the top.
    pub(super) path: String,
}

impl<'a> Node<'a> {
    pub(super) fn root(value: &'a Value, path: &str) -> Self {
        Self { value, path: path.to_owned() }
    }

    pub(super) fn shown_path(&self) -> String {
        if self.path.is_empty() {
            "(top level)".to_owned()
        } else {
            self.path.clone()
        }
    }

    pub(super) fn wrong_type(&self, expected: &'static str) -> EventError {
        EventError::WrongType { path: self.shown_path(), expected, found: json_type(self.value) }
    }

    pub(super) fn object(&self) -> Result<&'a Map<String, Value>, EventError> {
        self.value.as_object().ok_or_else(|| self.wrong_type("object"))
    }

    /// The member `key`, or `None` when it is absent or `null` (AWS writes both for
    /// "nothing here", e.g. `responseElements` of a failed call).
    pub(super) fn get_opt(&self, key: &str) -> Result<Option<Node<'a>>, EventError> {
        let member = self.object()?.get(key).filter(|v| !v.is_null());
        Ok(member.map(|value| Node { value, path: self.child_path(key) }))
    }

    pub(super) fn get(&self, key: &str) -> Result<Node<'a>, EventError> {
        self.get_opt(key)?.ok_or_else(|| EventError::MissingField { path: self.child_path(key) })
    }

    pub(super) fn child_path(&self, key: &str) -> String {
        if self.path.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.path)
        }
    }

    /// Follows `keys` down from here.
    pub(super) fn at(&self, keys: &[&str]) -> Result<Node<'a>, EventError> {
        let mut node = self.clone();
        for key in keys {
            node = node.get(key)?;
        }
        Ok(node)
    }

    pub(super) fn str(&self) -> Result<&'a str, EventError> {
        self.value.as_str().ok_or_else(|| self.wrong_type("string"))
    }

    pub(super) fn items(&self) -> Result<Vec<Node<'a>>, EventError> {
        let items = self.value.as_array().ok_or_else(|| self.wrong_type("array"))?;
        Ok(items.iter().enumerate().map(|(i, value)| Node { value, path: format!("{}[{i}]", self.path) }).collect())
    }

    /// The string here, validated by `parse` (an ID or timestamp constructor).
    pub(super) fn parse<T>(&self, parse: fn(&str) -> Result<T, ValidationError>) -> Result<T, EventError> {
        parse(self.str()?).map_err(|source| EventError::InvalidValue { path: self.shown_path(), source })
    }
}

/// The JSON type of `value`, as an error names what it found.
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
