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
        (
            "BLANKSLATE_FUNCTION",
            "rebuild-everything",
            "expected alarm-create, alarm-delete, term-rebuild, reconcile or directory-cleanup",
        ),
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

#[test]
fn a_half_configured_directory_clean_up_fails_the_cold_start_naming_what_is_missing() {
    let reconciler = [
        ("BLANKSLATE_FUNCTION", "reconcile"),
        ("BLANKSLATE_SELECTOR", "tag:blankslate"),
        ("BLANKSLATE_JOURNAL_TABLE", "journal"),
        ("BLANKSLATE_ALARM_MODE", "off"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        reconciler.iter().copied().chain(extra.iter().copied()).collect()
    };
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (
            with(&[("BLANKSLATE_DIRECTORY_BASE_DN", "OU=WorkSpaces,DC=corp,DC=example")]),
            "BLANKSLATE_DIRECTORY_FUNCTION",
        ),
        (with(&[("BLANKSLATE_DIRECTORY_FUNCTION", "bs-Workspace_Directory_Cleanup")]), "BLANKSLATE_DIRECTORY_BASE_DN"),
    ];
    let cleanup = |extra: &[(&'static str, &'static str)]| -> Vec<(&'static str, &'static str)> {
        let base = [
            ("BLANKSLATE_FUNCTION", "directory-cleanup"),
            ("BLANKSLATE_LDAP_URLS", "ldaps://dc1.corp.example,ldaps://dc2.corp.example"),
            ("BLANKSLATE_DIRECTORY_BASE_DN", "OU=WorkSpaces,DC=corp,DC=example"),
            (
                "BLANKSLATE_DIRECTORY_SECRET_ARN",
                "arn:aws:secretsmanager:us-east-1:000000000000:secret:blankslate-ldap-AbCdEf",
            ),
        ];
        let names: Vec<&str> = extra.iter().map(|(k, _)| *k).collect();
        base.iter().copied().filter(|(k, _)| !names.contains(k)).chain(extra.iter().copied()).collect()
    };
    let cases = cases.into_iter().chain([
        (
            cleanup(&[("BLANKSLATE_LDAP_URLS", "ldap://dc1.corp.example")]),
            "plain LDAP sends the bind password unencrypted",
        ),
        (cleanup(&[("BLANKSLATE_LDAP_URLS", "")]), "BLANKSLATE_LDAP_URLS"),
        (cleanup(&[("BLANKSLATE_DIRECTORY_SECRET_ARN", "")]), "BLANKSLATE_DIRECTORY_SECRET_ARN"),
        (cleanup(&[("BLANKSLATE_LDAP_CA_BUNDLE", "not a certificate")]), "BLANKSLATE_LDAP_CA_BUNDLE"),
        (cleanup(&[("BLANKSLATE_ALLOW_PLAIN_LDAP", "yes")]), "expected true or false"),
    ]);
    for (env, expected) in cases {
        let (ok, output) = bootstrap(&env);
        assert!(!ok, "{env:?} started:\n{output}");
        assert!(output.contains("blankslate cannot start"), "{env:?}: {output}");
        assert!(output.contains(expected), "{env:?}: expected {expected:?} in {output}");
    }
}
