//! WorkSpaces' tags in bulk, through the Resource Groups Tagging API: [`WorkspaceTagging`].
//!
//! DescribeTags takes one WorkSpace a call against the WorkSpaces API's shared and
//! undocumented rate; GetResources takes up to 100 ARNs a call against its own limit (15
//! calls a second, Tag Editor user guide, "Service quotas"). Tags are what S2 re-checks
//! and S3 carries, so they must still be tags AWS holds now: the answer is read as it
//! is, and what it leaves out is settled by `core::reconcile::settle_bulk_tags`.

use std::collections::BTreeMap;

use aws_config::SdkConfig;
use aws_sdk_resourcegroupstagging::Client;
use blankslate_core::ids::WorkspaceId;
use blankslate_core::reconcile::TAGS_BATCH;
use blankslate_core::spec::Tags;
use blankslate_core::ValidationError;
use blankslate_handlers::ports::PortResult;

use crate::error::{check_batch, port_error};

const OP: &str = "GetResources";

/// The ARN of a WorkSpace without its ID: `arn:<partition>:workspaces:<region>:<account>:workspace/`.
/// GetResources takes ARNs, and WorkSpaces answers with IDs only.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WorkspaceArnPrefix(String);

impl WorkspaceArnPrefix {
    /// Checks the form: partition `aws…`, service `workspaces`, a Region, a 12-digit
    /// account and the resource type `workspace/`.
    pub fn new(text: &str) -> Result<Self, ValidationError> {
        let bad = |why: &str| ValidationError::new("WorkSpace ARN prefix", text, why.to_owned());
        let parts: Vec<&str> = text.splitn(6, ':').collect();
        let [arn, partition, service, region, account, resource] = parts[..] else {
            return Err(bad("expected arn:<partition>:workspaces:<region>:<account>:workspace/"));
        };
        if arn != "arn" || !partition.starts_with("aws") {
            return Err(bad("must start with arn:aws"));
        }
        if service != "workspaces" {
            return Err(bad("the service must be workspaces"));
        }
        if region.is_empty() || !region.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(bad("the Region must be like us-east-1"));
        }
        if account.len() != 12 || !account.chars().all(|c| c.is_ascii_digit()) {
            return Err(bad("the account must be 12 digits"));
        }
        if resource != "workspace/" {
            return Err(bad("must end with :workspace/"));
        }
        Ok(Self(text.to_owned()))
    }

    fn arn(&self, id: &WorkspaceId) -> String {
        format!("{}{}", self.0, id.as_str())
    }

    fn id<'a>(&self, arn: &'a str) -> Option<&'a str> {
        arn.strip_prefix(self.0.as_str())
    }
}

/// GetResources over the SDK, for WorkSpaces of one account and Region.
#[derive(Clone, Debug)]
pub struct WorkspaceTagging {
    client: Client,
    prefix: WorkspaceArnPrefix,
}

impl WorkspaceTagging {
    /// A client for the Region, credentials, endpoint and policy in `config`.
    pub fn new(config: &SdkConfig, prefix: WorkspaceArnPrefix) -> Self {
        Self { client: Client::new(config), prefix }
    }

    /// The tags of the tagged WorkSpaces among `ids` (at most [`TAGS_BATCH`]), every page.
    /// A WorkSpace whose tags fail validation is left out with a warning: it is then read
    /// again through DescribeTags, whose error names it.
    pub async fn tags(&self, ids: &[WorkspaceId]) -> PortResult<BTreeMap<WorkspaceId, Tags>> {
        check_batch(OP, ids.len(), TAGS_BATCH)?;
        if ids.is_empty() {
            // Without ARNs the same call would list every tagged resource of the account.
            return Ok(BTreeMap::new());
        }
        let arns: Vec<String> = ids.iter().map(|id| self.prefix.arn(id)).collect();
        let mut pages = self.client.get_resources().set_resource_arn_list(Some(arns)).into_paginator().send();
        let mut found = BTreeMap::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(OP, e))?;
            for mapping in page.resource_tag_mapping_list() {
                let arn = mapping.resource_arn().unwrap_or_default();
                let Some(id) = self.prefix.id(arn).and_then(|id| WorkspaceId::new(id).ok()) else {
                    tracing::warn!(arn, "GetResources answered for a resource not asked for; ignored");
                    continue;
                };
                let pairs = mapping
                    .tags()
                    .iter()
                    .filter(|t| !t.key().to_ascii_lowercase().starts_with("aws:"))
                    .map(|t| (t.key(), t.value()));
                match Tags::from_pairs(pairs) {
                    Ok(tags) => {
                        found.insert(id, tags);
                    }
                    Err(e) => {
                        tracing::warn!(workspace_id = %id, error = %e, "tags that fail validation; reading them again")
                    }
                }
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefix_is_checked_part_by_part() {
        let good = WorkspaceArnPrefix::new("arn:aws:workspaces:eu-west-1:123456789012:workspace/").unwrap();
        let id = WorkspaceId::new("ws-0123456789").unwrap();
        assert_eq!(good.arn(&id), "arn:aws:workspaces:eu-west-1:123456789012:workspace/ws-0123456789");
        assert_eq!(good.id(&good.arn(&id)), Some("ws-0123456789"));
        assert!(WorkspaceArnPrefix::new("arn:aws-us-gov:workspaces:us-gov-west-1:123456789012:workspace/").is_ok());
        for (bad, says) in [
            ("", "expected arn:"),
            ("arn:aws:workspaces:eu-west-1:123456789012:workspace", "must end with :workspace/"),
            ("arn:aws:ec2:eu-west-1:123456789012:workspace/", "service must be workspaces"),
            ("arn:aws:workspaces:eu-west-1:1234:workspace/", "12 digits"),
            ("arn:aws:workspaces:EU:123456789012:workspace/", "Region"),
            ("urn:aws:workspaces:eu-west-1:123456789012:workspace/", "arn:aws"),
        ] {
            let error = WorkspaceArnPrefix::new(bad).unwrap_err().to_string();
            assert!(error.contains(says), "{bad:?}: {error}");
        }
    }
}
