//! The `blankslate-emulator` command: starts, prints its URL, answers the real client,
//! stops on SIGTERM; refuses bad arguments with exit code 2.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::*;

const BINARY: &str = env!("CARGO_BIN_EXE_blankslate-emulator");

/// Kills the child by its pid when a test fails half-way, so no emulator outlives it.
struct Guard(std::process::Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test]
async fn the_binary_starts_prints_its_url_and_serves() {
    let child = Command::new(BINARY)
        .args(["--port", "0", "--create-seconds", "0.3", "--terminate-seconds", "0.2", "--seed", "7"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the emulator binary starts");
    let mut guard = Guard(child);
    let stdout = guard.0.stdout.take().expect("stdout");
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = sender.send(line);
    });
    let line = receiver.recv_timeout(Duration::from_secs(30)).expect("a line on stdout within 30 s");
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    assert!(url.starts_with("http://127.0.0.1:"), "not on loopback: {url}");

    let client = workspaces(url);
    let id = create(&client, &["alice"]).await.remove(0);
    wait_for(Duration::from_secs(5), "AVAILABLE", || async {
        (state(&client, &id).await.as_deref() == Some("AVAILABLE")).then_some(())
    })
    .await;
    let (status, body) = control(url, "/_control/connect", serde_json::json!({"workspace_id": id})).await;
    assert_eq!(status, 200, "{body}");

    // SIGTERM, by its pid: a clean exit.
    let pid = guard.0.id().to_string();
    let killed = Command::new("kill").args(["-TERM", &pid]).status().expect("kill runs");
    assert!(killed.success());
    let status = wait_exit(&mut guard.0, Duration::from_secs(20)).expect("the emulator exits after SIGTERM");
    assert!(status.success(), "exit status after SIGTERM: {status}");
}

#[test]
fn bad_arguments_exit_with_code_2() {
    let bad: [&[&str]; 7] = [
        &["--port", "seventy"],
        &["--create-seconds", "-1"],
        &["--host", "localhost:80"],
        &["--api-rate", "20"],
        &["--api-rate", "1", "--api-burst", "0"],
        &["--api-burst", "3"],
        &["--api-per-operation"],
    ];
    for args in bad {
        let out = Command::new(BINARY).args(args).output().expect("the binary runs");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout.is_empty(), "{args:?} printed to stdout");
    }
}

fn wait_exit(child: &mut std::process::Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let start = std::time::Instant::now();
    while start.elapsed() < limit {
        if let Ok(Some(status)) = child.try_wait() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}
