//! `blankslate`: the command-line tool. Glue only: the work is in the library crates.
//!
//! Exit codes, for scripts:
//! - 0: done, nothing wrong found;
//! - 1: the command failed (the message says why), or it found a problem (an invariant
//!   broken in a simulation);
//! - 2: bad usage (unknown flag, invalid value).

mod demo;
mod deploy;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Makes Amazon WorkSpaces non-persistent: when a user leaves and does not come back
/// within the grace period, their WorkSpace is rebuilt with the same spec.
#[derive(Parser)]
#[command(name = "blankslate", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs a small fleet through a simulated working day (no AWS account needed) and
    /// compares the outcome with the seed's algorithm on the same day.
    Demo(demo::Args),
    /// Prints the CloudFormation template, for deploying with your own pipeline
    /// (`aws cloudformation deploy`, SAM, CDK include).
    Template,
    /// Packages the functions, uploads them and creates or updates the stack through a
    /// change set (`--dry-run` shows the change set only), then prints the outputs.
    Deploy(Box<deploy::DeployArgs>),
    /// Deletes the stack and the per-WorkSpace alarms the functions created; never a
    /// WorkSpace. The journal table is kept (DeletionPolicy Retain).
    Destroy(deploy::DestroyArgs),
}

/// The CloudFormation template, built into the binary so the printed template always
/// matches the functions of this version.
const TEMPLATE: &str = include_str!("../../../deploy/blankslate.yaml");

/// What a command that ran to the end found.
pub enum Finding {
    /// Nothing wrong.
    Clean,
    /// A problem worth a non-zero exit code.
    Problem,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let mut out = io::stdout().lock();
    let result = match &cli.command {
        Command::Demo(args) => demo::run(args, &mut out),
        Command::Template => out.write_all(TEMPLATE.as_bytes()).map(|()| Finding::Clean).map_err(Into::into),
        Command::Deploy(args) => deploy::deploy(args, TEMPLATE, &mut out),
        Command::Destroy(args) => deploy::destroy(args, &mut io::stdin().lock(), &mut out),
    };
    let result = result.and_then(|finding| {
        out.flush()?;
        Ok(finding)
    });
    match result {
        Ok(Finding::Clean) => ExitCode::SUCCESS,
        Ok(Finding::Problem) => ExitCode::FAILURE,
        // The reader went away (`blankslate demo | head`): not an error of ours.
        Err(e) if e.downcast_ref::<io::Error>().is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe) => {
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
