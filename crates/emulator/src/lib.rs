//! The simulated WorkSpaces service over real HTTP.
//!
//! blankslate's WorkSpaces model (`blankslate_sim::World`) has two faces. The simulator
//! drives it on a virtual clock; this crate serves it on the wall clock, speaking the
//! WorkSpaces AWS JSON 1.1 protocol (`POST /`, `X-Amz-Target: WorkspacesService.<Operation>`),
//! so the AWS adapters, the Lambda functions and the CLI can be tested over the wire
//! against the same behaviour the simulations check: states and their durations, one
//! WorkSpace per user per directory, 25 items per call, FailedRequests, eventual
//! consistency, connection states, and the CloudTrail and login events WorkSpaces causes.
//! No emulator on offer has connection status, sessions or those events; that is why
//! this one exists.
//!
//! What the model sends out can reach real endpoints (each optional): session datapoints
//! (`ConnectionSuccess`, `SessionDisconnect`) go to CloudWatch with PutMetricData, and
//! events go to the three functions with Lambda Invoke (see [`effects`](crate::EffectCounts)).
//! Tests steer users through the control endpoints under `/_control/` (see `control.rs`;
//! [`client`] calls them from other crates' tests).
//!
//! The API's rate limit can be imposed too ([`Options::api_limit`], `--api-rate`,
//! `POST /_control/limit`): the simulator's token buckets on the wall clock, answering
//! `ThrottlingException` (`Rate exceeded`, HTTP 400) beyond it, with per-operation counts
//! at `GET /_control/stats`.
//!
//! Supported operations: DescribeWorkspaces, DescribeWorkspacesConnectionStatus,
//! DescribeTags, CreateTags, DeleteTags, TerminateWorkspaces, CreateWorkspaces. Any other
//! WorkSpaces operation answers `OperationNotSupportedException`; a name WorkSpaces does
//! not have answers `UnknownOperationException`. Signatures are not checked.

#![deny(missing_docs)]

mod api;
pub mod client;
mod control;
mod effects;
mod protocol;
mod state;
mod tagging;
mod throttle;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use axum::Router;
use blankslate_sim::scenario::{DurationDist, Timings};
use blankslate_sim::World;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The limit [`Options::api_limit`] and the control endpoints take: the simulator's own
/// type, re-exported so a test can set one with this crate alone.
pub use blankslate_sim::limits::ApiLimits;
pub use effects::EffectCounts;
pub use throttle::{OperationStats, Throttling};

use crate::effects::Effects;
use crate::state::Shared;

/// The Lambda function names events are delivered to, one per role of the seed's design.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct FunctionNames {
    /// Receives the CloudTrail record of each CreateWorkspaces (`Workspace_Alarm_Create`).
    pub alarm_create: String,
    /// Receives the CloudTrail record of each TerminateWorkspaces (`Workspace_Alarm_Del`).
    pub alarm_delete: String,
    /// Receives the "WorkSpaces Access" login events (`Workspace_Term_Rebuild`).
    pub term_rebuild: String,
}

impl FunctionNames {
    /// The names the template gives a stack's functions: `<stack>-<role>`.
    pub fn of_stack(stack: &str) -> Self {
        let roles = Self::default();
        Self {
            alarm_create: format!("{stack}-{}", roles.alarm_create),
            alarm_delete: format!("{stack}-{}", roles.alarm_delete),
            term_rebuild: format!("{stack}-{}", roles.term_rebuild),
        }
    }
}

impl Default for FunctionNames {
    fn default() -> Self {
        Self {
            alarm_create: "Workspace_Alarm_Create".into(),
            alarm_delete: "Workspace_Alarm_Del".into(),
            term_rebuild: "Workspace_Term_Rebuild".into(),
        }
    }
}

/// How to run the emulator. The defaults suit tests: loopback, a free port, transitions
/// of a second or two, no delays, no side effects.
#[derive(Clone, PartialEq, Debug)]
pub struct Options {
    /// Where to listen. Loopback by default; anything else must be asked for.
    pub bind: SocketAddr,
    /// Seeds the model's randomness (WorkSpace IDs). `None`: a different seed each run,
    /// so two emulators sharing one CloudWatch never hand out the same IDs.
    pub seed: Option<u64>,
    /// CreateWorkspaces until AVAILABLE (real: about 20 minutes).
    pub create: Duration,
    /// TerminateWorkspaces until TERMINATED (real: about 5 minutes).
    pub terminate: Duration,
    /// How long TERMINATED shows before the ID is gone.
    pub terminated_visible: Duration,
    /// How long a new WorkSpace stays invisible to Describe calls (eventual consistency).
    pub visibility_lag: Duration,
    /// API call until its CloudTrail event is delivered to the function.
    pub cloudtrail_delay: Duration,
    /// Login until the "WorkSpaces Access" event is delivered.
    pub login_event_delay: Duration,
    /// How often the model is moved to the wall clock between requests, so events go out
    /// on time even when nobody calls.
    pub tick: Duration,
    /// The Region the side-effect clients sign for.
    pub region: String,
    /// CloudWatch endpoint for session datapoints; none: datapoints are dropped.
    pub cloudwatch_endpoint: Option<String>,
    /// Lambda endpoint for event delivery; none: events are dropped.
    pub lambda_endpoint: Option<String>,
    /// Which functions receive which events.
    pub functions: FunctionNames,
    /// The WorkSpaces API's rate limit (shared or per operation, 0.25 to 10 requests/s,
    /// burst 1 to 20, as in the simulator; no scheduled changes): calls beyond it are
    /// answered `ThrottlingException`. `None`: no limit. Changed at run time with
    /// [`Running::set_api_limit`] or `POST /_control/limit`.
    pub api_limit: Option<ApiLimits>,
    /// The directory each created WorkSpace joins, as the real service joins it to the
    /// domain while it is PENDING: its computer object (`ComputerName$`) is added under
    /// the OU. `None`: no directory.
    pub join_directory: Option<JoinDirectory>,
}

/// Where created WorkSpaces join (an account that may add computer objects there).
#[derive(Clone, Debug)]
pub struct JoinDirectory {
    /// How to reach and bind.
    pub settings: blankslate_directory::Settings,
    /// The OU the computer objects are added to.
    pub ou: String,
}

/// Same directory, same account, same OU (the password is not compared).
impl PartialEq for JoinDirectory {
    fn eq(&self, other: &Self) -> bool {
        let key = |j: &Self| {
            (j.settings.urls.clone(), j.settings.bind_user.clone(), j.settings.base_dn.clone(), j.ou.clone())
        };
        key(self) == key(other)
    }
}

impl Default for Options {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            seed: None,
            create: Duration::from_secs(2),
            terminate: Duration::from_secs(1),
            terminated_visible: Duration::from_secs(1),
            visibility_lag: Duration::ZERO,
            cloudtrail_delay: Duration::ZERO,
            login_event_delay: Duration::ZERO,
            tick: Duration::from_millis(100),
            region: "us-east-1".into(),
            cloudwatch_endpoint: None,
            lambda_endpoint: None,
            functions: FunctionNames::default(),
            api_limit: None,
            join_directory: None,
        }
    }
}

impl Options {
    /// The model's timings: fixed durations, so a wall-clock test knows what to wait for.
    pub fn timings(&self) -> Timings {
        Timings {
            create: DurationDist::Fixed(self.create),
            terminate: DurationDist::Fixed(self.terminate),
            terminated_visible: self.terminated_visible,
            visibility_lag: DurationDist::Fixed(self.visibility_lag),
            cloudtrail_delay: DurationDist::Fixed(self.cloudtrail_delay),
            metric_delay: Duration::ZERO,
            login_event_delay: DurationDist::Fixed(self.login_event_delay),
        }
    }
}

/// Why the emulator did not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address asked for.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// An option is unusable.
    #[error("invalid option {option}: {reason}")]
    Option {
        /// Which.
        option: &'static str,
        /// Why.
        reason: String,
    },
}

/// A running emulator. Dropping it stops the server; [`Running::shutdown`] also waits
/// for queued side effects to go out.
pub struct Running {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<()>>,
    ticker: JoinHandle<()>,
    effects: Option<JoinHandle<()>>,
}

/// Starts the emulator on a tokio runtime (multi-threaded or not) and returns once it
/// accepts connections.
pub async fn start(options: Options) -> Result<Running, Error> {
    if options.tick.is_zero() {
        return Err(Error::Option { option: "tick", reason: "must be longer than zero".into() });
    }
    for (option, url) in
        [("cloudwatch_endpoint", &options.cloudwatch_endpoint), ("lambda_endpoint", &options.lambda_endpoint)]
    {
        if let Some(url) = url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::Option { option, reason: format!("{url:?} is not an http(s) URL") });
            }
        }
    }
    let limit = match &options.api_limit {
        Some(limit) => throttle::check(limit, state::wall_clock())
            .map_err(|reason| Error::Option { option: "api_limit", reason })?,
        None => None,
    };
    let listener = tokio::net::TcpListener::bind(options.bind)
        .await
        .map_err(|source| Error::Bind { addr: options.bind, source })?;
    let addr = listener.local_addr().map_err(|source| Error::Bind { addr: options.bind, source })?;
    let seed = options.seed.unwrap_or_else(random_seed);
    let (effects, effects_worker) = Effects::start(&options);
    let shared = Arc::new(Shared::new(options.timings(), seed, effects, limit, options.region.clone()));

    let ticker = {
        let shared = shared.clone();
        let period = options.tick;
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                interval.tick().await;
                shared.with_world(|_| ());
            }
        })
    };

    let router = Router::new().route("/", post(aws)).merge(control::routes()).with_state(shared.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let serve = axum::serve(listener, router).with_graceful_shutdown(async {
            let _ = stopped.await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "the emulator's server stopped");
        }
    });
    tracing::info!(%addr, seed, "WorkSpaces emulator listening");
    Ok(Running { addr, shared, stop: Some(stop), server: Some(server), ticker, effects: Some(effects_worker) })
}

impl Running {
    /// The base URL, e.g. `http://127.0.0.1:40123`: the WorkSpaces endpoint to give an SDK.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Runs `f` on the model at the current wall-clock time, as a request would: for
    /// tests that want to look inside or steer it without HTTP. What `f` causes goes out
    /// like the effects of a request.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        self.shared.with_world(f)
    }

    /// Sets, changes or (`None`) lifts the WorkSpaces API's rate limit from now on, as
    /// `POST /_control/limit` and `DELETE /_control/limit` do. A new rate or burst of the
    /// same shape keeps what each bucket holds (up to the new burst), as an account's
    /// limit changing would; another shape starts with full buckets.
    pub fn set_api_limit(&self, limit: Option<ApiLimits>) -> Result<(), Error> {
        let limit = match limit {
            Some(limit) => throttle::check(&limit, self.shared.now())
                .map_err(|reason| Error::Option { option: "api_limit", reason })?,
            None => None,
        };
        self.shared.set_limit(limit);
        Ok(())
    }

    /// The limit in force and, per WorkSpaces operation, how many calls came and how many
    /// were throttled (as `GET /_control/stats` shows them).
    pub fn throttling(&self) -> Throttling {
        self.shared.throttling()
    }

    /// How the side effects went so far.
    pub fn effects(&self) -> EffectCounts {
        self.shared.effects.counts()
    }

    /// Stops accepting requests, lets open ones finish (for at most 5 s), then lets queued
    /// side effects go out (for at most 15 s more).
    pub async fn shutdown(mut self) {
        self.ticker.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut server) = self.server.take() {
            if tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err() {
                server.abort();
            }
        }
        self.shared.effects.close();
        if let Some(mut worker) = self.effects.take() {
            if tokio::time::timeout(Duration::from_secs(15), &mut worker).await.is_err() {
                worker.abort();
            }
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.ticker.abort();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.shared.effects.close();
        if let Some(server) = self.server.take() {
            server.abort();
        }
    }
}

/// `POST /`: one WorkSpaces API call.
async fn aws(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let request_id = shared.request_id();
    let target = headers.get("x-amz-target").and_then(|v| v.to_str().ok());
    match api::call(&shared, target, &body) {
        Ok(output) => {
            tracing::debug!(target = target.unwrap_or(""), %request_id, "answered");
            protocol::respond(StatusCode::OK, &request_id, &output)
        }
        Err(error) => {
            tracing::debug!(target = target.unwrap_or(""), %request_id, %error, "refused");
            protocol::respond_error(&request_id, &error)
        }
    }
}

/// A seed that differs between runs and processes, without a random-number crate: the
/// standard library seeds each `RandomState` from the operating system.
fn random_seed() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
    hasher.finish()
}
