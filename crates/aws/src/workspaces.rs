//! Amazon WorkSpaces through the SDK: [`AwsWorkspaces`].
//!
//! The translation here is what invariant S3 rests on: every field of a `Workspace` that
//! `CreateWorkspaces` can take back is read into the core spec, and every field of the
//! spec is written into the `WorkspaceRequest`. A field AWS leaves out stays out, so the
//! bundle's default applies to the copy as it did to the original.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_workspaces::operation::describe_workspaces::builders::DescribeWorkspacesFluentBuilder;
use aws_sdk_workspaces::types::{
    Compute, OperatingSystemName as SdkOperatingSystemName, Protocol as SdkProtocol, RunningMode as SdkRunningMode,
    Tag, TerminateRequest, Workspace, WorkspaceConnectionStatus, WorkspaceProperties as SdkProperties,
    WorkspaceRequest,
};
use aws_sdk_workspaces::Client;
use aws_smithy_types::error::operation::BuildError;
use aws_smithy_types::DateTime;
use blankslate_core::directory::ComputerName;
use blankslate_core::ids::{BundleId, DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use blankslate_core::spec::{
    ComputeType, OperatingSystemName, Protocol, RunningMode, TagKey, TagValue, Tags, VolumeEncryption, WorkspaceName,
    WorkspaceProperties, WorkspaceSpec,
};
use blankslate_core::{Timestamp, ValidationError};
use blankslate_handlers::ports::{CreateAnswer, FailedItem, PortResult, Workspaces};

use crate::error::{build_error, check_batch, port_error, rejected};
use crate::pace::Pacer;
use crate::tagging::{WorkspaceArnPrefix, WorkspaceTagging};

/// The most items CreateWorkspaces, TerminateWorkspaces, DescribeWorkspaces (by ID) and
/// DescribeWorkspacesConnectionStatus take per call, and DescribeWorkspaces' page limit.
const MAX_BATCH: usize = 25;

/// [`Workspaces`] over the AWS SDK.
#[derive(Clone, Debug)]
pub struct AwsWorkspaces {
    client: Client,
    pacer: Pacer,
    tagging: Option<WorkspaceTagging>,
}

impl AwsWorkspaces {
    /// A client for the Region, credentials, endpoint and policy in `config`. Tags are
    /// read one WorkSpace a call (DescribeTags) until [`AwsWorkspaces::with_bulk_tags`].
    pub fn new(config: &SdkConfig) -> Self {
        Self { client: Client::new(config), pacer: Pacer::default(), tagging: None }
    }

    /// Reads tags in bulk through the Resource Groups Tagging API, for the WorkSpaces
    /// whose ARNs start with `prefix` (the account and Region of `config`).
    pub fn with_bulk_tags(mut self, config: &SdkConfig, prefix: WorkspaceArnPrefix) -> Self {
        self.tagging = Some(WorkspaceTagging::new(config, prefix));
        self
    }

    /// Every page of a DescribeWorkspaces request, WorkSpaces that fail validation skipped.
    async fn describe_pages(&self, request: DescribeWorkspacesFluentBuilder) -> PortResult<Vec<WorkspaceDescription>> {
        let mut pages = request.limit(MAX_BATCH as i32).into_paginator().send();
        let mut found = Vec::new();
        while let Some(page) = {
            self.pacer.turn().await;
            pages.next().await
        } {
            let page = page.map_err(|e| port_error("DescribeWorkspaces", e))?;
            found.extend(page.workspaces().iter().filter_map(description_or_skip));
        }
        Ok(found)
    }

    /// The WorkSpaces of one directory, or of one user in it (DescribeWorkspaces with its
    /// DirectoryId filter, and UserName when `user` is given: the API takes UserName only
    /// together with DirectoryId). Every page, 25 per call.
    pub async fn describe_directory(
        &self,
        directory: &DirectoryId,
        user: Option<&UserName>,
    ) -> PortResult<Vec<WorkspaceDescription>> {
        let request = self
            .client
            .describe_workspaces()
            .directory_id(directory.as_str())
            .set_user_name(user.map(|u| u.as_str().to_owned()));
        self.describe_pages(request).await
    }

    /// Adds the tag `key`=`value` to WorkSpace `id`, or sets its value if the key is there
    /// (CreateTags). Used by `blankslate enrol`; the functions never tag an existing
    /// WorkSpace (a re-create carries its tags in CreateWorkspaces instead).
    pub async fn set_tag(&self, id: &WorkspaceId, key: &TagKey, value: &TagValue) -> PortResult<()> {
        const OP: &str = "CreateTags";
        let tag = Tag::builder().key(key.as_str()).value(value.as_str()).build().map_err(|e| build_error(OP, e))?;
        self.client.create_tags().resource_id(id.as_str()).tags(tag).send().await.map_err(|e| port_error(OP, e))?;
        Ok(())
    }

    /// Removes the tag `key` from WorkSpace `id` (DeleteTags); a key that is not there is
    /// no error, as in AWS. Used by `blankslate release`.
    pub async fn remove_tag(&self, id: &WorkspaceId, key: &TagKey) -> PortResult<()> {
        const OP: &str = "DeleteTags";
        self.client
            .delete_tags()
            .resource_id(id.as_str())
            .tag_keys(key.as_str())
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        Ok(())
    }
}

impl Workspaces for AwsWorkspaces {
    async fn describe(&self, ids: &[WorkspaceId]) -> PortResult<Vec<WorkspaceDescription>> {
        check_batch("DescribeWorkspaces", ids.len(), MAX_BATCH)?;
        // Without IDs the same call would list the whole fleet.
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.iter().map(|id| id.as_str().to_owned()).collect();
        self.describe_pages(self.client.describe_workspaces().set_workspace_ids(Some(ids))).await
    }

    async fn describe_all(&self) -> PortResult<Vec<WorkspaceDescription>> {
        self.describe_pages(self.client.describe_workspaces()).await
    }

    async fn describe_desk(&self, desk: &DeskKey) -> PortResult<Option<WorkspaceDescription>> {
        let request = self
            .client
            .describe_workspaces()
            .directory_id(desk.directory_id.as_str())
            .user_name(desk.user_name.as_str());
        let mut found = self.describe_pages(request).await?;
        if found.len() > 1 {
            // AWS allows one WorkSpace per user and directory; say so if it ever differs.
            let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
            tracing::warn!(desk = %desk, workspaces = ?ids, "more than one WorkSpace for one desk; using the first");
        }
        Ok(if found.is_empty() { None } else { Some(found.swap_remove(0)) })
    }

    async fn connection_status(&self, ids: &[WorkspaceId]) -> PortResult<Vec<ConnectionObservation>> {
        const OP: &str = "DescribeWorkspacesConnectionStatus";
        check_batch(OP, ids.len(), MAX_BATCH)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids: Vec<String> = ids.iter().map(|id| id.as_str().to_owned()).collect();
        let mut observed = Vec::new();
        let mut next_token = None;
        loop {
            self.pacer.turn().await;
            let page = self
                .client
                .describe_workspaces_connection_status()
                .set_workspace_ids(Some(ids.clone()))
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| port_error(OP, e))?;
            observed.extend(page.workspaces_connection_status().iter().filter_map(|status| {
                connection_from_sdk(status)
                    .map_err(|e| {
                        tracing::warn!(
                            workspace_id = status.workspace_id().unwrap_or("<none>"),
                            error = %e,
                            "skipping a connection status that fails validation"
                        )
                    })
                    .ok()
            }));
            match page.next_token() {
                Some(token) if !token.is_empty() => next_token = Some(token.to_owned()),
                _ => break,
            }
        }
        Ok(observed)
    }

    async fn tags(&self, id: &WorkspaceId) -> PortResult<Tags> {
        const OP: &str = "DescribeTags";
        self.pacer.turn().await;
        let answer =
            self.client.describe_tags().resource_id(id.as_str()).send().await.map_err(|e| port_error(OP, e))?;
        tags_from_sdk(answer.tag_list())
            .map_err(|e| rejected(OP, format!("{id}: its tags cannot be carried to a re-created WorkSpace: {e}")))
    }

    async fn tags_in_bulk(&self, ids: &[WorkspaceId]) -> PortResult<BTreeMap<WorkspaceId, Tags>> {
        if let Some(tagging) = &self.tagging {
            return tagging.tags(ids).await;
        }
        let mut found = BTreeMap::new();
        for id in ids {
            found.insert(id.clone(), self.tags(id).await?);
        }
        Ok(found)
    }

    async fn terminate(&self, ids: &[WorkspaceId]) -> PortResult<Vec<FailedItem<WorkspaceId>>> {
        const OP: &str = "TerminateWorkspaces";
        check_batch(OP, ids.len(), MAX_BATCH)?;
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let requests = ids
            .iter()
            .map(|id| TerminateRequest::builder().workspace_id(id.as_str()).build())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| build_error(OP, e))?;
        self.pacer.turn().await;
        let answer = self
            .client
            .terminate_workspaces()
            .set_terminate_workspace_requests(Some(requests))
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        let mut failed = Vec::new();
        for item in answer.failed_requests() {
            // Key the failure by the ID we sent, so the caller's own value comes back.
            match ids.iter().find(|id| Some(id.as_str()) == item.workspace_id()) {
                Some(id) => failed.push(FailedItem {
                    key: id.clone(),
                    code: item.error_code().unwrap_or("Unknown").to_owned(),
                    message: item.error_message().unwrap_or_default().to_owned(),
                }),
                None => tracing::warn!(
                    workspace_id = item.workspace_id().unwrap_or("<none>"),
                    code = item.error_code().unwrap_or("<none>"),
                    "TerminateWorkspaces reported a failure for a WorkSpace not in the request; ignored"
                ),
            }
        }
        Ok(failed)
    }

    async fn create(&self, specs: &[WorkspaceSpec]) -> PortResult<CreateAnswer> {
        const OP: &str = "CreateWorkspaces";
        check_batch(OP, specs.len(), MAX_BATCH)?;
        if specs.is_empty() {
            return Ok(CreateAnswer::default());
        }
        let requests =
            specs.iter().map(request_from_spec).collect::<Result<Vec<_>, _>>().map_err(|e| build_error(OP, e))?;
        self.pacer.turn().await;
        let answer = self
            .client
            .create_workspaces()
            .set_workspaces(Some(requests))
            .send()
            .await
            .map_err(|e| port_error(OP, e))?;
        let desks: Vec<DeskKey> = specs.iter().map(WorkspaceSpec::desk).collect();
        let mut result = CreateAnswer::default();
        for pending in answer.pending_requests() {
            let desk = requested_desk(&desks, pending.directory_id(), pending.user_name());
            let id = pending.workspace_id().map(WorkspaceId::new);
            match (desk, id) {
                (Some(desk), Some(Ok(id))) => result.pending.push((desk.clone(), id)),
                // The desk's outcome stays unknown: the reconciler looks it up before
                // creating again, so nothing is created twice (S4).
                (desk, id) => tracing::warn!(
                    directory_id = pending.directory_id().unwrap_or("<none>"),
                    user_name = pending.user_name().unwrap_or("<none>"),
                    workspace_id = pending.workspace_id().unwrap_or("<none>"),
                    known_desk = desk.is_some(),
                    id_error = ?id.and_then(Result::err),
                    "a pending request could not be matched to a requested desk; its outcome stays unknown"
                ),
            }
        }
        for failure in answer.failed_requests() {
            let request = failure.workspace_request();
            let desk = request.and_then(|r| requested_desk(&desks, Some(r.directory_id()), Some(r.user_name())));
            match desk {
                Some(desk) => result.failed.push(FailedItem {
                    key: desk.clone(),
                    code: failure.error_code().unwrap_or("Unknown").to_owned(),
                    message: failure.error_message().unwrap_or_default().to_owned(),
                }),
                None => tracing::warn!(
                    directory_id = request.map(WorkspaceRequest::directory_id).unwrap_or("<none>"),
                    user_name = request.map(WorkspaceRequest::user_name).unwrap_or("<none>"),
                    code = failure.error_code().unwrap_or("<none>"),
                    "a failed request could not be matched to a requested desk; its outcome stays unknown"
                ),
            }
        }
        Ok(result)
    }

    fn pace(&self, calls_per_second: f64) {
        self.pacer.set(calls_per_second);
    }
}

/// The requested desk an answer's directory and user refer to. User names compare without
/// regard to ASCII case, as directory user names do, so an answer that normalises the
/// case still finds its desk.
fn requested_desk<'a>(desks: &'a [DeskKey], directory: Option<&str>, user: Option<&str>) -> Option<&'a DeskKey> {
    let (directory, user) = (directory?, user?);
    desks.iter().find(|d| d.directory_id.as_str() == directory && d.user_name.as_str() == user).or_else(|| {
        desks.iter().find(|d| d.directory_id.as_str() == directory && d.user_name.as_str().eq_ignore_ascii_case(user))
    })
}

/// The description of `workspace`, or `None` with a warning naming it and the reason.
fn description_or_skip(workspace: &Workspace) -> Option<WorkspaceDescription> {
    match description_from_sdk(workspace) {
        Ok(description) => Some(description),
        Err(e) => {
            tracing::warn!(
                workspace_id = workspace.workspace_id().unwrap_or("<none>"),
                error = %e,
                "skipping a WorkSpace that fails validation"
            );
            None
        }
    }
}

fn required<'a>(value: Option<&'a str>, field: &'static str) -> Result<&'a str, ValidationError> {
    value.ok_or_else(|| ValidationError::new(field, "", "missing from the answer"))
}

/// A WorkSpace as the core sees it. Tags stay empty: DescribeWorkspaces has none.
pub(crate) fn description_from_sdk(workspace: &Workspace) -> Result<WorkspaceDescription, ValidationError> {
    let id = WorkspaceId::new(required(workspace.workspace_id(), "WorkspaceId")?)?;
    let state = required(workspace.state().map(|s| s.as_str()), "WorkspaceState")?.parse::<WorkspaceState>()?;
    // A ComputerName that is not a NetBIOS name is left out (no clean-up for that one)
    // rather than failing the WorkSpace: the rebuild must not depend on it.
    let computer_name = workspace.computer_name().filter(|n| !n.is_empty()).and_then(|n| match ComputerName::new(n) {
        Ok(name) => Some(name),
        Err(e) => {
            tracing::warn!(workspace_id = %id, error = %e, "ignoring a ComputerName that is not a NetBIOS name");
            None
        }
    });
    Ok(WorkspaceDescription { id, state, spec: spec_from_sdk(workspace)?, computer_name })
}

fn spec_from_sdk(workspace: &Workspace) -> Result<WorkspaceSpec, ValidationError> {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new(required(workspace.directory_id(), "DirectoryId")?)?,
        UserName::new(required(workspace.user_name(), "UserName")?)?,
        BundleId::new(required(workspace.bundle_id(), "BundleId")?)?,
    );
    spec.encryption = VolumeEncryption::from_request_fields(
        workspace.volume_encryption_key(),
        workspace.root_volume_encryption_enabled().unwrap_or(false),
        workspace.user_volume_encryption_enabled().unwrap_or(false),
    )?;
    if let Some(properties) = workspace.workspace_properties() {
        spec.properties = properties_from_sdk(properties)?;
    }
    spec.workspace_name = workspace.workspace_name().filter(|n| !n.is_empty()).map(WorkspaceName::new).transpose()?;
    Ok(spec)
}

fn volume_size(field: &'static str, gib: i32) -> Result<u32, ValidationError> {
    u32::try_from(gib).map_err(|_| ValidationError::new(field, gib, "must not be negative"))
}

fn properties_from_sdk(p: &SdkProperties) -> Result<WorkspaceProperties, ValidationError> {
    Ok(WorkspaceProperties {
        running_mode: p
            .running_mode()
            .map(|mode| {
                RunningMode::from_api(mode.as_str(), p.running_mode_auto_stop_timeout_in_minutes().map(i64::from))
            })
            .transpose()?,
        root_volume_size_gib: p.root_volume_size_gib().map(|v| volume_size("RootVolumeSizeGib", v)).transpose()?,
        user_volume_size_gib: p.user_volume_size_gib().map(|v| volume_size("UserVolumeSizeGib", v)).transpose()?,
        compute_type: p.compute_type_name().map(|c| ComputeType::new(c.as_str())).transpose()?,
        protocols: p.protocols().iter().map(|x| Protocol::from_api(x.as_str())).collect::<Result<_, _>>()?,
        operating_system_name: p.operating_system_name().map(|o| OperatingSystemName::new(o.as_str())).transpose()?,
    })
}

/// The `WorkspaceRequest` that re-creates `spec`, tags included.
pub(crate) fn request_from_spec(spec: &WorkspaceSpec) -> Result<WorkspaceRequest, BuildError> {
    let mut request = WorkspaceRequest::builder()
        .directory_id(spec.directory_id.as_str())
        .user_name(spec.user_name.as_str())
        .bundle_id(spec.bundle_id.as_str());
    if let VolumeEncryption::Kms { key, root, user } = &spec.encryption {
        request = request
            .volume_encryption_key(key.as_str())
            .root_volume_encryption_enabled(*root)
            .user_volume_encryption_enabled(*user);
    }
    if let Some(properties) = properties_to_sdk(&spec.properties)? {
        request = request.workspace_properties(properties);
    }
    for (key, value) in spec.tags.iter() {
        request = request.tags(Tag::builder().key(key.as_str()).value(value.as_str()).build()?);
    }
    if let Some(name) = &spec.workspace_name {
        request = request.workspace_name(name.as_str());
    }
    request.build()
}

fn size_to_sdk(field: &'static str, gib: u32) -> Result<i32, BuildError> {
    i32::try_from(gib).map_err(|_| BuildError::invalid_field(field, format!("{gib} GiB is out of range")))
}

/// `None` when no property is set, so the request leaves the whole structure to the bundle.
fn properties_to_sdk(p: &WorkspaceProperties) -> Result<Option<SdkProperties>, BuildError> {
    if *p == WorkspaceProperties::default() {
        return Ok(None);
    }
    let mut sdk = SdkProperties::builder();
    if let Some(mode) = &p.running_mode {
        sdk = sdk.running_mode(SdkRunningMode::from(mode.as_api_str()));
        if let RunningMode::AutoStop { timeout: Some(timeout) } = mode {
            let minutes = i32::try_from(timeout.minutes()).map_err(|_| {
                BuildError::invalid_field("RunningModeAutoStopTimeoutInMinutes", "timeout out of range")
            })?;
            sdk = sdk.running_mode_auto_stop_timeout_in_minutes(minutes);
        }
    }
    if let Some(gib) = p.root_volume_size_gib {
        sdk = sdk.root_volume_size_gib(size_to_sdk("RootVolumeSizeGib", gib)?);
    }
    if let Some(gib) = p.user_volume_size_gib {
        sdk = sdk.user_volume_size_gib(size_to_sdk("UserVolumeSizeGib", gib)?);
    }
    if let Some(compute) = &p.compute_type {
        sdk = sdk.compute_type_name(Compute::from(compute.as_str()));
    }
    for protocol in &p.protocols {
        sdk = sdk.protocols(SdkProtocol::from(protocol.as_api_str()));
    }
    if let Some(os) = &p.operating_system_name {
        sdk = sdk.operating_system_name(SdkOperatingSystemName::from(os.as_str()));
    }
    Ok(Some(sdk.build()))
}

/// Tags as a re-create carries them. `aws:` tags are AWS's own (CloudFormation's, for
/// example): CreateWorkspaces refuses them and AWS re-applies them itself, so they are left
/// out rather than failing the read. Any other invalid tag is an error: dropping it would
/// silently break S3.
fn tags_from_sdk(tags: &[Tag]) -> Result<Tags, ValidationError> {
    let pairs = tags
        .iter()
        .filter(|t| !t.key().to_ascii_lowercase().starts_with("aws:"))
        .map(|t| (t.key(), t.value().unwrap_or_default()));
    Tags::from_pairs(pairs)
}

/// Rounded to the nearest millisecond: the JSON protocol carries epoch seconds as a
/// float, so `.123` arrives as `.12299...`, which truncation would make `.122`.
fn timestamp(field: &'static str, id: &WorkspaceId, time: Option<&DateTime>) -> Option<Timestamp> {
    let time = time?;
    // subsec_nanos() < 10^9, so adding half a millisecond cannot overflow a u32.
    let sub_millis = i64::from((time.subsec_nanos() + 500_000) / 1_000_000);
    match time.secs().checked_mul(1000).and_then(|ms| ms.checked_add(sub_millis)) {
        Some(millis) => Some(Timestamp::from_millis(millis)),
        None => {
            tracing::warn!(workspace_id = %id, field, seconds = time.secs(), "ignoring an out-of-range timestamp");
            None
        }
    }
}

fn connection_from_sdk(status: &WorkspaceConnectionStatus) -> Result<ConnectionObservation, ValidationError> {
    let id = WorkspaceId::new(required(status.workspace_id(), "WorkspaceId")?)?;
    let state =
        required(status.connection_state().map(|s| s.as_str()), "ConnectionState")?.parse::<ConnectionState>()?;
    Ok(ConnectionObservation {
        checked_at: timestamp("ConnectionStateCheckTimestamp", &id, status.connection_state_check_timestamp()),
        last_user_connection: timestamp(
            "LastKnownUserConnectionTimestamp",
            &id,
            status.last_known_user_connection_timestamp(),
        ),
        id,
        state,
    })
}

#[cfg(test)]
mod tests {
    use aws_sdk_workspaces::types::WorkspaceState as SdkState;
    use blankslate_core::spec::AutoStopTimeout;

    use super::*;

    fn full_spec() -> WorkspaceSpec {
        let mut spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("tester2").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        spec.encryption = VolumeEncryption::from_request_fields(Some("alias/ws"), true, false).unwrap();
        spec.properties = WorkspaceProperties {
            running_mode: Some(RunningMode::AutoStop { timeout: Some(AutoStopTimeout::new(120).unwrap()) }),
            root_volume_size_gib: Some(80),
            user_volume_size_gib: Some(50),
            compute_type: Some(ComputeType::new("GENERALPURPOSE_4XLARGE").unwrap()),
            protocols: vec![Protocol::Wsp],
            operating_system_name: Some(OperatingSystemName::new("WINDOWS_SERVER_2022").unwrap()),
        };
        spec.tags = Tags::from_pairs([("blankslate", "managed"), ("cost-centre", "")]).unwrap();
        spec.workspace_name = Some(WorkspaceName::new("Lab desk 4").unwrap());
        spec
    }

    /// What DescribeWorkspaces would show for a WorkSpace created from `request`.
    fn described(id: &str, request: &WorkspaceRequest) -> Workspace {
        let mut ws = Workspace::builder()
            .workspace_id(id)
            .state(SdkState::Available)
            .directory_id(request.directory_id())
            .user_name(request.user_name())
            .bundle_id(request.bundle_id())
            .set_volume_encryption_key(request.volume_encryption_key().map(str::to_owned))
            .set_root_volume_encryption_enabled(request.root_volume_encryption_enabled())
            .set_user_volume_encryption_enabled(request.user_volume_encryption_enabled())
            .set_workspace_name(request.workspace_name().map(str::to_owned));
        if let Some(p) = request.workspace_properties() {
            ws = ws.workspace_properties(p.clone());
        }
        ws.build()
    }

    #[test]
    fn a_spec_survives_request_and_description() {
        for spec in
            [full_spec(), WorkspaceSpec::new(full_spec().directory_id, full_spec().user_name, full_spec().bundle_id)]
        {
            let request = request_from_spec(&spec).unwrap();
            let tags: Vec<(&str, Option<&str>)> = request.tags().iter().map(|t| (t.key(), t.value())).collect();
            let expected: Vec<(&str, Option<&str>)> =
                spec.tags.iter().map(|(k, v)| (k.as_str(), Some(v.as_str()))).collect();
            assert_eq!(tags, expected);
            let description = description_from_sdk(&described("ws-abcdef123", &request)).unwrap();
            assert_eq!(description.state, WorkspaceState::Available);
            assert_eq!(description.spec, WorkspaceSpec { tags: Tags::default(), ..spec });
        }
    }

    #[test]
    fn unset_properties_are_left_to_the_bundle() {
        let spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new("tester2").unwrap(),
            BundleId::new("wsb-vw0mb86zg").unwrap(),
        );
        let request = request_from_spec(&spec).unwrap();
        assert!(request.workspace_properties().is_none());
        assert!(request.volume_encryption_key().is_none());
        assert!(request.root_volume_encryption_enabled().is_none());
    }

    #[test]
    fn invalid_workspaces_are_refused_with_the_field_named() {
        let ok = described("ws-abcdef123", &request_from_spec(&full_spec()).unwrap());
        let with = |change: &dyn Fn(&mut Workspace)| {
            let mut w = ok.clone();
            change(&mut w);
            w
        };
        let cases: Vec<(Workspace, &str)> = vec![
            (Workspace::builder().state(SdkState::Available).build(), "WorkspaceId"),
            (with(&|w| w.workspace_id = Some("i-123".into())), "WorkspaceId"),
            (with(&|w| w.state = None), "WorkspaceState"),
            (with(&|w| w.state = Some(SdkState::from("HIBERNATING"))), "HIBERNATING"),
            (with(&|w| w.user_name = Some("two words".into())), "UserName"),
            (with(&|w| w.volume_encryption_key = None), "VolumeEncryptionKey"),
            (
                with(&|w| {
                    w.workspace_properties = Some(
                        SdkProperties::builder()
                            .running_mode(SdkRunningMode::AutoStop)
                            .running_mode_auto_stop_timeout_in_minutes(90)
                            .build(),
                    )
                }),
                "RunningModeAutoStopTimeoutInMinutes",
            ),
            (
                with(&|w| w.workspace_properties = Some(SdkProperties::builder().root_volume_size_gib(-1).build())),
                "RootVolumeSizeGib",
            ),
        ];
        for (workspace, expected) in cases {
            let err = description_from_sdk(&workspace).unwrap_err().to_string();
            assert!(err.contains(expected), "expected {expected:?} in {err}");
        }
        assert!(description_or_skip(&ok).is_some());
    }

    #[test]
    fn aws_own_tags_are_dropped_and_invalid_ones_refused() {
        let tag = |k: &str, v: &str| Tag::builder().key(k).value(v).build().unwrap();
        let tags = tags_from_sdk(&[tag("aws:cloudformation:stack-name", "x"), tag("team", "lab")]).unwrap();
        assert_eq!(tags, Tags::from_pairs([("team", "lab")]).unwrap());
        let err = tags_from_sdk(&[tag("bad\u{7}key", "x")]).unwrap_err().to_string();
        assert!(err.contains("tag key"), "{err}");
    }

    #[test]
    fn answers_find_their_desk_even_with_another_case() {
        let desks = vec![full_spec().desk()];
        assert!(requested_desk(&desks, Some("d-9067083b4b"), Some("TESTER2")).is_some());
        assert!(requested_desk(&desks, Some("d-9067083b4b"), Some("someone")).is_none());
        assert!(requested_desk(&desks, None, Some("tester2")).is_none());
    }
}
