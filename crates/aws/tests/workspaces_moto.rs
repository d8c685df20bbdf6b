//! `AwsWorkspaces` against moto's WorkSpaces, an implementation independent of ours,
//! over HTTP on loopback.
//!
//! What moto does not do, and so is not proved here (the stubbed tests in `stubbed.rs`
//! and the simulator cover it instead):
//! - DescribeWorkspacesConnectionStatus is not implemented;
//! - DescribeWorkspaces ignores `Limit` and `NextToken` (one page, always), and does not
//!   return `WorkspaceName`;
//! - WorkSpaces are AVAILABLE at once and vanish at once on terminate (no PENDING,
//!   TERMINATING, eventual consistency or `ResourceExists.WorkSpace`);
//! - a missing `RunningMode` comes back as ALWAYS_ON, so every spec here sets one.
//!
//! CreateWorkspaces needs a registered directory, which needs a Directory Service
//! directory in a VPC with two subnets: that set-up is done with raw requests to moto's
//! EC2 and Directory Service, to avoid compiling two more SDK crates for it.

mod common;

use std::collections::BTreeMap;

use aws_sdk_workspaces::Client;
use blankslate_aws::AwsWorkspaces;
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::observe::WorkspaceState;
use blankslate_core::spec::{
    AutoStopTimeout, ComputeType, OperatingSystemName, Protocol, RunningMode, Tags, VolumeEncryption,
    WorkspaceProperties, WorkspaceSpec,
};
use blankslate_handlers::ports::Workspaces;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// One unsigned request to moto, routed to `service` by the credential scope moto reads
/// from the Authorization header (moto does not check signatures). Returns the body.
async fn moto_call(service: &str, target: Option<&str>, content_type: &str, body: &str) -> String {
    let endpoint = common::moto();
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut stream = TcpStream::connect(&host).await.unwrap_or_else(|e| panic!("connect to moto at {host}: {e}"));
    let target = target.map(|t| format!("X-Amz-Target: {t}\r\n")).unwrap_or_default();
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {host}\r\nContent-Type: {content_type}\r\n{target}\
         Authorization: AWS4-HMAC-SHA256 Credential=ANOTREAL/20250101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=00\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send to moto");
    let mut response = String::new();
    stream.read_to_string(&mut response).await.expect("read moto's answer");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    assert!(head.starts_with("HTTP/1.1 200") || head.starts_with("HTTP/1.0 200"), "moto {service}: {response}");
    body.to_owned()
}

/// The text of the first `<tag>` element in an EC2 XML answer.
fn xml_value(xml: &str, tag: &str) -> String {
    let open = format!("<{tag}>");
    let start = xml.find(&open).map(|i| i + open.len()).unwrap_or_else(|| panic!("no <{tag}> in {xml}"));
    let end = xml[start..].find('<').map(|i| start + i).unwrap_or_else(|| panic!("unterminated <{tag}> in {xml}"));
    xml[start..end].to_owned()
}

async fn ec2(query: &str) -> String {
    moto_call("ec2", None, "application/x-www-form-urlencoded", &format!("{query}&Version=2016-11-15")).await
}

/// A registered WorkSpaces directory: an existing one if moto has one (moto allows ten
/// Simple AD directories per account, and desks here never collide), else a new one.
async fn directory(client: &Client) -> DirectoryId {
    let existing = client.describe_workspace_directories().send().await.expect("DescribeWorkspaceDirectories");
    if let Some(id) = existing.directories().iter().find_map(|d| d.directory_id()) {
        return DirectoryId::new(id).expect("moto's directory IDs are d- and 10 hex digits");
    }
    let vpc = xml_value(&ec2("Action=CreateVpc&CidrBlock=10.42.0.0%2F16").await, "vpcId");
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.42.1.0%2F24", "us-east-1a"), ("10.42.2.0%2F24", "us-east-1b")] {
        let answer = ec2(&format!("Action=CreateSubnet&VpcId={vpc}&CidrBlock={cidr}&AvailabilityZone={zone}")).await;
        subnets.push(xml_value(&answer, "subnetId"));
    }
    let request = serde_json::json!({
        "Name": "corp.blankslate.example",
        "Password": "Blank-Slate-42",
        "Size": "Small",
        "VpcSettings": { "VpcId": vpc, "SubnetIds": subnets },
    });
    let answer = moto_call(
        "ds",
        Some("DirectoryService_20150416.CreateDirectory"),
        "application/x-amz-json-1.1",
        &request.to_string(),
    )
    .await;
    let answer: serde_json::Value = serde_json::from_str(&answer).expect("CreateDirectory answers JSON");
    let id = answer["DirectoryId"].as_str().expect("a DirectoryId").to_owned();
    client.register_workspace_directory().directory_id(&id).send().await.expect("RegisterWorkspaceDirectory");
    DirectoryId::new(id).expect("moto's directory IDs are d- and 10 hex digits")
}

async fn set_up() -> (AwsWorkspaces, DirectoryId) {
    let config = common::sdk_config(&common::moto()).await;
    let directory = directory(&Client::new(&config)).await;
    (AwsWorkspaces::new(&config), directory)
}

fn user() -> UserName {
    UserName::new(common::unique("user")).expect("valid")
}

/// Three desks with different specs: a KMS key on both volumes, AUTO_STOP with its
/// timeout, a key on the user volume only, tags on two of them.
fn three_specs(directory: &DirectoryId) -> Vec<WorkspaceSpec> {
    let bundle = BundleId::new("wsb-vw0mb86zg").expect("valid");
    let mut encrypted = WorkspaceSpec::new(directory.clone(), user(), bundle.clone());
    encrypted.encryption = VolumeEncryption::from_request_fields(
        Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
        true,
        true,
    )
    .expect("valid");
    encrypted.properties = WorkspaceProperties {
        running_mode: Some(RunningMode::AlwaysOn),
        root_volume_size_gib: Some(80),
        user_volume_size_gib: Some(50),
        compute_type: Some(ComputeType::new("STANDARD").expect("valid")),
        protocols: vec![Protocol::Pcoip],
        operating_system_name: None,
    };
    encrypted.tags = Tags::from_pairs([("blankslate", "managed"), ("team", "lab"), ("empty", "")]).expect("valid");

    let mut auto_stop = WorkspaceSpec::new(directory.clone(), user(), bundle.clone());
    auto_stop.properties = WorkspaceProperties {
        running_mode: Some(RunningMode::AutoStop { timeout: Some(AutoStopTimeout::new(120).expect("valid")) }),
        root_volume_size_gib: Some(175),
        user_volume_size_gib: Some(100),
        compute_type: Some(ComputeType::new("GENERALPURPOSE_4XLARGE").expect("valid")),
        protocols: vec![Protocol::Wsp],
        operating_system_name: Some(OperatingSystemName::new("WINDOWS_SERVER_2022").expect("valid")),
    };
    auto_stop.tags = Tags::from_pairs([("blankslate", "managed")]).expect("valid");

    let mut manual = WorkspaceSpec::new(directory.clone(), user(), bundle);
    manual.encryption = VolumeEncryption::from_request_fields(Some("alias/workspaces"), false, true).expect("valid");
    manual.properties.running_mode = Some(RunningMode::Manual);
    vec![encrypted, auto_stop, manual]
}

#[tokio::test]
async fn a_batch_create_comes_back_with_the_same_specs_and_terminates() {
    let (workspaces, directory) = set_up().await;
    let specs = three_specs(&directory);

    let answer = workspaces.create(&specs).await.expect("CreateWorkspaces");
    assert!(answer.failed.is_empty(), "{:?}", answer.failed);
    let created: BTreeMap<_, _> = answer.pending.iter().cloned().collect();
    assert_eq!(created.len(), 3, "one pending WorkSpace per desk: {:?}", answer.pending);
    let ids: Vec<WorkspaceId> = specs.iter().map(|s| created[&s.desk()].clone()).collect();

    // By ID: every spec field comes back (tags are DescribeTags' business).
    let described = workspaces.describe(&ids).await.expect("DescribeWorkspaces by ID");
    assert_eq!(described.len(), 3);
    for (spec, id) in specs.iter().zip(&ids) {
        let found = described.iter().find(|d| d.id == *id).unwrap_or_else(|| panic!("{id} described"));
        assert_eq!(found.spec, WorkspaceSpec { tags: Tags::default(), ..spec.clone() }, "{id}");
        assert_eq!(found.state, WorkspaceState::Available);
        assert_eq!(workspaces.tags(id).await.expect("DescribeTags"), spec.tags, "{id}");
    }

    // The whole fleet (other tests' WorkSpaces included) holds all three.
    let all = workspaces.describe_all().await.expect("DescribeWorkspaces, every page");
    for id in &ids {
        assert!(all.iter().any(|d| d.id == *id), "{id} in describe_all");
    }

    // By desk: directory + user name finds exactly that WorkSpace.
    for (spec, id) in specs.iter().zip(&ids) {
        let found = workspaces.describe_desk(&spec.desk()).await.expect("DescribeWorkspaces by desk");
        assert_eq!(found.map(|d| d.id), Some(id.clone()));
    }

    // Terminate two; the third and an unknown ID stay.
    let unknown = WorkspaceId::new(common::unique("ws-")).expect("valid");
    let failed = workspaces.terminate(&[ids[0].clone(), ids[1].clone(), unknown.clone()]).await.expect("terminate");
    assert_eq!(failed.iter().map(|f| &f.key).collect::<Vec<_>>(), [&unknown], "{failed:?}");
    assert!(failed[0].message.contains(unknown.as_str()), "{failed:?}");
    let left = workspaces.describe(&ids).await.expect("DescribeWorkspaces by ID");
    assert_eq!(left.iter().map(|d| &d.id).collect::<Vec<_>>(), [&ids[2]]);
    assert_eq!(workspaces.describe_desk(&specs[0].desk()).await.expect("by desk"), None);
    assert!(workspaces.terminate(&ids[2..]).await.expect("terminate").is_empty());
}

#[tokio::test]
async fn failed_requests_map_back_to_their_desk() {
    let (workspaces, directory) = set_up().await;
    let bundle = BundleId::new("wsb-vw0mb86zg").expect("valid");
    let mut good = WorkspaceSpec::new(directory, user(), bundle.clone());
    good.properties.running_mode = Some(RunningMode::Manual);
    // A well-formed directory ID that is not registered: refused per item.
    let mut unregistered = WorkspaceSpec::new(DirectoryId::new("d-00000000aa").expect("valid"), user(), bundle);
    unregistered.properties.running_mode = Some(RunningMode::AlwaysOn);
    unregistered.tags = Tags::from_pairs([("blankslate", "managed")]).expect("valid");

    let answer = workspaces.create(&[unregistered.clone(), good.clone()]).await.expect("CreateWorkspaces");
    assert_eq!(answer.pending.iter().map(|(d, _)| d).collect::<Vec<_>>(), [&good.desk()]);
    assert_eq!(answer.failed.len(), 1, "{:?}", answer.failed);
    assert_eq!(answer.failed[0].key, unregistered.desk());
    assert_eq!(answer.failed[0].code, "ResourceNotFound.Directory");
    assert!(!answer.failed[0].message.is_empty());
    workspaces.terminate(&[answer.pending[0].1.clone()]).await.expect("clean up");
}

/// `set_tag` (CreateTags) as moto reads it: the tag appears in DescribeTags next to the
/// ones the WorkSpace was created with, and a WorkSpace of a directory is found by
/// `describe_directory`. moto has no DeleteTags (so `remove_tag` is proved against our
/// emulator only, in `workspaces_emulator.rs`) and its CreateTags appends instead of
/// replacing a key's value, so only a new key is set here.
#[tokio::test]
async fn set_tag_adds_the_opt_in_tag_and_a_directory_listing_finds_it() {
    let (workspaces, directory) = set_up().await;
    let mut spec = WorkspaceSpec::new(directory.clone(), user(), BundleId::new("wsb-vw0mb86zg").expect("valid"));
    spec.properties.running_mode = Some(RunningMode::AlwaysOn);
    spec.tags = Tags::from_pairs([("team", "lab")]).expect("valid");
    let answer = workspaces.create(std::slice::from_ref(&spec)).await.expect("CreateWorkspaces");
    let id = answer.pending.first().map(|(_, id)| id.clone()).expect("one pending WorkSpace");

    let key = blankslate_core::spec::TagKey::new("blankslate").expect("valid");
    let value = blankslate_core::spec::TagValue::new("on").expect("valid");
    workspaces.set_tag(&id, &key, &value).await.expect("CreateTags");
    assert_eq!(
        workspaces.tags(&id).await.expect("DescribeTags"),
        Tags::from_pairs([("team", "lab"), ("blankslate", "on")]).expect("valid")
    );

    let in_directory = workspaces.describe_directory(&directory, None).await.expect("by directory");
    assert!(in_directory.iter().any(|d| d.id == id), "{id} listed in {directory}");
    let for_user = workspaces.describe_directory(&directory, Some(&spec.user_name)).await.expect("by user");
    assert_eq!(for_user.iter().map(|d| &d.id).collect::<Vec<_>>(), [&id]);
    workspaces.terminate(&[id]).await.expect("clean up");
}
