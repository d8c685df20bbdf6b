//! A client for the control endpoints, for tests in other crates (the adapters' wire
//! tests): the endpoints' paths and bodies stay known in this crate only.

use std::io;

use blankslate_sim::limits::ApiLimits;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Throttling;

/// One control request, `METHOD /_control/<path>` with a JSON body, over a fresh HTTP/1.1
/// connection to the emulator at `url` (`http://127.0.0.1:PORT`). Returns the status and
/// the JSON body; an I/O failure or a response that is not JSON is an error.
pub async fn control(url: &str, method: &str, path: &str, body: Option<&Value>) -> io::Result<(u16, Value)> {
    let invalid = |what: String| io::Error::new(io::ErrorKind::InvalidData, what);
    let authority = url.strip_prefix("http://").ok_or_else(|| invalid(format!("{url:?} is not an http:// URL")))?;
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut stream = tokio::net::TcpStream::connect(authority).await?;
    let request = format!(
        "{method} /_control/{path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await?;
    let response = String::from_utf8_lossy(&response);
    let (head, body) =
        response.split_once("\r\n\r\n").ok_or_else(|| invalid(format!("an incomplete response: {response:?}")))?;
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| invalid(format!("no status in {head:?}")))?;
    let body =
        serde_json::from_str(body).map_err(|e| invalid(format!("{path}: the body is not JSON ({e}): {body:?}")))?;
    Ok((status, body))
}

/// A control request that must answer 200; anything else is an error carrying the body.
async fn control_ok(url: &str, method: &str, path: &str, body: Option<&Value>) -> io::Result<Value> {
    match control(url, method, path, body).await? {
        (200, body) => Ok(body),
        (status, body) => Err(io::Error::other(format!("{method} /_control/{path}: HTTP {status}: {body}"))),
    }
}

/// `POST /_control/limit`: sets or changes the WorkSpaces API's limit.
pub async fn set_limit(url: &str, limit: &ApiLimits) -> io::Result<()> {
    let body = serde_json::to_value(limit).map_err(io::Error::other)?;
    control_ok(url, "POST", "limit", Some(&body)).await.map(|_| ())
}

/// `DELETE /_control/limit`: lifts the limit.
pub async fn clear_limit(url: &str) -> io::Result<()> {
    control_ok(url, "DELETE", "limit", None).await.map(|_| ())
}

/// `GET /_control/stats`: the limit and each operation's calls and throttles.
pub async fn stats(url: &str) -> io::Result<Throttling> {
    let body = control_ok(url, "GET", "stats", None).await?;
    serde_json::from_value(body).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
