//! What the ministack tests share: the SDK set-up against ministack and the bootstrap
//! zipped as Lambda wants it.

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
