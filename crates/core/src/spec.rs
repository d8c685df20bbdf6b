//! Everything needed to re-create a WorkSpace faithfully (invariant S3).
//!
//! Each field is a validated type and the cross-field rules of `CreateWorkspaces` are
//! encoded in the types themselves (an encryption flag cannot exist without a key, an
//! auto-stop timeout cannot exist without auto-stop), so a spec that exists is one AWS
//! will accept back.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{BundleId, DeskKey, DirectoryId, UserName};
use crate::validated::validated_string;
use crate::ValidationError;

/// The full request that re-creates a WorkSpace: a `WorkspaceRequest` of `CreateWorkspaces`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct WorkspaceSpec {
    /// The directory the WorkSpace is registered in.
    pub directory_id: DirectoryId,
    /// The user it belongs to.
    pub user_name: UserName,
    /// The bundle (image and hardware) it is created from.
    pub bundle_id: BundleId,
    /// Volume encryption: the KMS key and which volumes use it.
    pub encryption: VolumeEncryption,
    /// Running mode, compute type, volume sizes, protocols, operating system.
    pub properties: WorkspaceProperties,
    /// The WorkSpace's tags, opt-in tag included.
    pub tags: Tags,
    /// The WorkSpace name (only for user-decoupled WorkSpaces).
    pub workspace_name: Option<WorkspaceName>,
}

impl WorkspaceSpec {
    /// A spec with default properties, no encryption, no tags.
    pub fn new(directory_id: DirectoryId, user_name: UserName, bundle_id: BundleId) -> Self {
        Self {
            directory_id,
            user_name,
            bundle_id,
            encryption: VolumeEncryption::None,
            properties: WorkspaceProperties::default(),
            tags: Tags::default(),
            workspace_name: None,
        }
    }

    /// The desk (directory + user) this spec creates a WorkSpace for.
    pub fn desk(&self) -> DeskKey {
        DeskKey { directory_id: self.directory_id.clone(), user_name: self.user_name.clone() }
    }
}

/// How the volumes are encrypted. `CreateWorkspaces` requires a key whenever a volume is
/// encrypted, so the flags live inside the variant that has the key.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum VolumeEncryption {
    /// Neither volume is encrypted.
    #[default]
    None,
    /// Volumes encrypted with a customer KMS key.
    Kms {
        /// `VolumeEncryptionKey`: the KMS key ARN, ID or alias.
        key: KmsKey,
        /// `RootVolumeEncryptionEnabled`.
        root: bool,
        /// `UserVolumeEncryptionEnabled`.
        user: bool,
    },
}

impl VolumeEncryption {
    /// Builds the variant from the three request fields, rejecting a flag without a key.
    pub fn from_request_fields(key: Option<&str>, root: bool, user: bool) -> Result<Self, ValidationError> {
        match key {
            Some(key) if !key.is_empty() => Ok(Self::Kms { key: KmsKey::new(key)?, root, user }),
            _ if root || user => Err(ValidationError::new(
                "VolumeEncryptionKey",
                "",
                "is required when RootVolumeEncryptionEnabled or UserVolumeEncryptionEnabled is true",
            )),
            _ => Ok(Self::None),
        }
    }
}

fn length(value: &str, min: usize, max: usize) -> Result<(), String> {
    let len = value.chars().count();
    if (min..=max).contains(&len) {
        Ok(())
    } else {
        Err(format!("needs {min} to {max} characters, found {len}"))
    }
}

fn no_control(value: &str) -> Result<(), String> {
    if value.chars().any(char::is_control) {
        Err("may not contain control characters".into())
    } else {
        Ok(())
    }
}

/// Upper-case enum-like names that AWS extends over time (compute types, OS names): kept
/// as text so a new value AWS returns is carried through a rebuild unchanged.
fn aws_enum_name(value: &str) -> Result<(), String> {
    length(value, 1, 64)?;
    if value.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
        Ok(())
    } else {
        Err("may only contain A-Z, 0-9 and _".into())
    }
}

validated_string!(
    /// A KMS key ARN, key ID or alias used for volume encryption.
    KmsKey,
    "VolumeEncryptionKey",
    |v| {
        length(v, 1, 2048)?;
        if v.chars().any(char::is_whitespace) {
            return Err("may not contain whitespace".into());
        }
        Ok(())
    }
);

validated_string!(
    /// `ComputeTypeName`, e.g. `STANDARD` or `GENERALPURPOSE_4XLARGE`.
    ComputeType,
    "ComputeTypeName",
    aws_enum_name
);

validated_string!(
    /// `OperatingSystemName`, e.g. `WINDOWS_SERVER_2022`.
    OperatingSystemName,
    "OperatingSystemName",
    aws_enum_name
);

validated_string!(
    /// `WorkspaceName` of a user-decoupled WorkSpace.
    WorkspaceName,
    "WorkspaceName",
    |v| {
        length(v, 1, 64)?;
        no_control(v)
    }
);

validated_string!(
    /// A tag key: 1 to 127 characters, not starting with the reserved `aws:` prefix.
    TagKey,
    "tag key",
    |v| {
        length(v, 1, 127)?;
        no_control(v)?;
        if v.to_ascii_lowercase().starts_with("aws:") {
            return Err("the aws: prefix is reserved by AWS".into());
        }
        Ok(())
    }
);

validated_string!(
    /// A tag value: at most 255 characters.
    TagValue,
    "tag value",
    |v| {
        length(v, 0, 255)?;
        no_control(v)
    }
);

/// A WorkSpace's tags: at most 50, keys unique.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(try_from = "BTreeMap<TagKey, TagValue>", into = "BTreeMap<TagKey, TagValue>")]
pub struct Tags(BTreeMap<TagKey, TagValue>);

impl Tags {
    /// The most tags AWS allows on one resource.
    pub const MAX: usize = 50;

    /// Builds a tag set from pairs of text, validating each key and value.
    pub fn from_pairs<K: Into<String>, V: Into<String>>(
        pairs: impl IntoIterator<Item = (K, V)>,
    ) -> Result<Self, ValidationError> {
        let mut map = BTreeMap::new();
        for (k, v) in pairs {
            map.insert(TagKey::new(k)?, TagValue::new(v)?);
        }
        Self::try_from(map)
    }

    /// The value of `key`, if the tag is present.
    pub fn get(&self, key: &TagKey) -> Option<&TagValue> {
        self.0.get(key)
    }

    /// The tags in key order.
    pub fn iter(&self) -> impl Iterator<Item = (&TagKey, &TagValue)> {
        self.0.iter()
    }

    /// Number of tags.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no tags.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl TryFrom<BTreeMap<TagKey, TagValue>> for Tags {
    type Error = ValidationError;
    fn try_from(map: BTreeMap<TagKey, TagValue>) -> Result<Self, ValidationError> {
        if map.len() > Self::MAX {
            return Err(ValidationError::new("tags", map.len(), format!("at most {} tags are allowed", Self::MAX)));
        }
        Ok(Self(map))
    }
}

impl From<Tags> for BTreeMap<TagKey, TagValue> {
    fn from(tags: Tags) -> Self {
        tags.0
    }
}

/// `RunningMode`, with the auto-stop timeout where it belongs.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RunningMode {
    /// Stops after a period without a connection; billed hourly.
    AutoStop {
        /// `RunningModeAutoStopTimeoutInMinutes`, if set.
        timeout: Option<AutoStopTimeout>,
    },
    /// Always running; billed monthly.
    AlwaysOn,
    /// Started and stopped by the admin.
    Manual,
}

impl RunningMode {
    /// Builds the mode from the API's two fields. A timeout given with a mode other than
    /// `AUTO_STOP` is dropped: AWS ignores it there.
    pub fn from_api(mode: &str, timeout_minutes: Option<i64>) -> Result<Self, ValidationError> {
        match mode {
            "AUTO_STOP" => Ok(Self::AutoStop { timeout: timeout_minutes.map(AutoStopTimeout::new).transpose()? }),
            "ALWAYS_ON" => Ok(Self::AlwaysOn),
            "MANUAL" => Ok(Self::Manual),
            other => Err(ValidationError::new("RunningMode", other, "expected AUTO_STOP, ALWAYS_ON or MANUAL")),
        }
    }

    /// The API's `RunningMode` value.
    pub fn as_api_str(&self) -> &'static str {
        match self {
            Self::AutoStop { .. } => "AUTO_STOP",
            Self::AlwaysOn => "ALWAYS_ON",
            Self::Manual => "MANUAL",
        }
    }
}

/// `RunningModeAutoStopTimeoutInMinutes`: a positive multiple of 60.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct AutoStopTimeout(u32);

impl AutoStopTimeout {
    /// Validates a timeout in minutes.
    pub fn new(minutes: i64) -> Result<Self, ValidationError> {
        if minutes <= 0 || minutes % 60 != 0 || minutes > 36_000 {
            return Err(ValidationError::new(
                "RunningModeAutoStopTimeoutInMinutes",
                minutes,
                "must be a positive multiple of 60 (at most 36000)",
            ));
        }
        Ok(Self(minutes as u32))
    }

    /// The timeout in minutes.
    pub fn minutes(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for AutoStopTimeout {
    type Error = ValidationError;
    fn try_from(m: i64) -> Result<Self, ValidationError> {
        Self::new(m)
    }
}

impl From<AutoStopTimeout> for i64 {
    fn from(t: AutoStopTimeout) -> i64 {
        i64::from(t.0)
    }
}

/// A streaming protocol.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    /// PC-over-IP.
    Pcoip,
    /// WorkSpaces Streaming Protocol (DCV).
    Wsp,
}

impl Protocol {
    /// Parses the API's value.
    pub fn from_api(value: &str) -> Result<Self, ValidationError> {
        match value {
            "PCOIP" => Ok(Self::Pcoip),
            "WSP" => Ok(Self::Wsp),
            other => Err(ValidationError::new("Protocols", other, "expected PCOIP or WSP")),
        }
    }

    /// The API's value.
    pub fn as_api_str(self) -> &'static str {
        match self {
            Self::Pcoip => "PCOIP",
            Self::Wsp => "WSP",
        }
    }
}

/// `WorkspaceProperties`. A field AWS did not report stays `None` and is left out of the
/// re-create request, so the bundle's default applies as it did for the original.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct WorkspaceProperties {
    /// `RunningMode` and its auto-stop timeout.
    pub running_mode: Option<RunningMode>,
    /// `RootVolumeSizeGib`.
    pub root_volume_size_gib: Option<u32>,
    /// `UserVolumeSizeGib`.
    pub user_volume_size_gib: Option<u32>,
    /// `ComputeTypeName`.
    pub compute_type: Option<ComputeType>,
    /// `Protocols`.
    pub protocols: Vec<Protocol>,
    /// `OperatingSystemName`.
    pub operating_system_name: Option<OperatingSystemName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encryption_needs_a_key() {
        let err = VolumeEncryption::from_request_fields(None, true, false).unwrap_err();
        assert!(err.to_string().contains("VolumeEncryptionKey"), "{err}");
        assert_eq!(VolumeEncryption::from_request_fields(None, false, false).unwrap(), VolumeEncryption::None);
        let kms = VolumeEncryption::from_request_fields(Some("alias/ws"), true, true).unwrap();
        assert!(matches!(kms, VolumeEncryption::Kms { root: true, user: true, .. }));
    }

    #[test]
    fn running_mode_rules() {
        assert!(RunningMode::from_api("AUTO_STOP", Some(90)).is_err());
        assert!(RunningMode::from_api("AUTO_STOP", Some(0)).is_err());
        assert_eq!(
            RunningMode::from_api("AUTO_STOP", Some(120)).unwrap(),
            RunningMode::AutoStop { timeout: Some(AutoStopTimeout::new(120).unwrap()) }
        );
        assert_eq!(RunningMode::from_api("ALWAYS_ON", Some(60)).unwrap(), RunningMode::AlwaysOn);
        assert!(RunningMode::from_api("SOMETIMES", None).unwrap_err().to_string().contains("SOMETIMES"));
    }

    #[test]
    fn tags_enforce_aws_limits() {
        assert!(Tags::from_pairs([("aws:cloudformation", "x")]).is_err());
        assert!(Tags::from_pairs([("k".repeat(128), "v")]).is_err());
        assert!(Tags::from_pairs([("k", "v".repeat(256))]).is_err());
        assert!(Tags::from_pairs((0..51).map(|i| (format!("k{i}"), "v"))).is_err());
        let tags = Tags::from_pairs([("blankslate", "managed"), ("cost-centre", "")]).unwrap();
        assert_eq!(tags.len(), 2);
    }

    #[test]
    fn a_spec_round_trips_through_json_and_rejects_tampering() {
        let mut spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("tester2").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        spec.encryption = VolumeEncryption::from_request_fields(Some("alias/ws"), true, true).unwrap();
        spec.properties.running_mode = Some(RunningMode::from_api("AUTO_STOP", Some(60)).unwrap());
        spec.properties.protocols = vec![Protocol::Wsp];
        spec.tags = Tags::from_pairs([("blankslate", "managed")]).unwrap();
        let json = serde_json::to_string(&spec).unwrap();
        assert_eq!(serde_json::from_str::<WorkspaceSpec>(&json).unwrap(), spec);
        let tampered = json.replace("\"timeout\":60", "\"timeout\":61");
        assert!(serde_json::from_str::<WorkspaceSpec>(&tampered).is_err());
    }
}
