//! `blankslate`: the command-line tool. Glue only: the work is in the library crates.
//!
//! Exit codes, for scripts:
//! - 0: done, nothing wrong found;
//! - 1: the command failed (the message says why), or it found a problem (an invariant
//!   broken in a simulation, a `doctor` check that failed, an `enrol`/`release` tag call
//!   AWS refused);
//! - 2: bad usage (unknown flag, invalid value);
//! - 3: refused: nothing was done because a safety check said no (`rebuild` of a connected
//!   user without `--force`, of a WorkSpace the stack does not manage, or mid-rebuild;
//!   `release` of a desk mid-rebuild).

mod args;
mod demo;
mod deploy;
mod directory;
mod doctor;
mod enrol;
mod history;
mod rebuild;
mod simulate;
mod status;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Makes Amazon WorkSpaces non-persistent: when a user leaves and does not come back
/// within the grace period, their WorkSpace is rebuilt with the same spec.
#[derive(Parser)]
#[command(
    name = "blankslate",
    version,
    about,
    long_about = None,
    after_help = "Exit codes: 0 done; 1 failed (the message says why) or a problem found; 2 bad usage; \
                  3 refused by a safety check (e.g. `rebuild` of a connected user without --force)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a small fleet through a simulated working day (no AWS account needed) and
    /// compares the outcome with the seed's algorithm on the same day.
    Demo(demo::Args),
    /// Simulates a fleet on simulated AWS (school-day rush, call-centre shifts, kiosks, or
    /// a scenario file) under blankslate, the seed's algorithm or both; `--campaign N`
    /// runs N seeds with every fault on and reports each violation with its seed.
    Simulate(Box<simulate::Args>),
    /// Prints the CloudFormation template, for deploying with your own pipeline
    /// (`aws cloudformation deploy`, SAM, CDK include).
    Template,
    /// Packages the functions, uploads them and creates or updates the stack through a
    /// change set (`--dry-run` shows the change set only), then prints the outputs.
    Deploy(Box<deploy::DeployArgs>),
    /// Deletes the stack and the per-WorkSpace alarms the functions created; never a
    /// WorkSpace. The journal table is kept (DeletionPolicy Retain).
    Destroy(deploy::DestroyArgs),
    /// Opts WorkSpaces in: adds the deployed selector's tag to those chosen by ID,
    /// directory or user (`--dry-run` shows each change; asks unless `--yes`).
    Enrol(Box<enrol::TagArgs>),
    /// Opts WorkSpaces out: removes the deployed selector's tag from those chosen by ID,
    /// directory or user; they are never rebuilt again (`--dry-run`; asks unless `--yes`).
    Release(Box<enrol::TagArgs>),
    /// Checks the deployed stack: CloudTrail, rules and schedule, alarms, the functions'
    /// recent errors and their roles' permissions; prints PASS/WARN/FAIL with the fix.
    /// Exit code 1 when a check failed.
    Doctor(doctor::DoctorArgs),
    /// Every managed WorkSpace: user, directory, state, connection, journal phase and the
    /// next action with its time ("terminates in 4m00s unless the user reconnects");
    /// unmanaged WorkSpaces counted. `--output json` for scripts.
    Status(Box<status::StatusArgs>),
    /// The journal's record of rebuilds: when, why, how long, outcome (`--since 7d`).
    History(history::HistoryArgs),
    /// Rebuilds WorkSpaces now, through the journal and the reconciler, with the same
    /// checks as an automatic rebuild; refuses a connected user (exit 3) unless `--force`.
    Rebuild(rebuild::RebuildArgs),
    /// Active Directory housekeeping: `directory orphans [--delete] [--yes]` lists (and
    /// removes) computer objects of WorkSpaces that no longer exist.
    #[command(subcommand)]
    Directory(directory::DirectoryCommand),
}

/// `blankslate simulate` allocates and frees millions of small strings a simulated day
/// (every reconcile tick copies the journal, as the real port does); in a profile of a
/// 10,000-desk day glibc's malloc and free took about half the time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The CloudFormation template, built into the binary so the printed template always
/// matches the functions of this version.
const TEMPLATE: &str = include_str!("../../../deploy/blankslate.yaml");

/// What a command that ran to the end found.
pub enum Finding {
    /// Nothing wrong.
    Clean,
    /// A problem worth a non-zero exit code.
    Problem,
    /// A safety check refused (part of) the request: exit code 3.
    Refused,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = io::stdout().lock();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args, &mut out),
        Command::Simulate(args) => simulate::run(args, &mut out),
        Command::Template => out.write_all(TEMPLATE.as_bytes()).map(|()| Finding::Clean).map_err(Into::into),
        Command::Deploy(args) => deploy::deploy(args, TEMPLATE, &mut out),
        Command::Destroy(args) => deploy::destroy(args, &mut io::stdin().lock(), &mut out),
        Command::Enrol(args) => enrol::run(
            blankslate_ops::enrol::Direction::Enrol,
            args,
            &mut io::stdin().lock(),
            enrol::stdin_is_terminal(),
            &mut out,
        ),
        Command::Release(args) => enrol::run(
            blankslate_ops::enrol::Direction::Release,
            args,
            &mut io::stdin().lock(),
            enrol::stdin_is_terminal(),
            &mut out,
        ),
        Command::Doctor(args) => doctor::run(args, &mut out),
        Command::Status(args) => status::run(args, &mut out),
        Command::History(args) => history::run(args, &mut out),
        Command::Rebuild(args) => rebuild::run(args, &mut out),
        Command::Directory(command) => {
            directory::run(command, &mut io::stdin().lock(), enrol::stdin_is_terminal(), &mut out)
        }
    };
    let result = result.and_then(|finding| {
        out.flush()?;
        Ok(finding)
    });
    match result {
        Ok(Finding::Clean) => ExitCode::SUCCESS,
        Ok(Finding::Problem) => ExitCode::FAILURE,
        Ok(Finding::Refused) => ExitCode::from(3),
        // The reader went away (`blankslate demo | head`): not an error of ours.
        Err(e) if e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) if e.downcast_ref::<deploy::UsageError>().is_some() => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
