//! Tags in bulk (`AwsWorkspaces::tags_in_bulk`, the Resource Groups Tagging API's
//! GetResources) against our emulator over HTTP on loopback: tagged WorkSpaces come back
//! over two pages, untagged and unknown ones are left out, and the API's own error shapes
//! reach the SDK as its typed errors.

mod common;

use std::collections::BTreeMap;
use std::time::Duration;

use aws_sdk_resourcegroupstagging::operation::get_resources::GetResourcesError;
use aws_sdk_resourcegroupstagging::types::TagFilter;
use blankslate_aws::{AwsWorkspaces, WorkspaceArnPrefix};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_handlers::ports::{ErrorKind, Workspaces};

const PREFIX: &str = "arn:aws:workspaces:us-east-1:000000000000:workspace/";

fn spec(user: &str, tags: &[(&str, &str)]) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    spec.tags = Tags::from_pairs(tags.iter().copied()).unwrap();
    spec
}

#[tokio::test]
async fn a_hundred_workspaces_in_one_request_of_two_pages() {
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let sdk = common::sdk_config(&emulator.url()).await;
    let ws = AwsWorkspaces::new(&sdk).with_bulk_tags(&sdk, WorkspaceArnPrefix::new(PREFIX).unwrap());

    // 99 tagged WorkSpaces and one without tags, created 25 a call.
    let mut specs: Vec<WorkspaceSpec> = (0..99)
        .map(|i| spec(&format!("pupil{i:03}"), &[("blankslate", "on"), ("room", &format!("r{}", i % 3))]))
        .collect();
    specs.push(spec("untagged", &[]));
    let mut ids = BTreeMap::new();
    for chunk in specs.chunks(25) {
        let answer = ws.create(chunk).await.expect("create");
        assert!(answer.failed.is_empty(), "{answer:?}");
        ids.extend(answer.pending.into_iter().map(|(desk, id)| (desk.user_name.as_str().to_owned(), id)));
    }
    let all: Vec<WorkspaceId> = ids.values().cloned().collect();
    for _ in 0..100 {
        if ws.describe(&all[..25]).await.unwrap().len() == 25 && ws.describe(&all[75..]).await.unwrap().len() == 25 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let found = ws.tags_in_bulk(&all).await.expect("GetResources");
    assert_eq!(found.len(), 99, "every tagged WorkSpace, over both pages");
    assert!(!found.contains_key(&ids["untagged"]), "GetResources returns only tagged resources");
    let pupil = &ids["pupil004"];
    assert_eq!(found[pupil], Tags::from_pairs([("blankslate", "on"), ("room", "r1")]).unwrap());

    // An ID the emulator has never had is simply not in the answer.
    let unknown = WorkspaceId::new("ws-00000000z").unwrap();
    assert!(ws.tags_in_bulk(&[unknown, pupil.clone()]).await.unwrap().keys().eq([pupil]));
    assert!(ws.tags_in_bulk(&[]).await.unwrap().is_empty());

    // More than 100 is refused before anything is sent.
    let mut too_many = all.clone();
    too_many.push(WorkspaceId::new("ws-00000001z").unwrap());
    let error = ws.tags_in_bulk(&too_many).await.unwrap_err();
    assert_eq!((error.kind, error.operation), (ErrorKind::Rejected, "GetResources"), "{error}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn the_tagging_api_error_shapes() {
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let client = aws_sdk_resourcegroupstagging::Client::new(&common::sdk_config(&emulator.url()).await);

    let both = client
        .get_resources()
        .resource_arn_list(format!("{PREFIX}ws-abcd1234"))
        .tag_filters(TagFilter::builder().key("blankslate").build())
        .send()
        .await
        .unwrap_err();
    let error = both.into_service_error();
    assert!(matches!(error, GetResourcesError::InvalidParameterException(_)), "{error:?}");
    assert!(error.to_string().contains("ResourceARNList and TagFilters"), "{error}");

    let page = client.get_resources().resources_per_page(101).send().await.unwrap_err().into_service_error();
    assert!(matches!(page, GetResourcesError::InvalidParameterException(_)), "{page:?}");
    let token = client.get_resources().pagination_token("not ours").send().await.unwrap_err().into_service_error();
    assert!(matches!(token, GetResourcesError::InvalidParameterException(_)), "{token:?}");
    let arn = client.get_resources().resource_arn_list("ws-abcd1234").send().await.unwrap_err().into_service_error();
    assert!(matches!(arn, GetResourcesError::InvalidParameterException(_)), "{arn:?}");

    // Listing by type and tag filter, without ARNs: ARNs made up for the emulator's account.
    let ws = AwsWorkspaces::new(&common::sdk_config(&emulator.url()).await);
    let answer =
        ws.create(&[spec("kiosk1", &[("blankslate", "on")]), spec("staff1", &[("team", "it")])]).await.unwrap();
    let kiosk = answer.pending.iter().find(|(d, _)| d.user_name.as_str() == "kiosk1").unwrap().1.clone();
    let mut listed = Vec::new();
    for _ in 0..100 {
        listed = client
            .get_resources()
            .resource_type_filters("workspaces:workspace")
            .tag_filters(TagFilter::builder().key("blankslate").values("on").build())
            .send()
            .await
            .expect("GetResources by filter")
            .resource_tag_mapping_list()
            .iter()
            .filter_map(|m| m.resource_arn().map(str::to_owned))
            .collect();
        if !listed.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listed, [format!("{PREFIX}{kiosk}")]);
    let other_type = client.get_resources().resource_type_filters("ec2:instance").send().await.unwrap();
    assert!(other_type.resource_tag_mapping_list().is_empty());
    emulator.shutdown().await;
}
