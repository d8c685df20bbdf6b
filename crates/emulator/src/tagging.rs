//! The Resource Groups Tagging API's `GetResources`, for the emulator's WorkSpaces
//! (`X-Amz-Target: ResourceGroupsTaggingAPI_20170126.GetResources`, AWS JSON 1.1).
//!
//! Its rules, from the API reference (`resourcegroupstagging/latest/APIReference/
//! API_GetResources`): only resources that are or have been tagged are returned;
//! `ResourceARNList` takes 1 to 100 ARNs and cannot be combined with `TagFilters`;
//! `ResourcesPerPage` is 1 to 100; an unusable parameter is `InvalidParameterException`.
//! This emulator holds WorkSpaces only, so any other resource type matches nothing. AWS
//! documents no default page size; 50 here, so a full 100-ARN request comes in two
//! pages, which a client has to follow anyway.

use std::collections::BTreeMap;

use blankslate_core::ids::WorkspaceId;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::{next_token, parse_token, ApiError};
use crate::state::Shared;

/// The `X-Amz-Target` prefix of this API's operations.
pub(crate) const TARGET_PREFIX: &str = "ResourceGroupsTaggingAPI_20170126.";

/// The account the emulator's WorkSpaces belong to in the ARNs it makes up (ministack's
/// and moto's default account).
const ACCOUNT: &str = "000000000000";

const DEFAULT_PAGE: usize = 50;
const MAX_ARNS: usize = 100;

/// Every operation of the service model (2017-01-26), to tell a real operation this
/// emulator lacks from a name the API does not have.
const OPERATIONS: &[&str] = &[
    "DescribeReportCreation",
    "GetComplianceSummary",
    "GetResources",
    "GetTagKeys",
    "GetTagValues",
    "ListRequiredTags",
    "StartReportCreation",
    "TagResources",
    "UntagResources",
];

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct GetResourcesInput {
    #[serde(rename = "ResourceARNList")]
    resource_arn_list: Option<Vec<String>>,
    resource_type_filters: Option<Vec<String>>,
    tag_filters: Option<Vec<TagFilter>>,
    resources_per_page: Option<i64>,
    pagination_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TagFilter {
    key: Option<String>,
    values: Option<Vec<String>>,
}

/// Answers one request of this API; `operation` is the target without its prefix.
pub(crate) fn call(shared: &Shared, operation: &str, input: Value) -> Result<Value, ApiError> {
    match operation {
        "GetResources" => {
            shared.count("GetResources");
            let input = serde_json::from_value(input)
                .map_err(|e| ApiError::serialization(format!("Cannot read the input: {e}")))?;
            get_resources(shared, input)
        }
        known if OPERATIONS.contains(&known) => Err(ApiError::not_supported(known)),
        other => Err(ApiError::unknown_operation(Some(&format!("{TARGET_PREFIX}{other}")))),
    }
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError::coded("InvalidParameterException", message)
}

/// The WorkSpace an ARN names, if it names one: `arn:<partition>:workspaces:<region>:<account>:workspace/<id>`.
fn workspace_of(arn: &str) -> Result<Option<WorkspaceId>, ApiError> {
    let parts: Vec<&str> = arn.splitn(6, ':').collect();
    let ["arn", _partition, service, _region, _account, resource] = parts[..] else {
        return Err(invalid(format!("{arn} is not a valid ARN.")));
    };
    if service != "workspaces" {
        return Ok(None);
    }
    Ok(resource.strip_prefix("workspace/").and_then(|id| WorkspaceId::new(id).ok()))
}

/// A tagged WorkSpace as the answer shows it: its ARN and its tags.
type Tagged = (String, Vec<(String, String)>);

fn get_resources(shared: &Shared, input: GetResourcesInput) -> Result<Value, ApiError> {
    if input.resource_arn_list.is_some() && input.tag_filters.is_some() {
        return Err(invalid("You can't specify both ResourceARNList and TagFilters in the same request."));
    }
    let per_page = match input.resources_per_page {
        None => DEFAULT_PAGE,
        Some(n @ 1..=100) => n as usize,
        Some(n) => return Err(invalid(format!("ResourcesPerPage must be between 1 and 100, got {n}."))),
    };
    let types_match = input
        .resource_type_filters
        .as_ref()
        .is_none_or(|types| types.is_empty() || types.iter().any(|t| t == "workspaces" || t == "workspaces:workspace"));
    // The requested ARNs, each with the WorkSpace it names, or every WorkSpace.
    let asked: Option<Vec<(String, Option<WorkspaceId>)>> = match &input.resource_arn_list {
        Some(arns) if arns.is_empty() || arns.len() > MAX_ARNS => {
            return Err(invalid(format!("ResourceARNList takes 1 to {MAX_ARNS} ARNs, got {}.", arns.len())))
        }
        Some(arns) => Some(arns.iter().map(|arn| Ok((arn.clone(), workspace_of(arn)?))).collect::<Result<_, _>>()?),
        None => None,
    };
    let after =
        input.pagination_token.as_deref().filter(|t| !t.is_empty()).map(parse_token).transpose().map_err(|_| {
            invalid(format!("The pagination token {:?} is not valid.", input.pagination_token.unwrap_or_default()))
        })?;
    let region = shared.region().to_owned();
    let tagged: BTreeMap<WorkspaceId, Tagged> = shared.with_world(|world| {
        world.count_api_call("GetResources");
        let candidates: Vec<(WorkspaceId, String)> = match &asked {
            Some(asked) => asked.iter().filter_map(|(arn, id)| Some((id.clone()?, arn.clone()))).collect(),
            None => world
                .views(None)
                .filter(|v| v.visible)
                .map(|v| (v.id.clone(), format!("arn:aws:workspaces:{region}:{ACCOUNT}:workspace/{}", v.id)))
                .collect(),
        };
        candidates
            .into_iter()
            .filter_map(|(id, arn)| {
                let tags = world.describe_tags(&id).filter(|t| !t.is_empty())?;
                let pairs = tags.iter().map(|(k, v)| (k.as_str().to_owned(), v.as_str().to_owned())).collect();
                Some((id, (arn, pairs)))
            })
            .collect()
    });
    let filters = input.tag_filters.unwrap_or_default();
    let matching = tagged.into_iter().filter(|(id, (_, tags))| {
        types_match
            && after.as_ref().is_none_or(|after| id > after)
            && filters.iter().all(|f| {
                tags.iter().any(|(k, v)| {
                    Some(k) == f.key.as_ref()
                        && f.values.as_ref().is_none_or(|values| values.is_empty() || values.contains(v))
                })
            })
    });
    let page: Vec<(WorkspaceId, Tagged)> = matching.take(per_page + 1).collect();
    let more = page.len() > per_page;
    let page = &page[..page.len().min(per_page)];
    let list: Vec<Value> = page
        .iter()
        .map(|(_, (arn, tags))| {
            let tags: Vec<Value> = tags.iter().map(|(k, v)| json!({ "Key": k, "Value": v })).collect();
            json!({ "ResourceARN": arn, "Tags": tags })
        })
        .collect();
    let token = match (more, page.last()) {
        (true, Some((last, _))) => next_token(last),
        _ => String::new(),
    };
    Ok(json!({ "PaginationToken": token, "ResourceTagMappingList": list }))
}
