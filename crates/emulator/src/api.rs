//! The WorkSpaces operations blankslate's adapters call, answered from the model.
//!
//! Each operation first checks its input the way the service framework does (required
//! members, list lengths, patterns, enums: `ValidationException` for the whole call),
//! then the way the service does (which filters go together: `InvalidParameterValuesException`;
//! per-item problems of a batch: `FailedRequests`), and only then asks the model. Response
//! members, enum spellings and timestamps (epoch seconds) follow the botocore service
//! model `workspaces/2015-04-08`.

use std::collections::BTreeSet;

use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::observe::{ConnectionObservation, WorkspaceState};
use blankslate_core::spec::{
    ComputeType, OperatingSystemName, Protocol, RunningMode, TagKey, Tags, VolumeEncryption, WorkspaceName,
    WorkspaceProperties, WorkspaceSpec,
};
use blankslate_sim::TagError;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::protocol::{
    epoch_seconds, matches_directory, matches_prefixed, matches_workspace_name, next_token, parse_token, quoted_list,
    ApiError,
};
use crate::state::Shared;

/// Items per call of every batch operation, and the largest page.
const BATCH: usize = 25;

/// Every operation of the WorkSpaces service model (2015-04-08), so that a real operation
/// this emulator lacks is told apart from a name WorkSpaces does not have.
#[rustfmt::skip]
const OPERATIONS: &[&str] = &[
    "AcceptAccountLinkInvitation", "AssociateConnectionAlias", "AssociateIpGroups", "AssociateWorkspaceApplication",
    "AuthorizeIpRules", "CopyWorkspaceImage", "CreateAccountLinkInvitation", "CreateConnectClientAddIn",
    "CreateConnectionAlias", "CreateIpGroup", "CreateStandbyWorkspaces", "CreateTags", "CreateUpdatedWorkspaceImage",
    "CreateWorkspaceBundle", "CreateWorkspaceImage", "CreateWorkspaces", "CreateWorkspacesPool",
    "DeleteAccountLinkInvitation", "DeleteClientBranding", "DeleteConnectClientAddIn", "DeleteConnectionAlias",
    "DeleteIpGroup", "DeleteTags", "DeleteWorkspaceBundle", "DeleteWorkspaceImage", "DeployWorkspaceApplications",
    "DeregisterWorkspaceDirectory", "DescribeAccount", "DescribeAccountModifications",
    "DescribeApplicationAssociations", "DescribeApplications", "DescribeBundleAssociations", "DescribeClientBranding",
    "DescribeClientProperties", "DescribeConnectClientAddIns", "DescribeConnectionAliasPermissions",
    "DescribeConnectionAliases", "DescribeCustomWorkspaceImageImport", "DescribeImageAssociations",
    "DescribeIpGroups", "DescribeTags", "DescribeWorkspaceAssociations", "DescribeWorkspaceBundles",
    "DescribeWorkspaceDirectories", "DescribeWorkspaceImagePermissions", "DescribeWorkspaceImages",
    "DescribeWorkspaceSnapshots", "DescribeWorkspaces", "DescribeWorkspacesConnectionStatus",
    "DescribeWorkspacesPoolSessions", "DescribeWorkspacesPools", "DisassociateConnectionAlias",
    "DisassociateIpGroups", "DisassociateWorkspaceApplication", "GetAccountLink", "ImportClientBranding",
    "ImportCustomWorkspaceImage", "ImportWorkspaceImage", "ListAccountLinks", "ListAvailableManagementCidrRanges",
    "MigrateWorkspace", "ModifyAccount", "ModifyCertificateBasedAuthProperties", "ModifyClientProperties",
    "ModifyEndpointEncryptionMode", "ModifySamlProperties", "ModifySelfservicePermissions",
    "ModifyStreamingProperties", "ModifyWorkspaceAccessProperties", "ModifyWorkspaceCreationProperties",
    "ModifyWorkspaceProperties", "ModifyWorkspaceState", "RebootWorkspaces", "RebuildWorkspaces",
    "RegisterWorkspaceDirectory", "RejectAccountLinkInvitation", "RestoreWorkspace", "RevokeIpRules",
    "StartWorkspaces", "StartWorkspacesPool", "StopWorkspaces", "StopWorkspacesPool", "TerminateWorkspaces",
    "TerminateWorkspacesPool", "TerminateWorkspacesPoolSession", "UpdateConnectClientAddIn",
    "UpdateConnectionAliasPermission", "UpdateRulesOfIpGroup", "UpdateWorkspaceBundle",
    "UpdateWorkspaceImagePermission", "UpdateWorkspacesPool",
];

/// Answers one request: `target` is the `X-Amz-Target` header, `body` the raw body.
pub(crate) fn call(shared: &Shared, target: Option<&str>, body: &[u8]) -> Result<Value, ApiError> {
    if let Some(operation) = target.and_then(|t| t.strip_prefix(crate::tagging::TARGET_PREFIX)) {
        // Another API on the same endpoint, with its own rate limit (not the WorkSpaces one).
        return crate::tagging::call(shared, operation, parse_body(body)?);
    }
    let named = target.and_then(|t| t.strip_prefix("WorkspacesService."));
    let operation: &'static str =
        OPERATIONS.iter().copied().find(|&op| Some(op) == named).ok_or_else(|| ApiError::unknown_operation(target))?;
    // The limit comes first: a throttled call is refused whatever its input.
    if !shared.admit(operation) {
        return Err(ApiError::throttled());
    }
    let input = parse_body(body)?;
    match operation {
        "DescribeWorkspaces" => describe_workspaces(shared, decode(input)?),
        "DescribeWorkspacesConnectionStatus" => connection_status(shared, decode(input)?),
        "DescribeTags" => describe_tags(shared, decode(input)?),
        "CreateTags" => create_tags(shared, decode(input)?),
        "DeleteTags" => delete_tags(shared, decode(input)?),
        "TerminateWorkspaces" => terminate(shared, decode(input)?),
        "CreateWorkspaces" => create(shared, decode(input)?),
        other => Err(ApiError::not_supported(other)),
    }
}

/// The body as a JSON object; an empty body is an empty input, as the SDKs send it.
fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::serialization(format!("The body is not valid JSON: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::serialization("The body must be a JSON object."));
    }
    Ok(value)
}

/// The input as the operation's shape; a member of the wrong type is the framework's
/// SerializationException, naming where.
fn decode<T: DeserializeOwned>(input: Value) -> Result<T, ApiError> {
    serde_json::from_value(input).map_err(|e| ApiError::serialization(format!("Cannot read the input: {e}")))
}

// ----- framework-level checks -----

fn length(value: &str, member: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let len = value.chars().count();
    if len < min {
        return Err(ApiError::validation(
            format!("'{value}'"),
            member,
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if len > max {
        return Err(ApiError::validation(
            format!("'{value}'"),
            member,
            &format!("Member must have length less than or equal to {max}"),
        ));
    }
    Ok(())
}

fn list_length(len: usize, shown: impl FnOnce() -> String, member: &str) -> Result<(), ApiError> {
    if len < 1 {
        return Err(ApiError::validation(shown(), member, "Member must have length greater than or equal to 1"));
    }
    if len > BATCH {
        return Err(ApiError::validation(
            shown(),
            member,
            &format!("Member must have length less than or equal to {BATCH}"),
        ));
    }
    Ok(())
}

fn pattern(ok: bool, value: &str, member: &str, regex: &str) -> Result<(), ApiError> {
    if ok {
        return Ok(());
    }
    Err(ApiError::validation(
        format!("'{value}'"),
        member,
        &format!("Member must satisfy regular expression pattern: {regex}"),
    ))
}

const WORKSPACE_ID: &str = "^ws-[0-9a-z]{8,63}$";
const BUNDLE_ID: &str = "^wsb-[0-9a-z]{8,63}$";
const DIRECTORY_ID: &str = "^(d-[0-9a-f]{8,63}$)|(wsd-[0-9a-z]{8,63}$)";
const WORKSPACE_NAME: &str = "^[a-zA-Z0-9_()][a-zA-Z0-9_.()-]{1,63}$";

fn workspace_id(value: &str, member: &str) -> Result<WorkspaceId, ApiError> {
    pattern(matches_prefixed(value, "ws-"), value, member, WORKSPACE_ID)?;
    WorkspaceId::new(value).map_err(|e| ApiError::validation(format!("'{value}'"), member, &e.reason))
}

/// `WorkspaceIds`: 1 to 25 IDs of the right shape.
fn workspace_ids(ids: &[String], member: &str) -> Result<Vec<WorkspaceId>, ApiError> {
    list_length(ids.len(), || quoted_list(ids.iter().map(String::as_str)), member)?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if !matches_prefixed(id, "ws-") {
            return Err(ApiError::validation(
                quoted_list(ids.iter().map(String::as_str)),
                member,
                &format!(
                    "Member must satisfy constraint: [Member must satisfy regular expression pattern: {WORKSPACE_ID}]"
                ),
            ));
        }
        out.push(workspace_id(id, member)?);
    }
    Ok(out)
}

fn enum_value(value: &str, member: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&value) {
        return Ok(());
    }
    Err(ApiError::validation(
        format!("'{value}'"),
        member,
        &format!("Member must satisfy enum value set: [{}]", allowed.join(", ")),
    ))
}

// ----- response shapes -----

/// A `Workspace` as DescribeWorkspaces and CreateWorkspaces' PendingRequests show it:
/// no tags (DescribeTags reads those), encryption flags always present, properties only
/// as far as they were given, so a re-create from this description asks for exactly
/// what the original asked for.
fn workspace_json(id: &WorkspaceId, state: WorkspaceState, spec: &WorkspaceSpec) -> Value {
    let mut w = Map::new();
    w.insert("WorkspaceId".into(), json!(id.as_str()));
    w.insert("DirectoryId".into(), json!(spec.directory_id.as_str()));
    w.insert("UserName".into(), json!(spec.user_name.as_str()));
    w.insert("State".into(), json!(state.as_api_str()));
    w.insert("BundleId".into(), json!(spec.bundle_id.as_str()));
    // The name it joined the directory with; WorkSpaces shows it once the WorkSpace is
    // past PENDING (the domain join happens while it is created).
    if state != WorkspaceState::Pending {
        if let Some(name) = blankslate_sim::directory::computer_name_of(id) {
            w.insert("ComputerName".into(), json!(name.as_str()));
        }
    }
    let (root, user) = match &spec.encryption {
        VolumeEncryption::None => (false, false),
        VolumeEncryption::Kms { key, root, user } => {
            w.insert("VolumeEncryptionKey".into(), json!(key.as_str()));
            (*root, *user)
        }
    };
    w.insert("UserVolumeEncryptionEnabled".into(), json!(user));
    w.insert("RootVolumeEncryptionEnabled".into(), json!(root));
    if let Some(name) = &spec.workspace_name {
        w.insert("WorkspaceName".into(), json!(name.as_str()));
    }
    w.insert("WorkspaceProperties".into(), properties_json(&spec.properties));
    w.insert("ModificationStates".into(), json!([]));
    Value::Object(w)
}

fn properties_json(p: &WorkspaceProperties) -> Value {
    let mut out = Map::new();
    if let Some(mode) = &p.running_mode {
        out.insert("RunningMode".into(), json!(mode.as_api_str()));
        if let RunningMode::AutoStop { timeout: Some(timeout) } = mode {
            out.insert("RunningModeAutoStopTimeoutInMinutes".into(), json!(timeout.minutes()));
        }
    }
    if let Some(size) = p.root_volume_size_gib {
        out.insert("RootVolumeSizeGib".into(), json!(size));
    }
    if let Some(size) = p.user_volume_size_gib {
        out.insert("UserVolumeSizeGib".into(), json!(size));
    }
    if let Some(compute) = &p.compute_type {
        out.insert("ComputeTypeName".into(), json!(compute.as_str()));
    }
    if !p.protocols.is_empty() {
        let protocols: Vec<&str> = p.protocols.iter().map(|p| p.as_api_str()).collect();
        out.insert("Protocols".into(), json!(protocols));
    }
    if let Some(os) = &p.operating_system_name {
        out.insert("OperatingSystemName".into(), json!(os.as_str()));
    }
    Value::Object(out)
}

fn connection_json(c: &ConnectionObservation) -> Value {
    let mut out = Map::new();
    out.insert("WorkspaceId".into(), json!(c.id.as_str()));
    out.insert("ConnectionState".into(), json!(c.state.as_api_str()));
    if let Some(at) = c.checked_at {
        out.insert("ConnectionStateCheckTimestamp".into(), epoch_seconds(at));
    }
    if let Some(at) = c.last_user_connection {
        out.insert("LastKnownUserConnectionTimestamp".into(), epoch_seconds(at));
    }
    Value::Object(out)
}

fn tags_json(tags: &Tags) -> Value {
    Value::Array(tags.iter().map(|(k, v)| json!({ "Key": k.as_str(), "Value": v.as_str() })).collect())
}

// ----- DescribeWorkspaces -----

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct DescribeWorkspacesInput {
    workspace_ids: Option<Vec<String>>,
    directory_id: Option<String>,
    user_name: Option<String>,
    bundle_id: Option<String>,
    workspace_name: Option<String>,
    limit: Option<i64>,
    next_token: Option<String>,
}

/// The optional `WorkspaceIds` filter of a describe call, validated.
fn optional_workspace_ids(ids: Option<&[String]>) -> Result<Option<BTreeSet<WorkspaceId>>, ApiError> {
    Ok(ids.map(|ids| workspace_ids(ids, "workspaceIds")).transpose()?.map(BTreeSet::from_iter))
}

fn describe_workspaces(shared: &Shared, input: DescribeWorkspacesInput) -> Result<Value, ApiError> {
    let ids = optional_workspace_ids(input.workspace_ids.as_deref())?;
    if let Some(d) = &input.directory_id {
        pattern(matches_directory(d), d, "directoryId", DIRECTORY_ID)?;
    }
    if let Some(b) = &input.bundle_id {
        pattern(matches_prefixed(b, "wsb-"), b, "bundleId", BUNDLE_ID)?;
    }
    if let Some(u) = &input.user_name {
        length(u, "userName", 1, 63)?;
    }
    if let Some(n) = &input.workspace_name {
        pattern(matches_workspace_name(n), n, "workspaceName", WORKSPACE_NAME)?;
    }
    let limit = match input.limit {
        None => BATCH,
        Some(l) if l < 1 => {
            return Err(ApiError::validation(l, "limit", "Member must have value greater than or equal to 1"));
        }
        Some(l) if l > BATCH as i64 => {
            return Err(ApiError::validation(l, "limit", "Member must have value less than or equal to 25"));
        }
        Some(l) => l as usize,
    };
    if let Some(t) = &input.next_token {
        length(t, "nextToken", 1, 2048)?;
    }
    let filters =
        [ids.is_some(), input.directory_id.is_some(), input.bundle_id.is_some(), input.workspace_name.is_some()];
    if filters.iter().filter(|&&f| f).count() > 1 {
        return Err(ApiError::invalid_parameters(
            "An invalid number of parameters provided with DescribeWorkspaces. Only one of the following are \
             allowed to be specified: BundleId, DirectoryId, WorkSpaceIds, WorkspaceName.",
        ));
    }
    if input.user_name.is_some() && input.directory_id.is_none() {
        return Err(ApiError::invalid_parameters("The DirectoryId parameter is required when UserName is used."));
    }
    let after = input.next_token.as_deref().map(parse_token).transpose()?;
    shared.with_world(|world| {
        world.count_api_call("DescribeWorkspaces");
        let mut page = Vec::new();
        let mut last = None;
        let mut more = false;
        let matching = world.views(after.as_ref()).filter(|v| {
            v.visible
                && ids.as_ref().is_none_or(|ids| ids.contains(v.id))
                && input.directory_id.as_deref().is_none_or(|d| v.spec.directory_id.as_str() == d)
                && input.user_name.as_deref().is_none_or(|u| v.spec.user_name.as_str() == u)
                && input.bundle_id.as_deref().is_none_or(|b| v.spec.bundle_id.as_str() == b)
                && input
                    .workspace_name
                    .as_deref()
                    .is_none_or(|n| v.spec.workspace_name.as_ref().is_some_and(|name| name.as_str() == n))
        });
        for view in matching {
            if page.len() == limit {
                more = true;
                break;
            }
            page.push(workspace_json(view.id, view.state, view.spec));
            last = Some(view.id.clone());
        }
        let mut out = json!({ "Workspaces": page });
        if let (true, Some(last)) = (more, last) {
            out["NextToken"] = json!(next_token(&last));
        }
        Ok(out)
    })
}

// ----- DescribeWorkspacesConnectionStatus -----

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct ConnectionStatusInput {
    workspace_ids: Option<Vec<String>>,
    next_token: Option<String>,
}

fn connection_status(shared: &Shared, input: ConnectionStatusInput) -> Result<Value, ApiError> {
    let ids = optional_workspace_ids(input.workspace_ids.as_deref())?;
    if let Some(t) = &input.next_token {
        length(t, "nextToken", 1, 2048)?;
    }
    let after = input.next_token.as_deref().map(parse_token).transpose()?;
    shared.with_world(|world| {
        world.count_api_call("DescribeWorkspacesConnectionStatus");
        let mut page = Vec::new();
        let mut last = None;
        let mut more = false;
        let matching: Vec<WorkspaceId> = world
            .views(after.as_ref())
            .filter(|v| v.visible && ids.as_ref().is_none_or(|ids| ids.contains(v.id)))
            .map(|v| v.id.clone())
            .take(BATCH + 1)
            .collect();
        for id in matching {
            if page.len() == BATCH {
                more = true;
                break;
            }
            if let Some(status) = world.connection(&id) {
                page.push(connection_json(&status));
            }
            last = Some(id);
        }
        let mut out = json!({ "WorkspacesConnectionStatus": page });
        if let (true, Some(last)) = (more, last) {
            out["NextToken"] = json!(next_token(&last));
        }
        Ok(out)
    })
}

// ----- tags -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagInput {
    key: Option<String>,
    value: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeTagsInput {
    resource_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateTagsInput {
    resource_id: Option<String>,
    tags: Option<Vec<TagInput>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteTagsInput {
    resource_id: Option<String>,
    tag_keys: Option<Vec<String>>,
}

fn resource_id(value: Option<String>) -> Result<String, ApiError> {
    let id = value.ok_or_else(|| ApiError::missing("resourceId"))?;
    length(&id, "resourceId", 1, usize::MAX)?;
    Ok(id)
}

/// Only WorkSpaces are tagged here; any other resource ID is one the emulator has not got.
fn tagged_workspace(id: &str) -> Result<WorkspaceId, ApiError> {
    WorkspaceId::new(id).map_err(|_| ApiError::not_found(id))
}

/// A `TagList` checked as the framework checks it, then as the service does (`aws:` keys,
/// the 50-tag limit).
fn tag_list(tags: &[TagInput], member: &str) -> Result<Tags, ApiError> {
    let mut pairs = Vec::with_capacity(tags.len());
    for (i, tag) in tags.iter().enumerate() {
        let key = tag.key.as_deref().ok_or_else(|| ApiError::missing(&format!("{member}.{}.member.key", i + 1)))?;
        length(key, &format!("{member}.{}.member.key", i + 1), 1, 127)?;
        let value = tag.value.as_deref().unwrap_or("");
        length(value, &format!("{member}.{}.member.value", i + 1), 0, 255)?;
        pairs.push((key, value));
    }
    if pairs.iter().map(|(k, _)| *k).collect::<BTreeSet<_>>().len() > Tags::MAX {
        return Err(ApiError::limit_exceeded(format!("A resource can have at most {} tags.", Tags::MAX)));
    }
    Tags::from_pairs(pairs).map_err(|e| ApiError::invalid_parameters(e.to_string()))
}

fn describe_tags(shared: &Shared, input: DescribeTagsInput) -> Result<Value, ApiError> {
    let id = resource_id(input.resource_id)?;
    let workspace = tagged_workspace(&id)?;
    let tags = shared.with_world(|world| world.describe_tags(&workspace)).ok_or_else(|| ApiError::not_found(&id))?;
    Ok(json!({ "TagList": tags_json(&tags) }))
}

fn create_tags(shared: &Shared, input: CreateTagsInput) -> Result<Value, ApiError> {
    let id = resource_id(input.resource_id)?;
    let tags = input.tags.ok_or_else(|| ApiError::missing("tags"))?;
    let tags = tag_list(&tags, "tags")?;
    let workspace = tagged_workspace(&id)?;
    match shared.with_world(|world| world.create_tags(&workspace, &tags)) {
        Ok(()) => Ok(json!({})),
        Err(TagError::NotFound) => Err(ApiError::not_found(&id)),
        Err(TagError::TooMany(n)) => Err(ApiError::limit_exceeded(format!(
            "The WorkSpace {id} would have {n} tags; a resource can have at most {}.",
            Tags::MAX
        ))),
    }
}

fn delete_tags(shared: &Shared, input: DeleteTagsInput) -> Result<Value, ApiError> {
    let id = resource_id(input.resource_id)?;
    let keys = input.tag_keys.ok_or_else(|| ApiError::missing("tagKeys"))?;
    for (i, key) in keys.iter().enumerate() {
        length(key, &format!("tagKeys.{}.member", i + 1), 1, 127)?;
    }
    // A key that cannot be a tag (an `aws:` key) cannot be on the WorkSpace either.
    let keys: Vec<TagKey> = keys.iter().filter_map(|k| TagKey::new(k.as_str()).ok()).collect();
    let workspace = tagged_workspace(&id)?;
    match shared.with_world(|world| world.delete_tags(&workspace, &keys)) {
        Ok(()) => Ok(json!({})),
        Err(TagError::NotFound) => Err(ApiError::not_found(&id)),
        Err(TagError::TooMany(_)) => Err(ApiError::internal("deleting tags cannot exceed the tag limit")),
    }
}

// ----- TerminateWorkspaces -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TerminateInput {
    terminate_workspace_requests: Option<Vec<TerminateRequest>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TerminateRequest {
    workspace_id: Option<String>,
}

fn terminate(shared: &Shared, input: TerminateInput) -> Result<Value, ApiError> {
    let requests = input.terminate_workspace_requests.ok_or_else(|| ApiError::missing("terminateWorkspaceRequests"))?;
    let shown = || format!("'[{} requests]'", requests.len());
    list_length(requests.len(), shown, "terminateWorkspaceRequests")?;
    let mut ids = Vec::with_capacity(requests.len());
    for (i, request) in requests.iter().enumerate() {
        let member = format!("terminateWorkspaceRequests.{}.member.workspaceId", i + 1);
        let id = request.workspace_id.as_deref().ok_or_else(|| ApiError::missing(&member))?;
        ids.push(workspace_id(id, &member)?);
    }
    let failed = shared
        .with_world(|world| world.terminate_workspaces(&ids))
        .map_err(|e| ApiError::internal(format!("the model refused a checked batch: {e}")))?;
    let failed: Vec<Value> = failed
        .iter()
        .map(|f| json!({ "WorkspaceId": f.key.as_str(), "ErrorCode": f.code, "ErrorMessage": f.message }))
        .collect();
    Ok(json!({ "FailedRequests": failed }))
}

// ----- CreateWorkspaces -----

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateInput {
    /// Kept as sent, so a refused request is echoed back as it came.
    workspaces: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct WorkspaceRequestInput {
    directory_id: Option<String>,
    user_name: Option<String>,
    bundle_id: Option<String>,
    volume_encryption_key: Option<String>,
    user_volume_encryption_enabled: Option<bool>,
    root_volume_encryption_enabled: Option<bool>,
    workspace_properties: Option<PropertiesInput>,
    tags: Option<Vec<TagInput>>,
    workspace_name: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct PropertiesInput {
    running_mode: Option<String>,
    running_mode_auto_stop_timeout_in_minutes: Option<i64>,
    root_volume_size_gib: Option<i64>,
    user_volume_size_gib: Option<i64>,
    compute_type_name: Option<String>,
    protocols: Option<Vec<String>>,
    operating_system_name: Option<String>,
}

/// One request that passed the framework's checks: either the spec to create, or why
/// the service refuses this item (ErrorCode, ErrorMessage).
type Item = Result<WorkspaceSpec, (&'static str, String)>;

fn create(shared: &Shared, input: CreateInput) -> Result<Value, ApiError> {
    let raw = input.workspaces.ok_or_else(|| ApiError::missing("workspaces"))?;
    list_length(raw.len(), || format!("'[{} requests]'", raw.len()), "workspaces")?;
    let mut items: Vec<Item> = Vec::with_capacity(raw.len());
    for (i, value) in raw.iter().enumerate() {
        let request: WorkspaceRequestInput = decode(value.clone())?;
        items.push(check_request(&request, &format!("workspaces.{}.member", i + 1))?);
    }
    let specs: Vec<WorkspaceSpec> = items.iter().filter_map(|item| item.as_ref().ok().cloned()).collect();
    let answer = if specs.is_empty() {
        Default::default()
    } else {
        shared
            .with_world(|world| world.create_workspaces(&specs))
            .map_err(|e| ApiError::internal(format!("the model refused a checked batch: {e}")))?
    };
    // The service joins each new WorkSpace to its directory while it is PENDING.
    shared.effects.join(answer.pending.iter().map(|(_, id)| id.clone()).collect());
    // The model answers in request order, per desk; match its answers back to the requests.
    let mut pending_left: Vec<Option<_>> = answer.pending.into_iter().map(Some).collect();
    let mut failed_left: Vec<Option<_>> = answer.failed.into_iter().map(Some).collect();
    let mut pending = Vec::new();
    let mut failed = Vec::new();
    for (item, raw) in items.iter().zip(&raw) {
        match item {
            Err((code, message)) => {
                failed.push(json!({ "WorkspaceRequest": raw, "ErrorCode": code, "ErrorMessage": message }))
            }
            Ok(spec) => {
                let desk = spec.desk();
                if let Some((_, id)) =
                    pending_left.iter_mut().find(|p| p.as_ref().is_some_and(|(d, _)| *d == desk)).and_then(Option::take)
                {
                    pending.push(workspace_json(&id, WorkspaceState::Pending, spec));
                } else if let Some(f) =
                    failed_left.iter_mut().find(|f| f.as_ref().is_some_and(|f| f.key == desk)).and_then(Option::take)
                {
                    failed.push(json!({ "WorkspaceRequest": raw, "ErrorCode": f.code, "ErrorMessage": f.message }));
                }
            }
        }
    }
    Ok(json!({ "FailedRequests": failed, "PendingRequests": pending }))
}

/// The framework's checks of one WorkspaceRequest (an error fails the whole call), then
/// the service's (an error fails this item only).
fn check_request(r: &WorkspaceRequestInput, member: &str) -> Result<Item, ApiError> {
    let directory = r.directory_id.as_deref().ok_or_else(|| ApiError::missing(&format!("{member}.directoryId")))?;
    pattern(matches_directory(directory), directory, &format!("{member}.directoryId"), DIRECTORY_ID)?;
    let user = r.user_name.as_deref().ok_or_else(|| ApiError::missing(&format!("{member}.userName")))?;
    length(user, &format!("{member}.userName"), 1, 63)?;
    let bundle = r.bundle_id.as_deref().ok_or_else(|| ApiError::missing(&format!("{member}.bundleId")))?;
    pattern(matches_prefixed(bundle, "wsb-"), bundle, &format!("{member}.bundleId"), BUNDLE_ID)?;
    if let Some(name) = &r.workspace_name {
        pattern(matches_workspace_name(name), name, &format!("{member}.workspaceName"), WORKSPACE_NAME)?;
    }
    let properties = r.workspace_properties.as_ref();
    if let Some(mode) = properties.and_then(|p| p.running_mode.as_deref()) {
        enum_value(mode, &format!("{member}.workspaceProperties.runningMode"), &["AUTO_STOP", "ALWAYS_ON", "MANUAL"])?;
    }
    for (i, protocol) in properties.and_then(|p| p.protocols.as_deref()).unwrap_or_default().iter().enumerate() {
        enum_value(protocol, &format!("{member}.workspaceProperties.protocols.{}.member", i + 1), &["PCOIP", "WSP"])?;
    }
    let tags = match &r.tags {
        None => Ok(Tags::default()),
        Some(tags) => match tag_list(tags, &format!("{member}.tags")) {
            Ok(tags) => Ok(tags),
            Err(e) if e.code == "ValidationException" => return Err(e),
            Err(e) => Err((e.code, e.message)),
        },
    };
    Ok(tags.and_then(|tags| to_spec(r, directory, user, bundle, tags)))
}

fn invalid(e: blankslate_core::ValidationError) -> (&'static str, String) {
    ("InvalidParameterValuesException", e.to_string())
}

/// The spec a checked request asks for, or the service's per-item refusal.
fn to_spec(r: &WorkspaceRequestInput, directory: &str, user: &str, bundle: &str, tags: Tags) -> Item {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new(directory).map_err(invalid)?,
        UserName::new(user).map_err(invalid)?,
        BundleId::new(bundle).map_err(invalid)?,
    );
    spec.encryption = VolumeEncryption::from_request_fields(
        r.volume_encryption_key.as_deref(),
        r.root_volume_encryption_enabled.unwrap_or(false),
        r.user_volume_encryption_enabled.unwrap_or(false),
    )
    .map_err(invalid)?;
    if let Some(p) = &r.workspace_properties {
        let timeout = p.running_mode_auto_stop_timeout_in_minutes;
        spec.properties.running_mode = match (p.running_mode.as_deref(), timeout) {
            (Some("ALWAYS_ON"), Some(_)) => {
                return Err((
                    "AutoStopTimeoutIsNotApplicableForAnAlwaysOnWorkspace",
                    "RunningModeAutoStopTimeoutInMinutes is not applicable for WorkSpace with running mode set to \
                     ALWAYS_ON."
                        .into(),
                ))
            }
            (Some("MANUAL"), Some(_)) => {
                return Err((
                    "AutoStopTimeoutIsNotDefaultForManualWorkspace",
                    "RunningModeAutoStopTimeoutInMinutes is not applicable for WorkSpace with running mode set to \
                     MANUAL."
                        .into(),
                ))
            }
            (Some(mode), timeout) => Some(RunningMode::from_api(mode, timeout).map_err(invalid)?),
            // A timeout alone means AUTO_STOP, the mode it belongs to.
            (None, Some(timeout)) => Some(RunningMode::from_api("AUTO_STOP", Some(timeout)).map_err(invalid)?),
            (None, None) => None,
        };
        spec.properties.root_volume_size_gib = volume_size(p.root_volume_size_gib, "RootVolumeSizeGib")?;
        spec.properties.user_volume_size_gib = volume_size(p.user_volume_size_gib, "UserVolumeSizeGib")?;
        spec.properties.compute_type =
            p.compute_type_name.as_deref().map(ComputeType::new).transpose().map_err(invalid)?;
        spec.properties.protocols = p
            .protocols
            .as_deref()
            .unwrap_or_default()
            .iter()
            .map(|p| Protocol::from_api(p))
            .collect::<Result<_, _>>()
            .map_err(invalid)?;
        spec.properties.operating_system_name =
            p.operating_system_name.as_deref().map(OperatingSystemName::new).transpose().map_err(invalid)?;
    }
    spec.workspace_name = r.workspace_name.as_deref().map(WorkspaceName::new).transpose().map_err(invalid)?;
    spec.tags = tags;
    Ok(spec)
}

fn volume_size(size: Option<i64>, field: &'static str) -> Result<Option<u32>, (&'static str, String)> {
    match size {
        None => Ok(None),
        Some(gib) => match u32::try_from(gib) {
            Ok(gib) if gib > 0 => Ok(Some(gib)),
            _ => Err(invalid(blankslate_core::ValidationError::new(field, gib, "must be a positive number of GiB"))),
        },
    }
}
