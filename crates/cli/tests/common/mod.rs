//! What the ministack-backed CLI tests share: the endpoint, running the binary with a
//! clean environment, and the built-in template rewritten for ministack.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

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
/// fail CreateChangeSet there ("InternalError: 0"). The rewrite gives each condition its
/// real value for the selector `tag:blankslate`; every resource, parameter, mapping and
/// output is the template's own.
///
/// `function_env` is added to every function's `Environment.Variables` (each function's
/// block is the template's `        Variables:` line); empty, the functions are untouched.
pub fn ministack_template(dir: &Path, function_env: &[(&str, &str)]) -> PathBuf {
    let template = include_str!("../../../../deploy/blankslate.yaml");
    let start = template.find("\nConditions:\n").expect("a Conditions block");
    let end = template.find("\nResources:\n").expect("a Resources block");
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
    let mut patched = format!("{}{conditions}{}", &template[..start], &template[end..]);
    if !function_env.is_empty() {
        let marker = "\n      Environment:\n        Variables:\n";
        let functions = patched.matches(marker).count();
        assert_eq!(functions, 4, "expected the four functions' Environment.Variables blocks");
        let added: String = function_env.iter().map(|(k, v)| format!("          {k}: \"{v}\"\n")).collect();
        patched = patched.replace(marker, &format!("{marker}{added}"));
    }
    let path = dir.join("blankslate-ministack.yaml");
    std::fs::write(&path, patched).expect("template written");
    path
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
