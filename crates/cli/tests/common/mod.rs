//! What the ministack-backed CLI tests share: the endpoint, running the binary with a
//! clean environment, the built-in template rewritten for ministack, deploying it and
//! cleaning up after it, and driving the WorkSpaces emulator.

// Each test binary compiles this module and uses a part of it.
#![allow(dead_code)]

use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use blankslate_core::ids::WorkspaceId;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// ministack's endpoint, or a panic saying how to start it.
pub fn ministack() -> String {
    std::env::var("BLANKSLATE_MINISTACK").unwrap_or_else(|_| {
        panic!(
            "BLANKSLATE_MINISTACK is not set: this test needs ministack. Start it with \
             `bash scripts/emulators start && source .emulators/env`, or run `bash scripts/test`."
        )
    })
}

/// A directory of this test process's own under the target directory.
pub fn scratch(name: &str) -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}

/// The binary with nothing of this machine's AWS set-up: an empty environment, a HOME
/// without ~/.aws, no instance metadata; `env` adds what a test wants. Runs in `dir`.
pub fn blankslate(dir: &Path, args: &[&str], env: &[(&str, &str)], stdin: &str) -> Output {
    let home = dir.join("home");
    let mut child = Command::new(env!("CARGO_BIN_EXE_blankslate"))
        .args(args)
        .env_clear()
        .env("HOME", &home)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_CONFIG_FILE", home.join("no-config"))
        .env("AWS_SHARED_CREDENTIALS_FILE", home.join("no-credentials"))
        .envs(env.iter().copied())
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().expect("stdin").write_all(stdin.as_bytes()).expect("stdin written");
    child.wait_with_output().expect("the binary ends")
}

/// (stdout, stderr) as text.
pub fn text(out: &Output) -> (String, String) {
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

/// The built-in template with its Conditions block rewritten for ministack, which
/// evaluates only Ref, Fn::Equals, Fn::And/Or/Not, Condition and Fn::Select over a Ref
/// in conditions: the real ones select from Fn::Split / Fn::Join of the Selector and
/// fail CreateChangeSet there ("InternalError: 0"). The rewrite gives each selector
/// condition its real value for the selector `tag:blankslate`; the directory clean-up
/// conditions use only what ministack evaluates, so they are the template's own lines,
/// copied from it (`DIRECTORY_CONDITIONS`) and right for a deploy with or without
/// `--directory-base-dn`. Every resource, parameter, rule, mapping and output is the
/// template's own; a condition the rewrite does not define fails here, by name.
///
/// `function_env` is added to every function's `Environment.Variables` (each function's
/// block is the template's `        Variables:` line); empty, the functions are untouched.
pub fn ministack_template(dir: &Path, function_env: &[(&str, &str)]) -> PathBuf {
    let template = include_str!("../../../../deploy/blankslate.yaml");
    let start = template.find("\nConditions:\n").expect("a Conditions block");
    let end = template.find("\nResources:\n").expect("a Resources block");
    let directory = directory_conditions(&template[start..end]);
    let conditions = r#"
Conditions:
  SelectorIsTag: !Equals [!Ref Selector, "tag:blankslate"]
  SelectorIsNotTag: !Not [!Condition SelectorIsTag]
  SelectorIsDirectory: !Equals [!Ref Selector, "directory:"]
  SelectorIsBundle: !Equals [!Ref Selector, "bundle:"]
  TagHasValue: !Equals [!Ref Selector, "tag:blankslate=any"]
  ReconcileEveryMinute: !Equals [!Ref ReconcileMinutes, "1"]
  HasNotificationEmail: !Not [!Equals [!Ref NotificationEmail, ""]]
  CreateTrailCondition: !Equals [!Ref CreateTrail, "true"]
  HasVolumeEncryptionKeys: !Not [!Equals [!Select [0, !Ref VolumeEncryptionKeyArns], ""]]"#;
    let conditions = format!("{conditions}\n{directory}");
    assert_eq!(
        condition_names(&template[start..end]),
        condition_names(&conditions),
        "the rewrite must define exactly the template's conditions"
    );
    let mut patched = format!("{}{conditions}{}", &template[..start], &template[end..]);
    if !function_env.is_empty() {
        let marker = "\n      Environment:\n        Variables:\n";
        let functions = patched.matches(marker).count();
        assert_eq!(functions, 5, "expected the five functions' Environment.Variables blocks");
        let added: String = function_env.iter().map(|(k, v)| format!("          {k}: \"{v}\"\n")).collect();
        patched = patched.replace(marker, &format!("{marker}{added}"));
    }
    let path = dir.join("blankslate-ministack.yaml");
    std::fs::write(&path, patched).expect("template written");
    path
}

/// The template's directory clean-up conditions, as written: the lines from the one named
/// `DirectoryCleanup` to the end of the block (ministack evaluates Ref, Equals, Not, And
/// and Condition, all they use).
fn directory_conditions(block: &str) -> &str {
    let from = block.find("\n  DirectoryCleanup:").expect("the DirectoryCleanup condition");
    let text = block[from + 1..].trim_end();
    for unsupported in ["!Split", "!Join", "!Select", "Fn::"] {
        assert!(
            !text.contains(unsupported),
            "a directory condition uses {unsupported}, which ministack cannot evaluate"
        );
    }
    text
}

/// The names a Conditions block defines (its two-space-indented keys), sorted.
fn condition_names(block: &str) -> Vec<&str> {
    let mut names: Vec<&str> = block
        .lines()
        .filter(|l| l.starts_with("  ") && !l.starts_with("   ") && !l.trim_start().starts_with('#'))
        .filter_map(|l| l.trim().split_once(':').map(|(name, _)| name))
        .collect();
    names.sort_unstable();
    names
}

/// `binary` zipped as Lambda wants it: one executable entry named `bootstrap`. Stored,
/// not deflated: compressing tens of MB with unoptimised test dependencies is slow.
pub fn zip_bootstrap(dir: &Path, binary: &[u8]) -> PathBuf {
    let path = dir.join("bootstrap.zip");
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).expect("zip file"));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Stored)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("zip entry");
    zip.write_all(binary).expect("zip write");
    zip.finish().expect("zip finish");
    path
}

/// An SdkConfig for `endpoint` in `region` with static test credentials.
pub async fn sdk(endpoint: &str, region: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new(region.to_owned()))
        .credentials_provider(aws_sdk_cloudwatch::config::Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

/// The debug bootstrap beside the binary under test, zipped as Lambda wants it.
pub fn debug_bootstrap_zip(dir: &Path) -> PathBuf {
    let bootstrap = PathBuf::from(env!("CARGO_BIN_EXE_blankslate")).with_file_name("bootstrap");
    let binary = std::fs::read(&bootstrap).unwrap_or_else(|e| {
        panic!(
            "{}: {e}. The debug bootstrap is built by `cargo test --workspace`; alone: \
             `cargo build -p blankslate-lambda --bin bootstrap`",
            bootstrap.display()
        )
    });
    zip_bootstrap(dir, &binary)
}

/// The ministack template with every function wired to this machine's emulators: AWS at
/// `ministack`, WorkSpaces and its tags (GetResources) at `workspaces` (our emulator), and
/// a 5-second alarm lag allowance, since ministack raises an alarm the moment its
/// datapoint arrives.
pub fn wired_template(dir: &Path, ministack: &str, workspaces: &str) -> PathBuf {
    ministack_template(
        dir,
        &[
            ("AWS_ENDPOINT_URL", ministack),
            ("AWS_ENDPOINT_URL_WORKSPACES", workspaces),
            ("AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API", workspaces),
            ("BLANKSLATE_ALARM_LAG_SECONDS", "5"),
        ],
    )
}

/// The binary's environment against the emulators, with test credentials.
pub fn cli_env<'a>(ministack: &'a str, workspaces: &'a str) -> [(&'a str, &'a str); 4] {
    [
        ("AWS_ENDPOINT_URL", ministack),
        ("AWS_ENDPOINT_URL_WORKSPACES", workspaces),
        ("AWS_ACCESS_KEY_ID", "test"),
        ("AWS_SECRET_ACCESS_KEY", "test"),
    ]
}

/// Deletes every disconnect alarm of the Region, whichever stack made it: leftovers of an
/// earlier failed run would read as orphans or as other stacks' claims, and ministack's
/// alarms ignore dimensions.
pub async fn delete_disconnect_alarms(aws: &aws_config::SdkConfig) {
    use blankslate_handlers::ports::Alarms;
    let any = blankslate_aws::CloudWatchAlarms::new(aws, String::new());
    let leftover = any.list_alarm_family().await.expect("alarms listed");
    for one in leftover {
        let alarms = any.clone().owned_by(one.owner);
        alarms.delete_disconnect_alarms(&[one.workspace]).await.expect("leftover alarm deleted");
    }
}

/// `blankslate deploy` of the ministack template (no extra function settings) with the
/// CLI's own binary as the functions' code: for tests that never need a function to run.
/// The reconciler is scheduled hourly, so it stays out of the way.
pub fn deploy_without_functions(dir: &Path, stack: &str, region: &str, env: &[(&str, &str)]) {
    let zip = zip_bootstrap(dir, &std::fs::read(env!("CARGO_BIN_EXE_blankslate")).expect("the binary"));
    let template = ministack_template(dir, &[]);
    let args = [
        "deploy",
        "--stack-name",
        stack,
        "--region",
        region,
        "--selector",
        "tag:blankslate",
        "--reconcile-minutes",
        "60",
        "--zip",
        zip.to_str().expect("utf-8"),
        "--template",
        template.to_str().expect("utf-8"),
    ];
    let out = blankslate(dir, &args, env, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "deploy: exit {:?}\n{stdout}\n{stderr}", out.status);
}

/// Cleans up a test's stack when dropped, whatever happened: `blankslate destroy` (unless
/// the test destroyed it itself and cleared `destroy`), then what outlives the stack: the
/// journal table (DeletionPolicy Retain, deletion-protected) and a `<stack>-trail`. A
/// failed run so leaves no reconciler firing at a dead emulator.
pub struct Teardown {
    pub dir: PathBuf,
    pub stack: String,
    pub region: String,
    pub env: Vec<(String, String)>,
    pub destroy: bool,
}

impl Teardown {
    pub fn new(dir: &Path, stack: &str, region: &str, env: &[(&str, &str)]) -> Self {
        Self {
            dir: dir.to_owned(),
            stack: stack.to_owned(),
            region: region.to_owned(),
            env: env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
            destroy: true,
        }
    }
}

impl Drop for Teardown {
    fn drop(&mut self) {
        if self.destroy {
            let env: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let args = ["destroy", "--yes", "--stack-name", &self.stack, "--region", &self.region];
            let out = blankslate(&self.dir, &args, &env, "");
            eprintln!("teardown: destroy {}: {:?} {}", self.stack, out.status, text(&out).1);
        }
        let (stack, region, endpoint) = (self.stack.clone(), self.region.clone(), ministack());
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(async {
                let aws = sdk(&endpoint, &region).await;
                let dynamodb = aws_sdk_dynamodb::Client::new(&aws);
                let table = format!("{stack}-Workspace_Journal");
                let _ = dynamodb.update_table().table_name(&table).deletion_protection_enabled(false).send().await;
                if let Err(e) = dynamodb.delete_table().table_name(&table).send().await {
                    eprintln!("teardown: journal table {table} not deleted: {e:?}");
                }
                let _ =
                    aws_sdk_cloudtrail::Client::new(&aws).delete_trail().name(format!("{stack}-trail")).send().await;
            })
        })
        .join();
    }
}

/// Polls `check` every second until it answers; on the deadline fails naming `step`.
pub async fn wait_for<T, F, Fut>(limit: Duration, step: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, String>>,
{
    let start = Instant::now();
    loop {
        match check().await {
            Ok(value) => {
                eprintln!("{step}: after {:.0?}", start.elapsed());
                return value;
            }
            Err(last) => assert!(start.elapsed() < limit, "step stalled: {step} (waited {limit:?}); last seen: {last}"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A control call to the WorkSpaces emulator, `POST /_control/<path>`, that must succeed.
pub async fn control(url: &str, path: &str, body: Value) -> Value {
    let authority = url.strip_prefix("http://").expect("an http URL");
    let body = body.to_string();
    let mut stream = tokio::net::TcpStream::connect(authority).await.expect("connect to the emulator");
    let head = format!(
        "POST /_control/{path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.expect("write");
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.expect("read");
    let response = String::from_utf8_lossy(&response).into_owned();
    let (head, body) = response.split_once("\r\n\r\n").expect("a complete response");
    assert!(head.starts_with("HTTP/1.1 200"), "control {path}: {head}\n{body}");
    serde_json::from_str(body).expect("JSON")
}

/// A user's session on `id` starts (`"connect"`) or ends (`"disconnect"`) now.
pub async fn session(url: &str, action: &str, id: &WorkspaceId) {
    control(url, action, json!({ "workspace_id": id.as_str() })).await;
}
