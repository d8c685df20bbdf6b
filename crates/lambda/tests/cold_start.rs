//! The bootstrap as Lambda starts it: a bad configuration stops the cold start with a
//! message naming the variable, before any invocation.

use std::process::Command;

fn bootstrap(env: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bootstrap"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        // Never reach for the EC2 metadata service from a test.
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        // Nothing listens here: the runtime API must not be reached before config is valid.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .envs(env.iter().copied());
    let out = cmd.output().expect("the bootstrap runs");
    (out.status.success(), format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)))
}

#[test]
fn a_bad_configuration_fails_the_cold_start_naming_the_variable() {
    let base = [
        ("BLANKSLATE_FUNCTION", "reconcile"),
        ("BLANKSLATE_SELECTOR", "tag:blankslate"),
        ("BLANKSLATE_JOURNAL_TABLE", "journal"),
        ("BLANKSLATE_ALARM_TOPIC_ARN", "arn:aws:sns:us-east-1:000000000000:Workspace_Disconnected_Topic"),
    ];
    let cases: [(&str, &str, &str); 5] = [
        ("BLANKSLATE_FUNCTION", "rebuild-everything", "expected alarm-create, alarm-delete, term-rebuild or reconcile"),
        ("BLANKSLATE_SELECTOR", "everything", "expected tag:KEY"),
        ("BLANKSLATE_JOURNAL_TABLE", "", "BLANKSLATE_JOURNAL_TABLE"),
        ("BLANKSLATE_ALARM_TOPIC_ARN", "", "BLANKSLATE_ALARM_TOPIC_ARN"),
        ("BLANKSLATE_GRACE_MINUTES", "soon", "BLANKSLATE_GRACE_MINUTES"),
    ];
    for (name, value, expected) in cases {
        let env: Vec<(&str, &str)> =
            base.iter().copied().filter(|(k, _)| *k != name).chain(std::iter::once((name, value))).collect();
        let (ok, output) = bootstrap(&env);
        assert!(!ok, "{name}={value:?} started:\n{output}");
        assert!(output.contains("blankslate cannot start"), "{name}: {output}");
        assert!(output.contains(expected), "{name}: expected {expected:?} in {output}");
    }
}
