//! The calls: STS for the account, S3 for the artifacts, CloudFormation for the stack,
//! CloudWatch (through `blankslate_aws::CloudWatchAlarms`) for the run-time alarms.
//!
//! Every decision is delegated to the pure modules; what is here is the order of the
//! calls and the translation of SDK answers and errors.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::provider::ProvideCredentials;
use aws_sdk_cloudformation::types::{Capability, ChangeSetStatus, ChangeSetType, Parameter};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    BucketLocationConstraint, CreateBucketConfiguration, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use blankslate_aws::{CloudWatchAlarms, DynamoJournal, Policy};
use blankslate_core::alarm::Owner;
use blankslate_handlers::ports::{Alarms, Journal};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::error::{classify, DeployError, ErrorClass, PackagingError};
use crate::packaging::{self, Step};
use crate::params::{Architecture, StackSettings};
use crate::stack::{self, ChangeSetKind, Event, Operation, Outcome};

/// Where the artifacts go inside the bucket.
const PREFIX: &str = "blankslate";

/// The AWS side of a command: one account, one Region, one set of credentials.
pub struct Session {
    config: SdkConfig,
    region: String,
    endpoint: Option<String>,
    cfn: aws_sdk_cloudformation::Client,
    s3: aws_sdk_s3::Client,
    sts: aws_sdk_sts::Client,
}

impl Session {
    /// Loads the standard chain (environment, `profile`, SSO, web identity, container
    /// and instance roles), and fails early, with what to do, when it yields no Region
    /// or no credentials: before minutes of packaging, not after.
    pub async fn connect(profile: Option<&str>, region: Option<&str>) -> Result<Self, DeployError> {
        // Uploads of a 15 MB zip on a slow link need longer attempts than the functions'
        // policy allows; the retry mode stays the same.
        let policy = Policy {
            connect_timeout: Duration::from_secs(10),
            attempt_timeout: Duration::from_secs(120),
            operation_timeout: Duration::from_secs(300),
            ..Policy::default()
        };
        let mut loader = policy.apply(aws_config::defaults(BehaviorVersion::latest()));
        if let Some(profile) = profile {
            loader = loader.profile_name(profile);
        }
        if let Some(region) = region {
            loader = loader.region(Region::new(region.to_owned()));
        }
        let config = loader.load().await;
        let region = config.region().map(|r| r.to_string()).ok_or(DeployError::NoRegion)?;
        let provider = config
            .credentials_provider()
            .ok_or_else(|| DeployError::NoCredentials { detail: "no credentials provider configured".into() })?;
        provider.provide_credentials().await.map_err(|e| DeployError::NoCredentials { detail: causes(&e) })?;
        let endpoint = config.endpoint_url().map(str::to_owned);
        // A custom endpoint (an emulator, an S3-compatible store) rarely resolves
        // bucket subdomains: address buckets by path there.
        let s3_config = aws_sdk_s3::config::Builder::from(&config).force_path_style(endpoint.is_some()).build();
        Ok(Self {
            cfn: aws_sdk_cloudformation::Client::new(&config),
            s3: aws_sdk_s3::Client::from_conf(s3_config),
            sts: aws_sdk_sts::Client::new(&config),
            config,
            region,
            endpoint,
        })
    }

    /// The Region the commands act in.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The loaded configuration, for other adapters (CloudWatch).
    pub fn sdk_config(&self) -> &SdkConfig {
        &self.config
    }

    async fn account(&self) -> Result<String, DeployError> {
        let out = self.sts.get_caller_identity().send().await.map_err(|e| aws_error("sts:GetCallerIdentity", e))?;
        out.account()
            .map(str::to_owned)
            .ok_or(DeployError::Aws { operation: "sts:GetCallerIdentity", detail: "no account in the answer".into() })
    }

    /// DescribeStacks by name; `None` when there is no such stack.
    async fn stack(&self, name: &str) -> Result<Option<aws_sdk_cloudformation::types::Stack>, DeployError> {
        match self.cfn.describe_stacks().stack_name(name).send().await {
            Ok(out) => Ok(out.stacks().first().cloned()),
            Err(e) => {
                let detail = DisplayErrorContext(&e).to_string();
                if classify(e.code(), &detail, false) == ErrorClass::StackNotFound {
                    Ok(None)
                } else {
                    Err(aws_error("cloudformation:DescribeStacks", e))
                }
            }
        }
    }

    /// The events not seen yet, oldest first; records them as seen.
    async fn new_events(&self, stack_id: &str, seen: &mut HashSet<String>) -> Result<Vec<Event>, DeployError> {
        let mut fresh = Vec::new();
        let mut token = None;
        // Newest first: stop at the first page holding an event already seen.
        for _ in 0..10 {
            let out = match self.cfn.describe_stack_events().stack_name(stack_id).set_next_token(token).send().await {
                Ok(out) => out,
                Err(e) => {
                    let detail = DisplayErrorContext(&e).to_string();
                    // A deleted stack's events may vanish with it (emulators): nothing new.
                    if classify(e.code(), &detail, false) == ErrorClass::StackNotFound {
                        break;
                    }
                    return Err(aws_error("cloudformation:DescribeStackEvents", e));
                }
            };
            let mut reached_seen = false;
            for e in out.stack_events() {
                let id = e.event_id().unwrap_or_default().to_owned();
                if seen.contains(&id) {
                    reached_seen = true;
                    continue;
                }
                fresh.push(Event {
                    time: e
                        .timestamp()
                        .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok())
                        .and_then(|t| t.get(11..19).map(str::to_owned))
                        .unwrap_or_default(),
                    logical_id: e.logical_resource_id().unwrap_or_default().to_owned(),
                    resource_type: e.resource_type().unwrap_or_default().to_owned(),
                    status: e.resource_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                    reason: e.resource_status_reason().map(str::to_owned),
                    id,
                });
            }
            token = out.next_token().map(str::to_owned);
            if reached_seen || token.is_none() {
                break;
            }
        }
        fresh.reverse();
        seen.extend(fresh.iter().map(|e| e.id.clone()));
        Ok(fresh)
    }

    /// Prints events as they come, with a spinner on the terminal, until `op` reaches a
    /// terminal status. `before` is the stack status before the operation began, so the
    /// old "UPDATE_COMPLETE" of the previous update is not taken for this one's end.
    async fn follow(
        &self,
        target: &Followed<'_>,
        seen: &mut HashSet<String>,
        out: &mut dyn Write,
    ) -> Result<String, DeployError> {
        let Followed { stack_id, stack_name, op, before, wait } = *target;
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} [{elapsed}]") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        let started = Instant::now();
        let mut history: Vec<Event> = Vec::new();
        let mut moved = false;
        for poll in 0.. {
            let fresh = self.new_events(stack_id, seen).await?;
            for event in &fresh {
                let line = stack::progress_line(event);
                bar.suspend(|| writeln!(out, "{line}"))?;
            }
            moved |= fresh.iter().any(Event::is_stack);
            let from_events = fresh.iter().rev().find(|e| e.is_stack()).map(|e| e.status.clone());
            history.extend(fresh);
            let status = match self.stack(stack_id).await? {
                Some(s) => s.stack_status().map(|s| s.as_str().to_owned()).unwrap_or_default(),
                None if op == Operation::Delete => "DELETE_COMPLETE".to_owned(),
                None => from_events.unwrap_or_default(),
            };
            let fresh_status = moved || before != Some(status.as_str());
            match stack::outcome(op, &status) {
                Outcome::Succeeded if fresh_status => {
                    bar.finish_and_clear();
                    return Ok(status);
                }
                Outcome::Failed if fresh_status => {
                    bar.finish_and_clear();
                    return Err(DeployError::StackFailed {
                        stack: stack_name.to_owned(),
                        status,
                        first_failure: stack::first_failure(&history),
                    });
                }
                _ => {}
            }
            if started.elapsed() > wait {
                bar.finish_and_clear();
                return Err(DeployError::Timeout {
                    stack: stack_name.to_owned(),
                    minutes: wait.as_secs() / 60,
                    status,
                });
            }
            bar.set_message(format!("{stack_name}: {status}, {} events", history.len()));
            tokio::time::sleep(stack::poll_delay(poll)).await;
        }
        unreachable!("the loop above only ends by returning")
    }
}

/// The operation [`Session::follow`] follows.
#[derive(Clone, Copy)]
struct Followed<'a> {
    stack_id: &'a str,
    stack_name: &'a str,
    op: Operation,
    /// The stack status before the operation began.
    before: Option<&'a str>,
    wait: Duration,
}

/// What `deploy` does; the fields mirror the command's flags.
pub struct DeployRequest {
    /// The stack name.
    pub stack_name: String,
    /// The template parameters given.
    pub settings: StackSettings,
    /// `--zip`: a built bootstrap zip to deploy as is.
    pub zip: Option<PathBuf>,
    /// The blankslate checkout to build in when no zip is given (and to look for the
    /// last build in); `None` outside one.
    pub checkout: Option<PathBuf>,
    /// `--bucket`: the artifacts bucket instead of `blankslate-artifacts-<account>-<region>`.
    pub bucket: Option<String>,
    /// The template text (the built-in one, or `--template`).
    pub template: String,
    /// Show the change set and stop.
    pub dry_run: bool,
    /// How long to follow the stack before giving up (it goes on in CloudFormation).
    pub wait: Duration,
}

/// How a deploy ended.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DeployOutcome {
    /// Created or updated; the stack's outputs.
    Deployed {
        /// OutputKey, OutputValue.
        outputs: Vec<(String, String)>,
    },
    /// The change set was empty.
    UpToDate,
    /// `--dry-run`: the change set was shown and deleted.
    DryRun,
}

/// Packages (or reuses) the bootstrap, uploads it and the template, and creates or
/// updates the stack through a change set, printing each step to `out`.
pub async fn deploy(
    session: &Session,
    request: &DeployRequest,
    out: &mut dyn Write,
) -> Result<DeployOutcome, DeployError> {
    let name = &request.stack_name;
    let arch = request.settings.architecture;

    // 1. The zip.
    let checkout = request.checkout.as_deref();
    let built = checkout.and_then(|c| packaging::modified(&packaging::built_zip(c, arch)));
    let sources = checkout.and_then(packaging::newest_source);
    let zip_path = match packaging::choose(request.zip.as_deref(), checkout, arch, built, sources)? {
        Step::UseGiven(path) => {
            writeln!(out, "package: using {}", path.display())?;
            path
        }
        Step::Reuse(path) => {
            writeln!(out, "package: reusing {} (newer than the sources)", path.display())?;
            path
        }
        Step::Build { checkout, zip } => {
            writeln!(out, "package: building the bootstrap with `bash scripts/package` (takes minutes)")?;
            build(&checkout, arch)?;
            zip
        }
    };
    let zip = std::fs::read(&zip_path).map_err(|source| PackagingError::Read { path: zip_path.clone(), source })?;
    let binary = packaging::bootstrap_of(&zip_path, &zip)?;
    let needs = packaging::check_bootstrap(&binary, arch)?;
    let glibc = needs.glibc.map_or_else(|| "no glibc (static)".to_owned(), |v| format!("glibc {v}"));
    writeln!(out, "package: bootstrap for {}, needs {glibc} (Amazon Linux 2023 has 2.34)", arch.as_param())?;

    // 2. The artifacts.
    let bucket = match &request.bucket {
        Some(bucket) => bucket.clone(),
        None => stack::bucket_name(&session.account().await?, session.region()),
    };
    ensure_bucket(session, &bucket, out).await?;
    let code_key = packaging::content_key(&format!("{PREFIX}/bootstrap"), &zip, "zip");
    upload(session, &bucket, &code_key, zip, out).await?;
    let template_key = packaging::content_key(&format!("{PREFIX}/template"), request.template.as_bytes(), "yaml");
    upload(session, &bucket, &template_key, request.template.clone().into_bytes(), out).await?;
    let url = stack::template_url(session.endpoint.as_deref(), &bucket, session.region(), &template_key);

    // 3. The change set.
    let existing = session.stack(name).await?;
    let before = existing.as_ref().and_then(|s| s.stack_status()).map(|s| s.as_str().to_owned());
    let kind = stack::change_set_kind(before.as_deref()).map_err(|advice| DeployError::StackNotDeployable {
        stack: name.clone(),
        status: before.clone().unwrap_or_default(),
        advice,
    })?;
    let previous: BTreeMap<String, String> = match (&existing, kind) {
        (Some(s), ChangeSetKind::Update) => s
            .parameters()
            .iter()
            .filter_map(|p| Some((p.parameter_key()?.to_owned(), p.parameter_value()?.to_owned())))
            .collect(),
        _ => BTreeMap::new(),
    };
    let parameters: Vec<Parameter> = request
        .settings
        .parameters(&bucket, &code_key, &previous)
        .into_iter()
        .map(|(k, v)| Parameter::builder().parameter_key(k).parameter_value(v).build())
        .collect();
    let capabilities: Vec<Capability> =
        stack::capabilities(&request.template).into_iter().map(Capability::from).collect();
    let change_set_name = format!(
        "blankslate-{}",
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    );
    writeln!(
        out,
        "stack {name} in {}: {} change set {change_set_name}",
        session.region(),
        if kind == ChangeSetKind::Create { "creating it with" } else { "updating it with" }
    )?;
    let created = session
        .cfn
        .create_change_set()
        .stack_name(name)
        .change_set_name(&change_set_name)
        .change_set_type(match kind {
            ChangeSetKind::Create => ChangeSetType::Create,
            ChangeSetKind::Update => ChangeSetType::Update,
        })
        .template_url(url)
        .set_parameters(Some(parameters))
        .set_capabilities(Some(capabilities))
        .description("blankslate deploy")
        .send()
        .await
        .map_err(|e| aws_error("cloudformation:CreateChangeSet", e))?;
    let change_set = created.id().unwrap_or(&change_set_name).to_owned();
    let stack_id = created.stack_id().unwrap_or(name).to_owned();

    // 4. Wait for it, show it.
    let changes = match describe_change_set(session, name, &change_set).await? {
        ChangeSetState::Ready(changes) => changes,
        ChangeSetState::Empty => {
            let _ = session.cfn.delete_change_set().change_set_name(&change_set).stack_name(&stack_id).send().await;
            writeln!(out, "stack {name} is already up to date: nothing to change")?;
            return Ok(DeployOutcome::UpToDate);
        }
    };
    writeln!(out, "changes:")?;
    write!(out, "{}", stack::change_table(&changes))?;

    if request.dry_run {
        session
            .cfn
            .delete_change_set()
            .change_set_name(&change_set)
            .stack_name(&stack_id)
            .send()
            .await
            .map_err(|e| aws_error("cloudformation:DeleteChangeSet", e))?;
        if kind == ChangeSetKind::Create {
            // The CREATE change set made an empty stack in REVIEW_IN_PROGRESS; it holds no
            // resources, so removing it leaves the account as it was.
            session
                .cfn
                .delete_stack()
                .stack_name(&stack_id)
                .send()
                .await
                .map_err(|e| aws_error("cloudformation:DeleteStack", e))?;
        }
        writeln!(out, "dry run: nothing executed; the change set was deleted")?;
        return Ok(DeployOutcome::DryRun);
    }

    // 5. Execute and follow.
    let mut seen = HashSet::new();
    session.new_events(&stack_id, &mut seen).await?;
    session
        .cfn
        .execute_change_set()
        .change_set_name(&change_set)
        .stack_name(&stack_id)
        .send()
        .await
        .map_err(|e| aws_error("cloudformation:ExecuteChangeSet", e))?;
    let target = Followed {
        stack_id: &stack_id,
        stack_name: name,
        op: kind.into(),
        before: before.as_deref(),
        wait: request.wait,
    };
    let status = session.follow(&target, &mut seen, out).await?;
    writeln!(out, "stack {name}: {status}")?;
    let outputs: Vec<(String, String)> = session
        .stack(&stack_id)
        .await?
        .map(|s| {
            s.outputs()
                .iter()
                .filter_map(|o| Some((o.output_key()?.to_owned(), o.output_value().unwrap_or_default().to_owned())))
                .collect()
        })
        .unwrap_or_default();
    writeln!(out, "outputs:")?;
    let width = outputs.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    for (key, value) in &outputs {
        writeln!(out, "  {key:<width$}  {value}")?;
    }
    Ok(DeployOutcome::Deployed { outputs })
}

/// Runs `scripts/package`, its output on stderr so stdout stays the deploy's report.
fn build(checkout: &std::path::Path, arch: Architecture) -> Result<(), PackagingError> {
    let mut command = Command::new("bash");
    command.arg(checkout.join("scripts/package")).current_dir(checkout).stdout(Stdio::from(std::io::stderr()));
    if arch == Architecture::Arm64 {
        command.arg("--arm64");
    }
    let status = command.status().map_err(|e| PackagingError::ScriptFailed { detail: e.to_string() })?;
    if status.success() {
        Ok(())
    } else {
        Err(PackagingError::ScriptFailed { detail: status.to_string() })
    }
}

/// Creates the bucket if it does not exist: private (all public access blocked) and
/// encrypted at rest (SSE-S3), since it holds the code of functions that may terminate
/// WorkSpaces.
async fn ensure_bucket(session: &Session, bucket: &str, out: &mut dyn Write) -> Result<(), DeployError> {
    match session.s3.head_bucket().bucket(bucket).send().await {
        Ok(_) => return Ok(()),
        Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 403 => {
            return Err(DeployError::BucketNotOwned { bucket: bucket.to_owned() });
        }
        Err(SdkError::ServiceError(e)) if e.raw().status().as_u16() == 404 => {}
        Err(e) => return Err(aws_error("s3:HeadBucket", e)),
    }
    writeln!(out, "bucket: creating {bucket} (private, encrypted)")?;
    let mut create = session.s3.create_bucket().bucket(bucket);
    if session.region() != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(session.region()))
                .build(),
        );
    }
    create.send().await.map_err(|e| aws_error("s3:CreateBucket", e))?;
    session
        .s3
        .put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws_error("s3:PutPublicAccessBlock", e))?;
    let by_default = ServerSideEncryptionByDefault::builder()
        .sse_algorithm(ServerSideEncryption::Aes256)
        .build()
        .map_err(|e| DeployError::Aws { operation: "s3:PutBucketEncryption", detail: e.to_string() })?;
    let encryption = ServerSideEncryptionConfiguration::builder()
        .rules(ServerSideEncryptionRule::builder().apply_server_side_encryption_by_default(by_default).build())
        .build()
        .map_err(|e| DeployError::Aws { operation: "s3:PutBucketEncryption", detail: e.to_string() })?;
    session
        .s3
        .put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(encryption)
        .send()
        .await
        .map_err(|e| aws_error("s3:PutBucketEncryption", e))?;
    Ok(())
}

/// Uploads unless the content-addressed key is already there.
async fn upload(
    session: &Session,
    bucket: &str,
    key: &str,
    body: Vec<u8>,
    out: &mut dyn Write,
) -> Result<(), DeployError> {
    if session.s3.head_object().bucket(bucket).key(key).send().await.is_ok() {
        writeln!(out, "upload: s3://{bucket}/{key} already there")?;
        return Ok(());
    }
    let size = body.len();
    session
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body))
        .send()
        .await
        .map_err(|e| aws_error("s3:PutObject", e))?;
    writeln!(out, "upload: s3://{bucket}/{key} ({size} bytes)")?;
    Ok(())
}

enum ChangeSetState {
    Ready(Vec<stack::Change>),
    Empty,
}

/// Polls DescribeChangeSet until CloudFormation has computed it; every page of changes.
async fn describe_change_set(session: &Session, stack_name: &str, id: &str) -> Result<ChangeSetState, DeployError> {
    let started = Instant::now();
    for poll in 0.. {
        let first = session
            .cfn
            .describe_change_set()
            .change_set_name(id)
            .send()
            .await
            .map_err(|e| aws_error("cloudformation:DescribeChangeSet", e))?;
        match first.status() {
            Some(ChangeSetStatus::CreateComplete) => {
                let mut changes = Vec::new();
                let mut page = first;
                loop {
                    changes.extend(page.changes().iter().filter_map(|c| c.resource_change()).map(|r| stack::Change {
                        action: r.action().map(|a| a.as_str().to_owned()).unwrap_or_default(),
                        logical_id: r.logical_resource_id().unwrap_or_default().to_owned(),
                        resource_type: r.resource_type().unwrap_or_default().to_owned(),
                        replacement: r.replacement().map(|x| x.as_str().to_owned()),
                    }));
                    let Some(token) = page.next_token().map(str::to_owned) else { break };
                    page = session
                        .cfn
                        .describe_change_set()
                        .change_set_name(id)
                        .next_token(token)
                        .send()
                        .await
                        .map_err(|e| aws_error("cloudformation:DescribeChangeSet", e))?;
                }
                return Ok(ChangeSetState::Ready(changes));
            }
            Some(ChangeSetStatus::Failed) => {
                let reason = first.status_reason().unwrap_or("no reason given").to_owned();
                if stack::is_empty_change_set(&reason) {
                    return Ok(ChangeSetState::Empty);
                }
                if classify(None, &reason, false) == ErrorClass::MissingCapabilities {
                    return Err(DeployError::MissingCapabilities { detail: reason });
                }
                return Err(DeployError::ChangeSetFailed { stack: stack_name.to_owned(), reason });
            }
            _ => {}
        }
        if started.elapsed() > Duration::from_secs(600) {
            return Err(DeployError::Timeout {
                stack: stack_name.to_owned(),
                minutes: 10,
                status: "change set pending".into(),
            });
        }
        tokio::time::sleep(stack::poll_delay(poll)).await;
    }
    unreachable!("the loop above only ends by returning")
}

/// What `destroy` does.
pub struct DestroyRequest {
    /// The stack name.
    pub stack_name: String,
    /// How long to follow the deletion.
    pub wait: Duration,
}

/// Deletes the stack, then every per-WorkSpace alarm its functions created at run time
/// (by this stack's name prefix; never another stack's). Alarms go after the stack, so no function is left to re-create one.
/// No WorkSpace is touched: this crate has no WorkSpaces client. Returns how many alarms
/// were deleted.
pub async fn destroy(session: &Session, request: &DestroyRequest, out: &mut dyn Write) -> Result<usize, DeployError> {
    let name = &request.stack_name;
    let stack = session
        .stack(name)
        .await?
        .ok_or_else(|| DeployError::StackNotFound { stack: name.clone(), region: session.region().to_owned() })?;
    let stack_id = stack.stack_id().unwrap_or(name).to_owned();
    let output = |key: &str| {
        stack.outputs().iter().find(|o| o.output_key() == Some(key)).and_then(|o| o.output_value()).map(str::to_owned)
    };
    let (journal, key, topic) = (output("JournalTableName"), output("KeyArn"), output("DisconnectTopicArn"));
    let before = stack.stack_status().map(|s| s.as_str().to_owned());

    let mut seen = HashSet::new();
    session.new_events(&stack_id, &mut seen).await?;
    writeln!(out, "stack {name} in {}: deleting", session.region())?;
    session
        .cfn
        .delete_stack()
        .stack_name(&stack_id)
        .send()
        .await
        .map_err(|e| aws_error("cloudformation:DeleteStack", e))?;
    let target = Followed {
        stack_id: &stack_id,
        stack_name: name,
        op: Operation::Delete,
        before: before.as_deref(),
        wait: request.wait,
    };
    session.follow(&target, &mut seen, out).await?;
    writeln!(out, "stack {name}: DELETE_COMPLETE")?;

    let owner = match blankslate_core::alarm::StackName::new(name.as_str()) {
        Ok(stack) => Owner::Stack(stack),
        Err(_) => Owner::Legacy,
    };
    let prefix = blankslate_core::alarm::prefix(&owner);
    let alarms = CloudWatchAlarms::new(session.sdk_config(), topic.unwrap_or_default()).owned_by(owner.clone());
    let alarm_error = |e: blankslate_handlers::ports::PortError| DeployError::Aws {
        operation: "cloudwatch alarms",
        detail: format!(
            "{e}; the stack is deleted, delete the remaining alarms with `aws cloudwatch describe-alarms \
             --alarm-name-prefix {prefix}` and `aws cloudwatch delete-alarms`"
        ),
    };
    // This stack's own alarms, and those of the seed's naming (from before stacks named
    // their alarms, not yet adopted) that watch a WorkSpace in this stack's journal, which
    // survives the stack. Other stacks' alarms are theirs.
    let journaled = match &journal {
        Some(table) => match DynamoJournal::new(session.sdk_config(), table.clone()).list().await {
            Ok(records) => records.iter().filter_map(|r| r.workspace_id().cloned()).collect(),
            Err(e) => {
                writeln!(out, "journal {table} unreadable ({e}): alarms of the seed's naming are left as they are")?;
                BTreeSet::new()
            }
        },
        None => BTreeSet::new(),
    };
    let (mut own, mut legacy) = (Vec::new(), Vec::new());
    for listed in alarms.list_alarm_family().await.map_err(alarm_error)? {
        if listed.owner == owner {
            own.push(listed.workspace);
        } else if listed.owner == Owner::Legacy && journaled.contains(&listed.workspace) {
            legacy.push(listed.workspace);
        }
    }
    for chunk in own.chunks(100) {
        alarms.delete_disconnect_alarms(chunk).await.map_err(alarm_error)?;
    }
    for chunk in legacy.chunks(100) {
        alarms.delete_legacy_alarms(chunk).await.map_err(alarm_error)?;
    }
    writeln!(
        out,
        "alarms: deleted {} alarm(s) of this stack ({prefix}*, and the seed's naming for its journal's WorkSpaces); \
         other stacks' alarms and every WorkSpace untouched",
        own.len() + legacy.len()
    )?;

    writeln!(out, "kept (DeletionPolicy Retain, so the journal survives a mistaken destroy):")?;
    let region = session.region();
    match &journal {
        Some(table) => writeln!(
            out,
            "  journal table {table}: delete it with `aws dynamodb delete-table --table-name {table} --region {region}`"
        )?,
        None => writeln!(
            out,
            "  the journal table (<stack>-Workspace_Journal): delete it with `aws dynamodb delete-table`"
        )?,
    }
    if let Some(key) = &key {
        writeln!(
            out,
            "  KMS key {key} (it encrypts the journal): `aws kms schedule-key-deletion --key-id {key} \
             --pending-window-in-days 7 --region {region}` after deleting the table"
        )?;
    }
    writeln!(out, "  the artifacts bucket (blankslate-artifacts-<account>-{region}, or your --bucket): `aws s3 rb s3://BUCKET --force`")?;
    Ok(own.len() + legacy.len())
}

/// An error and its sources, "a: b: c", without the Debug dump DisplayErrorContext adds.
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// Translates an SDK error into what the user must do.
fn aws_error<E, R>(operation: &'static str, err: SdkError<E, R>) -> DeployError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    let dispatch = matches!(err, SdkError::DispatchFailure(_) | SdkError::TimeoutError(_));
    let detail = DisplayErrorContext(&err).to_string();
    match classify(err.code(), &detail, dispatch) {
        ErrorClass::MissingCapabilities => DeployError::MissingCapabilities { detail },
        ErrorClass::NoCredentials => DeployError::NoCredentials { detail },
        ErrorClass::Unreachable => DeployError::Unreachable { operation, detail },
        ErrorClass::StackNotFound | ErrorClass::Other => DeployError::Aws { operation, detail },
    }
}
