//! `blankslate deploy` and `blankslate destroy`: flags in, `blankslate_deploy` does the work.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use blankslate_deploy::params::LOG_RETENTION_DAYS;
use blankslate_deploy::{
    AlarmMode, Architecture, DeployOutcome, DeployRequest, DestroyRequest, Session, StackSettings,
};

use crate::args::{runtime, stack_name, AwsArgs};
use crate::Finding;

#[derive(Clone, Copy, clap::ValueEnum)]
enum AlarmModeArg {
    /// A SessionDisconnect alarm per WorkSpace (the seed's design; about 0.10 USD per desktop a month).
    PerWorkspace,
    /// No alarms: the reconciler reads connection states (for large fleets).
    Off,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ArchitectureArg {
    #[value(name = "x86_64")]
    X86_64,
    Arm64,
}

/// Options of `blankslate deploy`.
#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The CloudFormation stack (at most 41 characters: function names append 23).
    #[arg(long, default_value = "blankslate", value_parser = stack_name)]
    stack_name: String,
    /// What is managed, nothing else is ever touched: tag:KEY, tag:KEY=VALUE,
    /// directory:ID[,ID...], bundle:ID[,ID...] or all.
    #[arg(long, value_parser = selector)]
    selector: String,
    /// Minutes a disconnected user has to come back before the WorkSpace is rebuilt [template default: 10].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1440))]
    grace_minutes: Option<u32>,
    /// How often the reconciler runs, in minutes [template default: 1].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=60))]
    reconcile_minutes: Option<u32>,
    /// Disconnect detection [template default: per-workspace].
    #[arg(long, value_enum)]
    alarm_mode: Option<AlarmModeArg>,
    /// E-mail address subscribed to the admin notifications ("" removes it).
    #[arg(long)]
    notification_email: Option<String>,
    /// Create a CloudTrail trail (say false if the account has one) [template default: false].
    #[arg(long, value_name = "true|false", value_parser = clap::value_parser!(bool))]
    create_trail: Option<bool>,
    /// Days the trail's log files are kept (with --create-trail true) [template default: 365].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=3650))]
    trail_log_retention_days: Option<u32>,
    /// Retention of the functions' logs, one of CloudWatch Logs' values [template default: 90].
    #[arg(long, value_parser = log_retention)]
    log_retention_days: Option<u32>,
    /// Reserved concurrency of each event function [template default: 10].
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    event_functions_reserved_concurrency: Option<u32>,
    /// Customer-managed KMS keys of managed WorkSpaces' volumes, comma-separated ("" for none).
    #[arg(long, value_delimiter = ',')]
    volume_encryption_key_arns: Option<Vec<String>>,
    /// The functions' CPU; the zip must be built for it [default: x86_64].
    #[arg(long, value_enum)]
    architecture: Option<ArchitectureArg>,
    /// Same as --architecture arm64: builds with `scripts/package --arm64` (needs the
    /// aarch64-unknown-linux-gnu target) and deploys for Graviton.
    #[arg(long, conflicts_with = "architecture")]
    arm64: bool,
    /// Deploy this bootstrap zip (`bootstrap` at its root) instead of building or reusing
    /// target/lambda/bootstrap/bootstrap.zip.
    #[arg(long, value_name = "PATH")]
    zip: Option<PathBuf>,
    /// Artifacts bucket [default: blankslate-artifacts-<account>-<region>, created if missing].
    #[arg(long)]
    bucket: Option<String>,
    /// Deploy this template instead of the built-in one (a customised copy).
    #[arg(long, value_name = "PATH")]
    template: Option<PathBuf>,
    /// Show the change set, then delete it: nothing is executed.
    #[arg(long)]
    dry_run: bool,
    /// Stop following the stack after this many minutes (CloudFormation goes on).
    #[arg(long, default_value_t = 60)]
    wait_minutes: u64,
}

/// Options of `blankslate destroy`.
#[derive(clap::Args)]
pub struct DestroyArgs {
    #[command(flatten)]
    aws: AwsArgs,
    /// The CloudFormation stack.
    #[arg(long, default_value = "blankslate", value_parser = stack_name)]
    stack_name: String,
    /// Do not ask: delete without typing the stack name.
    #[arg(long)]
    yes: bool,
    /// Stop following the deletion after this many minutes (CloudFormation goes on).
    #[arg(long, default_value_t = 60)]
    wait_minutes: u64,
}

fn selector(text: &str) -> Result<String, String> {
    text.parse::<blankslate_core::selector::Selector>().map(|_| text.to_owned()).map_err(|e| e.to_string())
}

fn log_retention(text: &str) -> Result<u32, String> {
    let days: u32 = text.parse().map_err(|_| format!("{text:?} is not a number of days"))?;
    if LOG_RETENTION_DAYS.contains(&days) {
        Ok(days)
    } else {
        Err(format!("{days} is not one of CloudWatch Logs' retention periods: {LOG_RETENTION_DAYS:?}"))
    }
}

/// Runs `blankslate deploy`.
pub fn deploy(args: &DeployArgs, built_in_template: &str, out: &mut dyn Write) -> anyhow::Result<Finding> {
    let template = match &args.template {
        Some(path) => {
            std::fs::read_to_string(path).with_context(|| format!("reading the template {}", path.display()))?
        }
        None => built_in_template.to_owned(),
    };
    let architecture = match (args.arm64, args.architecture) {
        (true, _) | (false, Some(ArchitectureArg::Arm64)) => Architecture::Arm64,
        _ => Architecture::X86_64,
    };
    let settings = StackSettings {
        selector: args.selector.clone(),
        grace_minutes: args.grace_minutes,
        reconcile_minutes: args.reconcile_minutes,
        alarm_mode: args.alarm_mode.map(|m| match m {
            AlarmModeArg::PerWorkspace => AlarmMode::PerWorkspace,
            AlarmModeArg::Off => AlarmMode::Off,
        }),
        notification_email: args.notification_email.clone(),
        create_trail: args.create_trail,
        trail_log_retention_days: args.trail_log_retention_days,
        log_retention_days: args.log_retention_days,
        event_functions_reserved_concurrency: args.event_functions_reserved_concurrency,
        volume_encryption_key_arns: args
            .volume_encryption_key_arns
            .as_ref()
            .map(|arns| arns.iter().filter(|a| !a.is_empty()).cloned().collect()),
        architecture,
    };
    let checkout = std::env::current_dir().ok().and_then(|dir| blankslate_deploy::packaging::find_checkout(&dir));
    let request = DeployRequest {
        stack_name: args.stack_name.clone(),
        settings,
        zip: args.zip.clone(),
        checkout,
        bucket: args.bucket.clone(),
        template,
        dry_run: args.dry_run,
        wait: Duration::from_secs(args.wait_minutes.saturating_mul(60)),
    };
    let outcome = runtime()?.block_on(async {
        let session = Session::connect(args.aws.profile.as_deref(), args.aws.region.as_deref()).await?;
        blankslate_deploy::deploy(&session, &request, out).await
    })?;
    match outcome {
        DeployOutcome::Deployed { .. } | DeployOutcome::UpToDate | DeployOutcome::DryRun => Ok(Finding::Clean),
    }
}

/// Runs `blankslate destroy`, asking first unless `--yes`.
pub fn destroy(args: &DestroyArgs, input: &mut dyn BufRead, out: &mut dyn Write) -> anyhow::Result<Finding> {
    let request = DestroyRequest {
        stack_name: args.stack_name.clone(),
        wait: Duration::from_secs(args.wait_minutes.saturating_mul(60)),
    };
    runtime()?.block_on(async {
        let session = Session::connect(args.aws.profile.as_deref(), args.aws.region.as_deref()).await?;
        if !args.yes {
            confirm(&args.stack_name, session.region(), input)?;
        }
        blankslate_deploy::destroy(&session, &request, out).await?;
        Ok(Finding::Clean)
    })
}

/// Asks on stderr for the stack name, read from `input`; anything else aborts.
fn confirm(stack: &str, region: &str, input: &mut dyn BufRead) -> anyhow::Result<()> {
    let mut err = std::io::stderr().lock();
    write!(
        err,
        "This deletes stack {stack} in {region} and every Workspace_Disconnected_id_* alarm there. \
         No WorkSpace is touched; the journal table is kept.\nType the stack name ({stack}) to confirm: "
    )?;
    err.flush()?;
    let mut answer = String::new();
    input.read_line(&mut answer).context("reading the confirmation")?;
    if answer.trim() != stack {
        anyhow::bail!("not confirmed: nothing was deleted (type the stack name exactly, or pass --yes)");
    }
    Ok(())
}
