//! What the model sends out, carried to real endpoints: session datapoints to CloudWatch
//! (PutMetricData), events to the three functions (Lambda Invoke, asynchronous), and the
//! domain join of each created WorkSpace (an LDAP add of its computer object).
//!
//! Why Invoke and not EventBridge PutEvents: the events are CloudTrail records and
//! "WorkSpaces Access" logins whose `source` is `aws.workspaces`, and emulators (like AWS)
//! refuse `aws.*` sources on PutEvents; invoking the function with the event EventBridge
//! would have delivered is what the function sees either way.
//!
//! One worker sends everything in order. A failure is logged and counted, never
//! propagated: a missing or broken endpoint must not take the WorkSpaces API down with it.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_sdk_cloudwatch::types::{Dimension, MetricDatum, StandardUnit};
use aws_sdk_lambda::types::InvocationType;
use blankslate_core::ids::WorkspaceId;
use blankslate_core::Timestamp;
use blankslate_sim::{Function, Metric, Output};
use serde::Serialize;
use tokio::sync::mpsc;

use crate::Options;

/// The credentials side effects are signed with: local emulators accept any, and a
/// real account must never be reachable from the emulator by accident.
const ACCESS_KEY: &str = "test";

/// How the side effects went so far (`GET /_control/effects`).
#[derive(Clone, Default, PartialEq, Eq, Debug, Serialize)]
pub struct EffectCounts {
    /// PutMetricData calls that succeeded.
    pub datapoints_sent: u64,
    /// PutMetricData calls that failed.
    pub datapoints_failed: u64,
    /// Datapoints dropped because no CloudWatch endpoint is configured.
    pub datapoints_skipped: u64,
    /// Invoke calls that succeeded.
    pub invocations_sent: u64,
    /// Invoke calls that failed.
    pub invocations_failed: u64,
    /// Events dropped because no Lambda endpoint is configured.
    pub invocations_skipped: u64,
    /// Successful invocations by function name.
    pub invoked: BTreeMap<String, u64>,
    /// Computer objects added to the directory.
    pub computers_joined: u64,
    /// Joins that failed.
    pub joins_failed: u64,
    /// Side effects queued and not yet attempted.
    pub queued: u64,
    /// The most recent failure, for a test's assertion message.
    pub last_error: Option<String>,
}

enum Job {
    Datapoint { workspace: WorkspaceId, metric: Metric, at: Timestamp },
    Invoke { function: String, event: serde_json::Value },
    Join { workspace: WorkspaceId },
}

/// The function names events go to, one per role.
#[derive(Clone, Debug)]
struct Names {
    alarm_create: String,
    alarm_delete: String,
    term_rebuild: String,
}

/// The side-effect queue and its counters.
pub(crate) struct Effects {
    sender: Mutex<Option<mpsc::UnboundedSender<Job>>>,
    counts: Arc<Mutex<EffectCounts>>,
    cloudwatch: bool,
    lambda: bool,
    directory: bool,
    names: Names,
}

fn lock(counts: &Mutex<EffectCounts>) -> MutexGuard<'_, EffectCounts> {
    counts.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Effects {
    /// Builds the clients for the configured endpoints and starts the worker.
    pub(crate) fn start(options: &Options) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let counts = Arc::new(Mutex::new(EffectCounts::default()));
        let cloudwatch = options.cloudwatch_endpoint.as_deref().map(|url| cloudwatch_client(url, &options.region));
        let lambda = options.lambda_endpoint.as_deref().map(|url| lambda_client(url, &options.region));
        let directory = options.join_directory.as_ref().and_then(|join| {
            match blankslate_directory::Directory::new(join.settings.clone()) {
                Ok(directory) => Some((directory, join.ou.clone())),
                Err(e) => {
                    tracing::warn!(error = %e, "the join directory's settings do not work: no computer objects");
                    None
                }
            }
        });
        let effects = Self {
            sender: Mutex::new(Some(sender)),
            counts: counts.clone(),
            cloudwatch: cloudwatch.is_some(),
            lambda: lambda.is_some(),
            directory: directory.is_some(),
            names: Names {
                alarm_create: options.functions.alarm_create.clone(),
                alarm_delete: options.functions.alarm_delete.clone(),
                term_rebuild: options.functions.term_rebuild.clone(),
            },
        };
        let worker = tokio::spawn(work(receiver, counts, cloudwatch, lambda, directory));
        (effects, worker)
    }

    /// Queues what the model sent out; what has no endpoint configured is counted as skipped.
    pub(crate) fn dispatch(&self, outputs: Vec<Output>) {
        if outputs.is_empty() {
            return;
        }
        let sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut counts = lock(&self.counts);
        for output in outputs {
            let job = match output {
                Output::Datapoint { workspace, metric, at } if self.cloudwatch => {
                    Job::Datapoint { workspace, metric, at }
                }
                Output::Datapoint { workspace, metric, .. } => {
                    tracing::debug!(%workspace, metric = metric.name(), "no CloudWatch endpoint: datapoint dropped");
                    counts.datapoints_skipped += 1;
                    continue;
                }
                Output::Deliver { function, event, .. } if self.lambda => {
                    Job::Invoke { function: self.name_of(function).to_owned(), event }
                }
                Output::Deliver { function, .. } => {
                    tracing::debug!(function = self.name_of(function), "no Lambda endpoint: event dropped");
                    counts.invocations_skipped += 1;
                    continue;
                }
            };
            match sender.as_ref().map(|s| s.send(job)) {
                Some(Ok(())) => counts.queued += 1,
                // Shutting down: what is not queued by now is not sent.
                _ => counts.last_error = Some("side effect dropped: the emulator is shutting down".into()),
            }
        }
    }

    /// Queues the domain join of WorkSpaces just created (nothing without a directory).
    pub(crate) fn join(&self, workspaces: Vec<WorkspaceId>) {
        if !self.directory || workspaces.is_empty() {
            return;
        }
        let sender = self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut counts = lock(&self.counts);
        for workspace in workspaces {
            if let Some(Ok(())) = sender.as_ref().map(|s| s.send(Job::Join { workspace })) {
                counts.queued += 1;
            }
        }
    }

    fn name_of(&self, function: Function) -> &str {
        match function {
            Function::AlarmCreate => &self.names.alarm_create,
            Function::AlarmDelete => &self.names.alarm_delete,
            Function::TermRebuild => &self.names.term_rebuild,
        }
    }

    /// The counters now.
    pub(crate) fn counts(&self) -> EffectCounts {
        lock(&self.counts).clone()
    }

    /// Zeroes the counters (side effects still queued keep counting when they finish).
    pub(crate) fn reset(&self) {
        let mut counts = lock(&self.counts);
        let queued = counts.queued;
        *counts = EffectCounts { queued, ..EffectCounts::default() };
    }

    /// Stops accepting side effects; the worker ends once the queue is drained.
    pub(crate) fn close(&self) {
        self.sender.lock().unwrap_or_else(|poisoned| poisoned.into_inner()).take();
    }
}

async fn work(
    mut receiver: mpsc::UnboundedReceiver<Job>,
    counts: Arc<Mutex<EffectCounts>>,
    cloudwatch: Option<aws_sdk_cloudwatch::Client>,
    lambda: Option<aws_sdk_lambda::Client>,
    directory: Option<(blankslate_directory::Directory, String)>,
) {
    while let Some(job) = receiver.recv().await {
        match job {
            Job::Join { workspace } => {
                let result = match (&directory, blankslate_sim::directory::computer_name_of(&workspace)) {
                    (Some((directory, ou)), Some(name)) => match directory.connect().await {
                        Ok(mut session) => {
                            let joined = session.join_computer(ou, &name).await.map_err(|e| e.to_string());
                            session.close().await;
                            joined
                        }
                        Err(e) => Err(e.to_string()),
                    },
                    (None, _) => Err("no directory".into()),
                    (_, None) => Err("no computer name".into()),
                };
                let mut counts = lock(&counts);
                counts.queued = counts.queued.saturating_sub(1);
                match result {
                    Ok(dn) => {
                        tracing::debug!(%workspace, %dn, "joined the directory");
                        counts.computers_joined += 1;
                    }
                    Err(e) => {
                        tracing::warn!(%workspace, error = %e, "domain join failed");
                        counts.joins_failed += 1;
                        counts.last_error = Some(format!("join {workspace}: {e}"));
                    }
                }
            }
            Job::Datapoint { workspace, metric, at } => {
                let result = match &cloudwatch {
                    Some(client) => put_datapoint(client, &workspace, metric, at).await,
                    None => Err("no CloudWatch endpoint".into()),
                };
                let mut counts = lock(&counts);
                counts.queued = counts.queued.saturating_sub(1);
                match result {
                    Ok(()) => counts.datapoints_sent += 1,
                    Err(e) => {
                        tracing::warn!(%workspace, metric = metric.name(), error = %e, "PutMetricData failed");
                        counts.datapoints_failed += 1;
                        counts.last_error = Some(format!("PutMetricData {} {workspace}: {e}", metric.name()));
                    }
                }
            }
            Job::Invoke { function, event } => {
                let result = match &lambda {
                    Some(client) => invoke(client, &function, &event).await,
                    None => Err("no Lambda endpoint".into()),
                };
                let mut counts = lock(&counts);
                counts.queued = counts.queued.saturating_sub(1);
                match result {
                    Ok(()) => {
                        counts.invocations_sent += 1;
                        *counts.invoked.entry(function).or_default() += 1;
                    }
                    Err(e) => {
                        tracing::warn!(%function, error = %e, "Lambda Invoke failed");
                        counts.invocations_failed += 1;
                        counts.last_error = Some(format!("Invoke {function}: {e}"));
                    }
                }
            }
        }
    }
}

/// One datapoint as WorkSpaces publishes it: `AWS/WorkSpaces`, dimension `WorkspaceId`, value 1.
async fn put_datapoint(
    client: &aws_sdk_cloudwatch::Client,
    workspace: &WorkspaceId,
    metric: Metric,
    at: Timestamp,
) -> Result<(), String> {
    let dimension = Dimension::builder().name("WorkspaceId").value(workspace.as_str()).build();
    let datum = MetricDatum::builder()
        .metric_name(metric.name())
        .dimensions(dimension)
        .value(1.0)
        .unit(StandardUnit::Count)
        .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_millis(at.as_millis()))
        .build();
    client
        .put_metric_data()
        .namespace("AWS/WorkSpaces")
        .metric_data(datum)
        .send()
        .await
        .map(|_| ())
        .map_err(|e| format!("{}", aws_sdk_cloudwatch::error::DisplayErrorContext(e)))
}

/// An asynchronous invocation, as an EventBridge target is invoked.
async fn invoke(client: &aws_sdk_lambda::Client, function: &str, event: &serde_json::Value) -> Result<(), String> {
    let payload = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let out = client
        .invoke()
        .function_name(function)
        .invocation_type(InvocationType::Event)
        .payload(aws_sdk_lambda::primitives::Blob::new(payload))
        .send()
        .await
        .map_err(|e| format!("{}", aws_sdk_lambda::error::DisplayErrorContext(e)))?;
    match out.function_error() {
        Some(error) => Err(format!("function error: {error}")),
        None => Ok(()),
    }
}

/// Side effects must not hang the queue: a short timeout, one retry.
fn timeouts() -> aws_sdk_cloudwatch::config::timeout::TimeoutConfig {
    aws_sdk_cloudwatch::config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_secs(3))
        .operation_timeout(Duration::from_secs(15))
        .build()
}

fn cloudwatch_client(endpoint: &str, region: &str) -> aws_sdk_cloudwatch::Client {
    use aws_sdk_cloudwatch::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_cloudwatch::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "blankslate-emulator"))
        .timeout_config(timeouts())
        .retry_config(aws_sdk_cloudwatch::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    aws_sdk_cloudwatch::Client::from_conf(config)
}

fn lambda_client(endpoint: &str, region: &str) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new(region.to_owned()))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(ACCESS_KEY, ACCESS_KEY, None, None, "blankslate-emulator"))
        .timeout_config(timeouts())
        .retry_config(aws_sdk_lambda::config::retry::RetryConfig::standard().with_max_attempts(2))
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}
