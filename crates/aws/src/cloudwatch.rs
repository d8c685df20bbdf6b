//! The per-WorkSpace SessionDisconnect alarms in CloudWatch: [`CloudWatchAlarms`].
//!
//! The alarm is the seed's: `AWS/WorkSpaces` `SessionDisconnect` for one WorkspaceId,
//! firing on one datapoint >= 1 in a minute, publishing to the disconnect topic. One
//! change: missing data is `notBreaching`, so after a disconnect the alarm drops back to
//! OK once the metric goes quiet and fires again on the next disconnect, instead of
//! staying in ALARM (the seed's default) and never notifying twice.

use aws_config::SdkConfig;
use aws_sdk_cloudwatch::types::{AlarmType, ComparisonOperator, Dimension, Statistic};
use aws_sdk_cloudwatch::Client;
use blankslate_core::alarm::{self, alarm_name, Listed, Owner, FAMILY_PREFIX};
use blankslate_core::ids::WorkspaceId;
use blankslate_handlers::ports::{Alarms, PortError, PortResult};

use crate::error::port_error;

/// DeleteAlarms takes at most 100 names per call.
const DELETE_BATCH: usize = 100;
/// DescribeAlarms returns at most 100 alarms per page.
const MAX_PAGE: i32 = 100;

/// [`Alarms`] over the AWS SDK.
#[derive(Clone, Debug)]
pub struct CloudWatchAlarms {
    client: Client,
    alarm_topic_arn: String,
    page_size: i32,
    owner: Owner,
}

impl CloudWatchAlarms {
    /// A client for `config`; every alarm it puts publishes to `alarm_topic_arn` (the
    /// deployment's `Workspace_Disconnected_Topic`, never a hard-coded account).
    pub fn new(config: &SdkConfig, alarm_topic_arn: String) -> Self {
        Self { client: Client::new(config), alarm_topic_arn, page_size: MAX_PAGE, owner: Owner::Legacy }
    }

    /// The alarms of `owner` (the deployment's `Config::alarm_owner`) instead of the seed's
    /// unowned naming.
    pub fn owned_by(mut self, owner: Owner) -> Self {
        self.owner = owner;
        self
    }

    /// Lists alarms `records` at a time (1 to 100, clamped) instead of 100. More pages cost
    /// more calls, so this exists for tests that prove every page is read.
    pub fn with_page_size(mut self, records: i32) -> Self {
        self.page_size = records.clamp(1, MAX_PAGE);
        self
    }

    async fn delete_names(&self, names: Vec<String>) -> PortResult<()> {
        for chunk in names.chunks(DELETE_BATCH) {
            self.delete_batch(chunk.to_vec()).await?;
        }
        Ok(())
    }

    /// Every alarm whose name starts with `prefix`, with its owner and WorkSpace.
    async fn list(&self, prefix: &str) -> PortResult<Vec<Listed>> {
        let mut pages = self
            .client
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .max_records(self.page_size)
            .into_paginator()
            .send();
        let mut listed = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error("DescribeAlarms", e))?;
            for found in page.metric_alarms() {
                match found.alarm_name().and_then(alarm::parse) {
                    Some(one) => listed.push(one),
                    // Same prefix, no owner and WorkSpace ID after it: someone else's alarm.
                    None => tracing::debug!(alarm = found.alarm_name().unwrap_or("<none>"), "not our alarm; ignored"),
                }
            }
        }
        Ok(listed)
    }

    async fn delete_batch(&self, names: Vec<String>) -> PortResult<()> {
        match self.delete(names.clone()).await {
            Ok(()) | Err(DeleteFailure::Missing) => Ok(()),
            Err(DeleteFailure::Failed(error)) => Err(error),
            // AWS may refuse the whole batch for one missing name: delete the others one
            // by one, so a leaked alarm does not survive beside a missing one.
            Err(DeleteFailure::SomeMissing) => {
                for name in names {
                    match self.delete(vec![name]).await {
                        Ok(()) | Err(DeleteFailure::Missing | DeleteFailure::SomeMissing) => {}
                        Err(DeleteFailure::Failed(error)) => return Err(error),
                    }
                }
                Ok(())
            }
        }
    }

    async fn delete(&self, names: Vec<String>) -> Result<(), DeleteFailure> {
        let single = names.len() == 1;
        match self.client.delete_alarms().set_alarm_names(Some(names)).send().await {
            Ok(_) => Ok(()),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found()) => {
                Err(if single { DeleteFailure::Missing } else { DeleteFailure::SomeMissing })
            }
            Err(e) => Err(DeleteFailure::Failed(port_error("DeleteAlarms", e))),
        }
    }
}

/// Why a DeleteAlarms call failed.
enum DeleteFailure {
    /// The one alarm named does not exist: the goal is met.
    Missing,
    /// One of several alarms named does not exist; the others may still.
    SomeMissing,
    /// Anything else.
    Failed(PortError),
}

impl Alarms for CloudWatchAlarms {
    async fn put_disconnect_alarm(&self, id: &WorkspaceId) -> PortResult<()> {
        self.client
            .put_metric_alarm()
            .alarm_name(alarm_name(&self.owner, id))
            .alarm_description(format!(
                "Owned by blankslate: fires when a user disconnects from WorkSpace {id}. \
                 Created and deleted automatically; do not edit."
            ))
            .namespace("AWS/WorkSpaces")
            .metric_name("SessionDisconnect")
            .dimensions(Dimension::builder().name("WorkspaceId").value(id.as_str()).build())
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .datapoints_to_alarm(1)
            .threshold(1.0)
            .comparison_operator(ComparisonOperator::GreaterThanOrEqualToThreshold)
            .treat_missing_data("notBreaching")
            .actions_enabled(true)
            .alarm_actions(self.alarm_topic_arn.as_str())
            .send()
            .await
            .map_err(|e| port_error("PutMetricAlarm", e))?;
        Ok(())
    }

    async fn delete_disconnect_alarms(&self, ids: &[WorkspaceId]) -> PortResult<()> {
        let mut names: Vec<String> = ids.iter().map(|id| alarm_name(&self.owner, id)).collect();
        if self.owner != Owner::Legacy {
            names.extend(ids.iter().map(|id| alarm_name(&Owner::Legacy, id)));
        }
        self.delete_names(names).await
    }

    async fn delete_legacy_alarms(&self, ids: &[WorkspaceId]) -> PortResult<()> {
        self.delete_names(ids.iter().map(|id| alarm_name(&Owner::Legacy, id)).collect()).await
    }

    async fn list_disconnect_alarms(&self) -> PortResult<Vec<WorkspaceId>> {
        let listed = self.list(&alarm::prefix(&self.owner)).await?;
        Ok(listed.into_iter().filter(|l| l.owner == self.owner).map(|l| l.workspace).collect())
    }

    async fn list_alarm_family(&self) -> PortResult<Vec<Listed>> {
        self.list(FAMILY_PREFIX).await
    }
}
