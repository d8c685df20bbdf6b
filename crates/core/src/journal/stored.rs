//! How a journal record is stored, apart from any database's types.
//!
//! The DynamoDB adapter keeps one item per desk: the partition key (`directory/user`), the
//! version that conditional writes test, and the record itself as JSON. Turning those
//! three texts back into a [`Record`] is pure, so it lives here, where the fuzzer and
//! the property tests reach it without linking the AWS SDK, and the adapter only lifts
//! the texts out of its attribute values.

use crate::ids::DeskKey;
use crate::journal::Record;

/// Why a stored journal item could not be read back. The adapter prefixes the desk, so
/// the message names what to repair.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The version attribute is not a non-negative integer.
    #[error("version {text:?}: {reason}")]
    Version {
        /// The stored text.
        text: String,
        /// Why it is not a version.
        reason: String,
    },
    /// The record's JSON does not describe a valid record.
    #[error("undecodable record: {0}")]
    Record(String),
    /// The record belongs to another desk than the key it is stored under.
    #[error("the record names desk {0}")]
    WrongDesk(DeskKey),
}

/// The partition key of `desk`. Directory IDs contain no `/`, so the first `/` separates
/// the two parts whatever the user name holds.
pub fn desk_key(desk: &DeskKey) -> String {
    format!("{}/{}", desk.directory_id, desk.user_name)
}

/// The record's JSON, as stored.
pub fn encode(record: &Record) -> Result<String, serde_json::Error> {
    serde_json::to_string(record)
}

/// The record stored under `key` at `version`. The version attribute, which the
/// conditions test, wins over the copy inside the JSON; a record stored under another
/// desk's key is refused rather than guessed at.
pub fn decode(key: &str, version: &str, json: &str) -> Result<Record, DecodeError> {
    let version =
        version.parse::<u64>().map_err(|e| DecodeError::Version { text: version.to_owned(), reason: e.to_string() })?;
    let record: Record = serde_json::from_str(json).map_err(|e| DecodeError::Record(e.to_string()))?;
    if desk_key(&record.desk) != key {
        return Err(DecodeError::WrongDesk(record.desk));
    }
    Ok(Record { version, ..record })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
    use crate::spec::WorkspaceSpec;
    use crate::Timestamp;

    fn record() -> Record {
        let spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("jane/doe").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        Record::enrol(spec, WorkspaceId::new("ws-abcdef123").unwrap(), Timestamp::from_millis(1_000))
    }

    #[test]
    fn a_record_round_trips_and_each_damage_is_named() {
        let r = record();
        let json = encode(&r).unwrap();
        assert_eq!(desk_key(&r.desk), "d-9067083b4b/jane/doe");
        assert_eq!(decode("d-9067083b4b/jane/doe", "7", &json).unwrap(), Record { version: 7, ..r });
        let cases = [
            ("d-9067083b4b/jane/doe", "-1", json.as_str(), "version \"-1\": invalid digit found in string"),
            (
                "d-9067083b4b/jane/doe",
                "1",
                "{\"desk\":",
                "undecodable record: EOF while parsing a value at line 1 column 8",
            ),
            ("d-9067083b4b/someone", "1", json.as_str(), "the record names desk d-9067083b4b/jane/doe"),
        ];
        for (key, version, json, expected) in cases {
            assert_eq!(decode(key, version, json).unwrap_err().to_string(), expected);
        }
    }
}
