//! `blankslate deploy` and `blankslate destroy`: flags in, `blankslate_deploy` does the work.

use std::io::{BufRead, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use blankslate_deploy::params::LOG_RETENTION_DAYS;
use blankslate_deploy::{
    AlarmMode, Architecture, DeployOutcome, DeployRequest, DestroyRequest, DirectoryChange, DirectoryCleanup, Session,
    StackSettings,
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
    #[command(flatten)]
    directory: DirectoryArgs,
}

/// Directory clean-up: deleting terminated WorkSpaces' computer objects from a function in
/// the directory's VPC. Left out entirely, the stack keeps its current settings; any of
/// them needs the five that make it work (base DN, URLs, subnets, group, secret).
#[derive(clap::Args)]
#[command(next_help_heading = "Directory clean-up (README: Active Directory)")]
pub struct DirectoryArgs {
    /// The WorkSpaces OU whose computer objects are deleted, e.g. OU=WorkSpaces,DC=corp,DC=example.
    #[arg(long = "directory-base-dn", value_name = "DN")]
    base_dn: Option<String>,
    /// An LDAPS URL of a domain controller (repeatable: tried in order).
    #[arg(long = "ldap-url", value_name = "URL")]
    ldap_urls: Vec<String>,
    /// Allow ldap:// URLs: the bind password then crosses the network unencrypted.
    #[arg(long)]
    allow_plain_ldap: bool,
    /// A subnet for the clean-up function, in the directory's VPC (repeatable or comma-separated).
    #[arg(long = "directory-subnet", value_name = "SUBNET", value_delimiter = ',')]
    subnets: Vec<String>,
    /// The clean-up function's security group (egress to the domain controllers on 636, to Secrets Manager on 443).
    #[arg(long = "directory-security-group", value_name = "SG")]
    security_group: Option<String>,
    /// The full ARN of the secret holding {"username": ..., "password": ...} of the bind account.
    #[arg(long = "directory-secret-arn", value_name = "ARN")]
    secret_arn: Option<String>,
    /// The customer-managed KMS key of that secret, if any ("" removes it).
    #[arg(long = "directory-secret-key-arn", value_name = "ARN")]
    secret_key_arn: Option<String>,
    /// PEM CA bundle to verify the domain controllers' certificates with ("" for the system's roots).
    #[arg(long = "directory-ca-bundle", value_name = "FILE")]
    ca_bundle: Option<PathBuf>,
    /// The computer-name prefix of this directory's WorkSpaces [template default: WSAMZN-].
    #[arg(long = "directory-prefix", value_name = "PREFIX")]
    prefix: Option<String>,
    /// Create a Secrets Manager endpoint in the VPC (for one with neither a NAT nor an endpoint) [template default: false].
    #[arg(long, value_name = "true|false", value_parser = clap::value_parser!(bool), requires = "vpc")]
    create_secrets_endpoint: Option<bool>,
    /// The VPC of --directory-subnet (for --create-secrets-endpoint).
    #[arg(long = "directory-vpc", value_name = "VPC")]
    vpc: Option<String>,
    /// Turn directory clean-up off: the function, its role and the endpoint are deleted and
    /// every directory setting goes back to its default.
    #[arg(long, conflicts_with_all = [
        "base_dn", "ldap_urls", "allow_plain_ldap", "subnets", "security_group", "secret_arn",
        "secret_key_arn", "ca_bundle", "prefix", "create_secrets_endpoint", "vpc",
    ])]
    no_directory_cleanup: bool,
}

/// A flag combination that cannot work: exit code 2, like clap's own.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

impl DirectoryArgs {
    /// The change to the `Directory*` parameters, every flag checked (the URLs and the CA
    /// bundle with the clean-up function's own rules), before anything loads.
    pub fn change(&self, stack_name: &str) -> Result<DirectoryChange, UsageError> {
        if self.no_directory_cleanup {
            return Ok(DirectoryChange::Off);
        }
        let any_given = self.base_dn.is_some()
            || !self.ldap_urls.is_empty()
            || self.allow_plain_ldap
            || !self.subnets.is_empty()
            || self.security_group.is_some()
            || self.secret_arn.is_some()
            || self.secret_key_arn.is_some()
            || self.ca_bundle.is_some()
            || self.prefix.is_some()
            || self.create_secrets_endpoint.is_some()
            || self.vpc.is_some();
        if !any_given {
            return Ok(DirectoryChange::Keep);
        }
        let usage = |message: String| UsageError(message);
        let base_dn =
            match self.base_dn.as_deref() {
                Some("") => {
                    return Err(usage(
                        "--directory-base-dn \"\": to turn directory clean-up off, pass --no-directory-cleanup".into(),
                    ))
                }
                Some(dn) => dn.to_owned(),
                None => return Err(usage(
                    "directory clean-up settings need --directory-base-dn DN (the WorkSpaces OU), with --ldap-url, \
                     --directory-subnet, --directory-security-group and --directory-secret-arn"
                        .into(),
                )),
            };
        let missing: Vec<&str> = [
            (self.ldap_urls.is_empty(), "--ldap-url URL"),
            (self.subnets.iter().all(String::is_empty), "--directory-subnet SUBNET"),
            (self.security_group.as_deref().unwrap_or("").is_empty(), "--directory-security-group SG"),
            (self.secret_arn.as_deref().unwrap_or("").is_empty(), "--directory-secret-arn ARN"),
        ]
        .into_iter()
        .filter_map(|(missing, flag)| missing.then_some(flag))
        .collect();
        if !missing.is_empty() {
            return Err(usage(format!(
                "--directory-base-dn needs {} too (they are given together whenever a directory setting changes)",
                missing.join(", ")
            )));
        }
        blankslate_directory::check_urls(&self.ldap_urls, self.allow_plain_ldap)
            .map_err(|e| usage(format!("--ldap-url: {e}")))?;
        let ca_bundle = match &self.ca_bundle {
            None => None,
            Some(path) if path.as_os_str().is_empty() => Some(String::new()),
            Some(path) => {
                let pem =
                    std::fs::read(path).map_err(|e| usage(format!("--directory-ca-bundle {}: {e}", path.display())))?;
                blankslate_directory::check_ca_bundle(&pem)
                    .map_err(|e| usage(format!("--directory-ca-bundle {}: {e}", path.display())))?;
                let text = String::from_utf8(pem)
                    .map_err(|_| usage(format!("--directory-ca-bundle {}: not UTF-8 text", path.display())))?;
                Some(text)
            }
        };
        let settings = DirectoryCleanup {
            base_dn,
            ldap_urls: self.ldap_urls.clone(),
            subnet_ids: self.subnets.iter().filter(|s| !s.is_empty()).cloned().collect(),
            security_group_id: self.security_group.clone().unwrap_or_default(),
            secret_arn: self.secret_arn.clone().unwrap_or_default(),
            allow_plain_ldap: self.allow_plain_ldap,
            secret_key_arn: self.secret_key_arn.clone(),
            ca_bundle,
            computer_name_prefix: self.prefix.clone(),
            create_secrets_endpoint: self.create_secrets_endpoint,
            vpc_id: self.vpc.clone(),
        };
        settings.check(stack_name).map_err(usage)?;
        Ok(DirectoryChange::On(Box::new(settings)))
    }
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
    let directory = args.directory.change(&args.stack_name)?;
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
        directory,
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
        "This deletes stack {stack} in {region} and its Workspace_Disconnected_{stack}_id_* alarms there. \
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
