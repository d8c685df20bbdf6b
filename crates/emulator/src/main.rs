//! `blankslate-emulator`: the simulated WorkSpaces service on an HTTP port.
//!
//! Prints one line, `listening on http://HOST:PORT`, once it accepts connections, so a
//! script or test can read the URL (with `--port 0` the system picks a free port). Logs
//! go to stderr (`RUST_LOG` filters them; `info` by default). Runs until SIGINT or SIGTERM.
//!
//! Exit codes: 0 after a signal, 1 when it cannot start, 2 for bad arguments.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use blankslate_emulator::{FunctionNames, Options};
use blankslate_sim::limits::ApiLimits;
use clap::Parser;

/// The simulated Amazon WorkSpaces service, speaking the real WorkSpaces JSON 1.1 protocol
/// on the wall clock, with control endpoints under /_control/ for tests.
#[derive(Parser, Debug)]
#[command(name = "blankslate-emulator", version)]
struct Args {
    /// Address to listen on. Loopback unless you ask for another (e.g. 0.0.0.0).
    #[arg(long, default_value_t = IpAddr::V4(Ipv4Addr::LOCALHOST))]
    host: IpAddr,
    /// Port to listen on; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Seed for WorkSpace IDs (default: different every run).
    #[arg(long)]
    seed: Option<u64>,
    /// Seconds from CreateWorkspaces to AVAILABLE.
    #[arg(long, default_value_t = 2.0, value_parser = seconds)]
    create_seconds: f64,
    /// Seconds from TerminateWorkspaces to TERMINATED.
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    terminate_seconds: f64,
    /// Seconds a TERMINATED WorkSpace stays visible before its ID is gone.
    #[arg(long, default_value_t = 1.0, value_parser = seconds)]
    terminated_visible_seconds: f64,
    /// Seconds a new WorkSpace stays invisible to Describe calls.
    #[arg(long, default_value_t = 0.0, value_parser = seconds)]
    visibility_lag_seconds: f64,
    /// Seconds from a CreateWorkspaces/TerminateWorkspaces call to its CloudTrail event.
    #[arg(long, default_value_t = 0.0, value_parser = seconds)]
    cloudtrail_delay_seconds: f64,
    /// Seconds from a login to its "WorkSpaces Access" event.
    #[arg(long, default_value_t = 0.0, value_parser = seconds)]
    login_event_delay_seconds: f64,
    /// CloudWatch endpoint for ConnectionSuccess/SessionDisconnect datapoints (none: not sent).
    #[arg(long, value_name = "URL")]
    cloudwatch_endpoint: Option<String>,
    /// Lambda endpoint the events are invoked at (none: not sent).
    #[arg(long, value_name = "URL")]
    lambda_endpoint: Option<String>,
    /// Function receiving CreateWorkspaces CloudTrail events.
    #[arg(long, value_name = "NAME", default_value = "Workspace_Alarm_Create")]
    alarm_create_function: String,
    /// Function receiving TerminateWorkspaces CloudTrail events.
    #[arg(long, value_name = "NAME", default_value = "Workspace_Alarm_Del")]
    alarm_delete_function: String,
    /// Function receiving "WorkSpaces Access" login events.
    #[arg(long, value_name = "NAME", default_value = "Workspace_Term_Rebuild")]
    term_rebuild_function: String,
    /// Region the side-effect clients sign for.
    #[arg(long, default_value = "us-east-1")]
    region: String,
    /// Limits the WorkSpaces API to R requests/s (0.25 to 10): calls beyond it are answered
    /// ThrottlingException. Change or lift it at run time with POST or DELETE /_control/limit.
    #[arg(long, value_name = "R")]
    api_rate: Option<f64>,
    /// The limit's burst (1 to 20; default 5).
    #[arg(long, value_name = "B", requires = "api_rate")]
    api_burst: Option<f64>,
    /// One bucket per WorkSpaces operation instead of one shared bucket.
    #[arg(long, requires = "api_rate")]
    api_per_operation: bool,
}

fn seconds(text: &str) -> Result<f64, String> {
    let value: f64 = text.parse().map_err(|e| format!("{text:?} is not a number of seconds: {e}"))?;
    if value.is_finite() && (0.0..=86_400.0 * 365.0).contains(&value) {
        Ok(value)
    } else {
        Err(format!("{text:?} must be between 0 and a year of seconds"))
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(false).init();

    let options = Options {
        bind: SocketAddr::new(args.host, args.port),
        seed: args.seed,
        create: Duration::from_secs_f64(args.create_seconds),
        terminate: Duration::from_secs_f64(args.terminate_seconds),
        terminated_visible: Duration::from_secs_f64(args.terminated_visible_seconds),
        visibility_lag: Duration::from_secs_f64(args.visibility_lag_seconds),
        cloudtrail_delay: Duration::from_secs_f64(args.cloudtrail_delay_seconds),
        login_event_delay: Duration::from_secs_f64(args.login_event_delay_seconds),
        region: args.region,
        cloudwatch_endpoint: args.cloudwatch_endpoint,
        lambda_endpoint: args.lambda_endpoint,
        functions: FunctionNames {
            alarm_create: args.alarm_create_function,
            alarm_delete: args.alarm_delete_function,
            term_rebuild: args.term_rebuild_function,
        },
        api_limit: args.api_rate.map(|rate_per_second| ApiLimits {
            rate_per_second,
            burst: args.api_burst.unwrap_or(ApiLimits::default().burst),
            per_operation: args.api_per_operation,
            changes: Vec::new(),
        }),
        ..Options::default()
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("blankslate-emulator: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    runtime.block_on(async {
        let running = match blankslate_emulator::start(options).await {
            Ok(running) => running,
            // A limit out of range is a bad argument (--api-rate, --api-burst).
            Err(e @ blankslate_emulator::Error::Option { option: "api_limit", .. }) => {
                eprintln!("blankslate-emulator: {e} (--api-rate, --api-burst)");
                return ExitCode::from(2);
            }
            Err(e) => {
                eprintln!("blankslate-emulator: {e}");
                return ExitCode::from(1);
            }
        };
        let mut stdout = std::io::stdout().lock();
        if writeln!(stdout, "listening on {}", running.url()).and_then(|()| stdout.flush()).is_err() {
            // Nobody can learn the URL; keep serving anyway, the log has it.
            tracing::warn!(url = %running.url(), "could not print the URL to stdout");
        }
        drop(stdout);
        wait_for_signal().await;
        tracing::info!("stopping");
        running.shutdown().await;
        ExitCode::SUCCESS
    })
}

/// SIGINT or SIGTERM.
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}
