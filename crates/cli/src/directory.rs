//! `blankslate directory orphans`: the computer objects under the WorkSpaces OU that look
//! like WorkSpaces and belong to none that exists; `--delete` removes them after showing
//! the list and asking (`--yes` for scripts), each through the same S5 guard as the
//! reconciler's clean-up.

use std::io::{BufRead, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context;
use blankslate_core::directory::{Outcome, WORKSPACES_PREFIX};
use blankslate_core::Timestamp;
use blankslate_directory::{find_orphans, Directory, Settings};

use crate::args::{runtime, AwsArgs};
use crate::Finding;

/// `blankslate directory ...`.
#[derive(clap::Subcommand)]
pub enum DirectoryCommand {
    /// Lists computer objects that look like WorkSpaces (name prefix) and match no
    /// existing WorkSpace's ComputerName; `--delete` removes them after asking.
    Orphans(Box<OrphansArgs>),
}

/// How to reach the directory (the same settings the clean-up function takes).
#[derive(clap::Args)]
pub struct LdapArgs {
    /// An LDAPS URL of a domain controller (repeatable: tried in order).
    #[arg(long = "ldap-url", value_name = "URL", required = true)]
    ldap_urls: Vec<String>,
    /// The WorkSpaces OU, e.g. OU=WorkSpaces,DC=corp,DC=example.
    #[arg(long = "directory-base-dn", value_name = "DN")]
    base_dn: String,
    /// The bind account: a DN or user@domain.
    #[arg(long = "bind-user", value_name = "USER")]
    bind_user: String,
    /// The environment variable holding the bind password (never a flag: it would show in
    /// the process list and the shell's history).
    #[arg(long = "password-env", value_name = "VAR", default_value = "BLANKSLATE_LDAP_PASSWORD")]
    password_env: String,
    /// PEM CA bundle to verify the servers' certificates with (default: the system's roots).
    #[arg(long = "directory-ca-bundle", value_name = "FILE")]
    ca_bundle: Option<std::path::PathBuf>,
    /// Allow ldap:// URLs: the bind password then crosses the network unencrypted.
    #[arg(long)]
    allow_plain_ldap: bool,
}

impl LdapArgs {
    /// The adapter, with the password read from the environment.
    pub fn directory(&self) -> anyhow::Result<Directory> {
        let password = std::env::var(&self.password_env).with_context(|| {
            format!("the bind password: set {} (or name another variable with --password-env)", self.password_env)
        })?;
        let ca_bundle_pem = match &self.ca_bundle {
            Some(path) => {
                Some(std::fs::read(path).with_context(|| format!("reading the CA bundle {}", path.display()))?)
            }
            None => None,
        };
        Ok(Directory::new(Settings {
            urls: self.ldap_urls.clone(),
            bind_user: self.bind_user.clone(),
            password,
            base_dn: self.base_dn.clone(),
            ca_bundle_pem,
            allow_plain_ldap: self.allow_plain_ldap,
            timeout: Duration::from_secs(10),
        })?)
    }
}

/// `blankslate directory orphans`.
#[derive(clap::Args)]
pub struct OrphansArgs {
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    ldap: LdapArgs,
    /// The computer-name prefix of WorkSpaces in this directory.
    #[arg(long, default_value = WORKSPACES_PREFIX)]
    prefix: String,
    /// Delete the listed objects (after asking, unless --yes).
    #[arg(long)]
    delete: bool,
    /// Do not ask (needed when stdin is not a terminal).
    #[arg(long, requires = "delete")]
    yes: bool,
}

fn now() -> Timestamp {
    Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64))
}

/// Runs `blankslate directory ...`.
pub fn run(
    command: &DirectoryCommand,
    input: &mut dyn BufRead,
    interactive: bool,
    out: &mut dyn Write,
) -> anyhow::Result<Finding> {
    let DirectoryCommand::Orphans(args) = command;
    let directory = args.ldap.directory()?;
    runtime()?.block_on(async {
        let session = blankslate_ops::connect(args.aws.profile.as_deref(), args.aws.region.as_deref()).await?;
        let workspaces = blankslate_aws::AwsWorkspaces::new(session.sdk_config());
        let mut ldap = directory.connect().await?;
        let listed_at = now();
        let orphans = find_orphans(&workspaces, &mut ldap, &args.prefix).await?;
        for o in &orphans {
            let created = o.when_created.map_or_else(|| "-".to_string(), |t| t.to_rfc3339());
            writeln!(out, "{:<16} {:<26} {}", o.computer_name(), created, o.dn)?;
        }
        writeln!(
            out,
            "{} orphaned computer object(s) under {} (named {}*, matching no WorkSpace in {})",
            orphans.len(),
            args.ldap.base_dn,
            args.prefix,
            session.region()
        )?;
        if !args.delete || orphans.is_empty() {
            return Ok(Finding::Clean);
        }
        if !args.yes {
            if !interactive {
                anyhow::bail!(
                    "not confirmed: stdin is not a terminal, so there is no one to ask. Pass --yes to delete {} object(s) without asking; nothing was deleted",
                    orphans.len()
                );
            }
            let mut err = std::io::stderr().lock();
            write!(err, "delete {} computer object(s)? [y/N] ", orphans.len())?;
            err.flush()?;
            let mut answer = String::new();
            input.read_line(&mut answer).context("reading the confirmation")?;
            if !matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
                anyhow::bail!("not confirmed: nothing was deleted");
            }
        }
        let mut failed = 0;
        for o in &orphans {
            match ldap.delete_orphan(o, listed_at).await {
                Ok(Outcome::Deleted { dn }) => writeln!(out, "deleted {dn}")?,
                Ok(Outcome::NothingToDelete) => writeln!(out, "{}: already gone", o.dn)?,
                Ok(other) => {
                    failed += 1;
                    writeln!(out, "{}: not deleted ({other:?})", o.dn)?
                }
                Err(e) => {
                    failed += 1;
                    writeln!(out, "{}: not deleted: {e}", o.dn)?
                }
            }
        }
        ldap.close().await;
        Ok(if failed > 0 { Finding::Problem } else { Finding::Clean })
    })
}
