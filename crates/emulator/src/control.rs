//! The test-control endpoints under `/_control/`: what a real account offers no API for
//! (users connecting and leaving, a slow termination, the API's rate limit changing),
//! and a look inside.
//!
//! JSON in, JSON out; errors are `{"error": "not_found" | "conflict" | "bad_request",
//! "message": ...}` with 404, 409 or 400.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use blankslate_core::ids::{DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_sim::limits::ApiLimits;
use blankslate_sim::SessionError;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::protocol::epoch_seconds;
use crate::state::Shared;
use crate::throttle;

/// The routes, to be merged into the server's router.
pub(crate) fn routes() -> Router<Arc<Shared>> {
    Router::new()
        .route("/_control/connect", post(connect))
        .route("/_control/disconnect", post(disconnect))
        .route("/_control/workspaces", get(workspaces))
        .route("/_control/termination", post(termination))
        .route("/_control/reset", post(reset))
        .route("/_control/effects", get(effects))
        .route("/_control/limit", get(limit).post(set_limit).delete(clear_limit))
        .route("/_control/stats", get(stats))
}

/// A control error.
struct Refusal(StatusCode, &'static str, String);

impl Refusal {
    fn bad(message: impl Into<String>) -> Self {
        Self(StatusCode::BAD_REQUEST, "bad_request", message.into())
    }
    fn not_found(message: impl Into<String>) -> Self {
        Self(StatusCode::NOT_FOUND, "not_found", message.into())
    }
    fn conflict(message: impl Into<String>) -> Self {
        Self(StatusCode::CONFLICT, "conflict", message.into())
    }
}

fn reply(status: StatusCode, body: &Value) -> Response {
    let mut response = (status, body.to_string()).into_response();
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn answer(result: Result<Value, Refusal>) -> Response {
    match result {
        Ok(body) => reply(StatusCode::OK, &body),
        Err(Refusal(status, error, message)) => reply(status, &json!({ "error": error, "message": message })),
    }
}

fn parse<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Refusal> {
    let body = if body.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { body };
    serde_json::from_slice(body).map_err(|e| Refusal::bad(format!("cannot read the request: {e}")))
}

/// Which WorkSpace a request means: by ID, or the current one of a directory's user.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Target {
    workspace_id: Option<String>,
    directory_id: Option<String>,
    user_name: Option<String>,
}

fn resolve(shared: &Shared, target: &Target) -> Result<WorkspaceId, Refusal> {
    match (&target.workspace_id, &target.directory_id, &target.user_name) {
        (Some(id), None, None) => WorkspaceId::new(id.as_str()).map_err(|e| Refusal::bad(e.to_string())),
        (None, Some(directory), Some(user)) => {
            let desk = DeskKey {
                directory_id: DirectoryId::new(directory.as_str()).map_err(|e| Refusal::bad(e.to_string()))?,
                user_name: UserName::new(user.as_str()).map_err(|e| Refusal::bad(e.to_string()))?,
            };
            shared
                .with_world(|world| world.desk_workspace(&desk).cloned())
                .ok_or_else(|| Refusal::not_found(format!("{desk} has no WorkSpace")))
        }
        _ => Err(Refusal::bad("give either workspace_id, or directory_id and user_name")),
    }
}

fn session_refusal(id: &WorkspaceId, e: SessionError) -> Refusal {
    match e {
        SessionError::NotFound => Refusal::not_found(format!("{id}: {e}")),
        SessionError::NotAvailable(_) | SessionError::NotConnected => Refusal::conflict(format!("{id}: {e}")),
    }
}

/// `POST /_control/connect` `{"workspace_id"}` or `{"directory_id", "user_name"}`: the
/// user logs in now. Answers `{"workspace_id", "connection_state": "CONNECTED", "changed"}`
/// (`changed` is false when the user was already connected).
async fn connect(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    answer((|| {
        let id = resolve(&shared, &parse(&body)?)?;
        let changed = shared.with_world(|world| world.connect(&id)).map_err(|e| session_refusal(&id, e))?;
        Ok(json!({ "workspace_id": id.as_str(), "connection_state": "CONNECTED", "changed": changed }))
    })())
}

/// `POST /_control/disconnect`, same body: the user's session ends now.
async fn disconnect(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    answer((|| {
        let id = resolve(&shared, &parse(&body)?)?;
        shared.with_world(|world| world.disconnect(&id)).map_err(|e| session_refusal(&id, e))?;
        Ok(json!({ "workspace_id": id.as_str(), "connection_state": "DISCONNECTED" }))
    })())
}

/// `GET /_control/workspaces`: every WorkSpace the service holds, visible or not, with
/// state, connection, tags and termination override, and the model's clock.
async fn workspaces(State(shared): State<Arc<Shared>>) -> Response {
    let body = shared.with_world(|world| {
        let list: Vec<Value> = world
            .views(None)
            .map(|v| {
                let connection = world.connection(v.id);
                let tags: serde_json::Map<String, Value> =
                    v.spec.tags.iter().map(|(k, v)| (k.to_string(), json!(v.as_str()))).collect();
                json!({
                    "workspace_id": v.id.as_str(),
                    "directory_id": v.spec.directory_id.as_str(),
                    "user_name": v.spec.user_name.as_str(),
                    "bundle_id": v.spec.bundle_id.as_str(),
                    "state": v.state.as_api_str(),
                    "visible": v.visible,
                    "connection_state": connection.as_ref().map(|c| c.state.as_api_str()),
                    "last_known_user_connection": v.last_user_connection.map(epoch_seconds),
                    "terminate_seconds": v.terminate_after.map(|d| d.as_secs_f64()),
                    "tags": tags,
                })
            })
            .collect();
        json!({ "now": epoch_seconds(world.now), "workspaces": list, "api_calls": world.metrics.api_calls })
    });
    reply(StatusCode::OK, &body)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Termination {
    workspace_id: String,
    /// Seconds; `null` restores the configured termination time.
    seconds: Option<f64>,
}

/// `POST /_control/termination` `{"workspace_id", "seconds"}`: how long terminating this
/// WorkSpace will take (for tests of slow terminations); `"seconds": null` clears it.
async fn termination(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    answer((|| {
        let request: Termination = parse(&body)?;
        let id = WorkspaceId::new(request.workspace_id).map_err(|e| Refusal::bad(e.to_string()))?;
        let took = request
            .seconds
            .map(|s| Duration::try_from_secs_f64(s).map_err(|e| Refusal::bad(format!("seconds: {e}"))))
            .transpose()?;
        if !shared.with_world(|world| world.set_terminate_after(&id, took)) {
            return Err(Refusal::not_found(format!("{id}: no such WorkSpace")));
        }
        Ok(json!({ "workspace_id": id.as_str(), "terminate_seconds": request.seconds }))
    })())
}

/// `POST /_control/reset`: an empty account and zeroed side-effect counters.
async fn reset(State(shared): State<Arc<Shared>>) -> Response {
    shared.reset();
    reply(StatusCode::OK, &json!({ "reset": true }))
}

/// `GET /_control/effects`: how the side effects went (see [`crate::EffectCounts`]).
async fn effects(State(shared): State<Arc<Shared>>) -> Response {
    let counts = serde_json::to_value(shared.effects.counts()).unwrap_or(Value::Null);
    reply(StatusCode::OK, &counts)
}

/// `GET /_control/limit`: `{"limit": {"rate_per_second", "burst", "per_operation"}}`, or
/// `{"limit": null}` when calls are not limited.
async fn limit(State(shared): State<Arc<Shared>>) -> Response {
    reply(StatusCode::OK, &json!({ "limit": shared.throttling().limit }))
}

/// `POST /_control/limit` `{"rate_per_second": R, "burst": B, "per_operation": bool}`
/// (left out: 2, 5, false): the WorkSpaces API's limit from now on. Rates 0.25 to 10 (0
/// lifts the limit), bursts 1 to 20; out of range is a 400 naming the field. A new rate
/// or burst of the same shape keeps what each bucket holds, up to the new burst.
async fn set_limit(State(shared): State<Arc<Shared>>, body: Bytes) -> Response {
    answer((|| {
        let limit: ApiLimits = parse(&body)?;
        let limit = throttle::check(&limit, shared.now()).map_err(Refusal::bad)?;
        shared.set_limit(limit);
        Ok(json!({ "limit": shared.throttling().limit }))
    })())
}

/// `DELETE /_control/limit`: calls are no longer limited.
async fn clear_limit(State(shared): State<Arc<Shared>>) -> Response {
    shared.set_limit(None);
    reply(StatusCode::OK, &json!({ "limit": null }))
}

/// `GET /_control/stats`: the limit, and per WorkSpaces operation the calls received and
/// how many were throttled, since the start or the last reset (see [`crate::Throttling`]):
/// `{"limit": ..., "operations": {"DescribeWorkspaces": {"calls": 12, "throttled": 4}}}`.
async fn stats(State(shared): State<Arc<Shared>>) -> Response {
    let body = serde_json::to_value(shared.throttling()).unwrap_or(Value::Null);
    reply(StatusCode::OK, &body)
}
