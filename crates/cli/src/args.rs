//! Flags shared by every command that talks to AWS, so `deploy`, `destroy` and the
//! operations commands spell them (and their help) the same way.

use anyhow::Context;

/// Where the credentials and the Region come from.
#[derive(clap::Args, Clone, Debug)]
pub struct AwsArgs {
    /// AWS Region (default: AWS_REGION, or the profile's `region`).
    #[arg(long)]
    pub region: Option<String>,
    /// Named profile in ~/.aws/config and ~/.aws/credentials (default: AWS_PROFILE, else "default").
    #[arg(long)]
    pub profile: Option<String>,
}

/// Which deployed stack a command operates, and with which credentials.
#[derive(clap::Args, Clone, Debug)]
pub struct StackArgs {
    #[command(flatten)]
    pub aws: AwsArgs,
    /// The CloudFormation stack blankslate was deployed as.
    #[arg(long, default_value = "blankslate", value_parser = stack_name)]
    pub stack_name: String,
}

impl StackArgs {
    /// Connects (credentials and Region checked) and reads the stack.
    pub async fn open(&self) -> Result<blankslate_ops::DeployedStack, blankslate_ops::OpsError> {
        let session = blankslate_ops::connect(self.aws.profile.as_deref(), self.aws.region.as_deref()).await?;
        blankslate_ops::DeployedStack::open(&session, &self.stack_name).await
    }
}

/// `--output`: for people or for scripts.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, clap::ValueEnum)]
pub enum OutputFormat {
    /// Aligned columns.
    #[default]
    Table,
    /// One JSON document on stdout.
    Json,
}

/// Checks a stack name as `deploy` does.
pub fn stack_name(text: &str) -> Result<String, String> {
    blankslate_deploy::params::check_stack_name(text).map(|()| text.to_owned())
}

/// A single-threaded runtime: the commands make a handful of calls at a time.
pub fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")
}

/// The wall clock, read once per command: the only clock the operations commands use.
pub fn wall_clock() -> blankslate_core::Timestamp {
    let millis = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis());
    blankslate_core::Timestamp::from_millis(i64::try_from(millis).unwrap_or(i64::MAX))
}
