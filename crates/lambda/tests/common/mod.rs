//! What the ministack tests share: the SDK set-up against ministack, the bootstrap
//! zipped as Lambda wants it and deployed as a function, and WorkSpace specs.

// Each test binary uses its part of this module.
#![allow(dead_code)]

use std::io::Write;
use std::time::Duration;

/// SdkConfig for ministack (or the emulator) with test credentials. Uploading a debug
/// bootstrap and starting it takes longer than production calls may.
pub async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    let policy = blankslate_aws::Policy {
        attempt_timeout: Duration::from_secs(120),
        operation_timeout: Duration::from_secs(240),
        ..blankslate_aws::Policy::default()
    };
    policy
        .apply(aws_config::defaults(aws_config::BehaviorVersion::latest()))
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_lambda::config::Credentials::new("test", "test", None, None, "test"))
        .load()
        .await
}

/// The bootstrap, zipped as Lambda wants it.
pub fn bootstrap_zip() -> Vec<u8> {
    let binary = std::fs::read(env!("CARGO_BIN_EXE_bootstrap")).expect("the bootstrap was built");
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .unix_permissions(0o755);
    zip.start_file("bootstrap", options).expect("zip entry");
    zip.write_all(&binary).expect("zip write");
    zip.finish().expect("zip finish").into_inner()
}

/// Creates a function running the bootstrap (provided.al2023) with these environment
/// variables.
pub async fn create_function(lambda: &aws_sdk_lambda::Client, name: &str, vars: &[(&str, &str)]) {
    use aws_sdk_lambda::primitives::Blob;
    use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
    let vars = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    lambda
        .create_function()
        .function_name(name)
        .runtime(Runtime::Providedal2023)
        .handler("bootstrap")
        .role("arn:aws:iam::000000000000:role/blankslate-functions")
        .timeout(60)
        .code(FunctionCode::builder().zip_file(Blob::new(bootstrap_zip())).build())
        .environment(Environment::builder().set_variables(Some(vars)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction {name}: {e:?}"));
}

/// A WorkSpace of `user` in the test directory, with these tags.
pub fn spec(user: &str, tags: &[(&str, &str)]) -> blankslate_core::spec::WorkspaceSpec {
    use blankslate_core::ids::{BundleId, DirectoryId, UserName};
    let mut spec = blankslate_core::spec::WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    spec.tags = blankslate_core::spec::Tags::from_pairs(tags.iter().copied()).unwrap();
    spec
}

/// Creates an SNS topic; returns its ARN.
pub async fn create_topic(aws: &aws_config::SdkConfig, name: &str) -> String {
    let created = aws_sdk_sns::Client::new(aws).create_topic().name(name).send().await.expect("CreateTopic");
    created.topic_arn().expect("topic ARN").to_owned()
}
