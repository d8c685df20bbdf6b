//! `blankslate directory orphans` against our WorkSpaces emulator and Samba: lists the
//! WorkSpaces-looking computer objects of no existing WorkSpace, refuses to delete without
//! --yes when nobody can be asked, and deletes only them with --yes.
//!
//! Needs Samba (`bash scripts/samba start && source .emulators/samba.env`).

use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blankslate_core::directory::ComputerName;
use blankslate_core::ids::{BundleId, DirectoryId, UserName};
use blankslate_core::spec::WorkspaceSpec;
use blankslate_handlers::ports::Workspaces;

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start Samba with `bash scripts/samba start && source .emulators/samba.env` (scripts/test does)")
    })
}

fn settings(user: &str, password: &str) -> blankslate_directory::Settings {
    blankslate_directory::Settings {
        urls: vec![env("BLANKSLATE_SAMBA_LDAPS_URL")],
        bind_user: user.into(),
        password: password.into(),
        base_dn: env("BLANKSLATE_SAMBA_OU"),
        ca_bundle_pem: Some(std::fs::read(env("BLANKSLATE_SAMBA_CA")).unwrap()),
        allow_plain_ldap: false,
        timeout: Duration::from_secs(5),
    }
}

fn orphans(emulator: &str, extra: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_blankslate"))
        .args(["directory", "orphans", "--region", "us-east-1", "--ldap-url"])
        .arg(env("BLANKSLATE_SAMBA_LDAPS_URL"))
        .arg("--directory-base-dn")
        .arg(env("BLANKSLATE_SAMBA_OU"))
        .arg("--bind-user")
        .arg(env("BLANKSLATE_SAMBA_CLEANER_DN"))
        .arg("--directory-ca-bundle")
        .arg(env("BLANKSLATE_SAMBA_CA"))
        .args(extra)
        .env("BLANKSLATE_LDAP_PASSWORD", env("BLANKSLATE_SAMBA_CLEANER_PASSWORD"))
        .env("AWS_ENDPOINT_URL", emulator)
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env_remove("AWS_PROFILE")
        .stdin(Stdio::null())
        .output()
        .expect("run blankslate")
}

// Multi-threaded: the emulator serves on this runtime while the test waits for the binary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphans_are_listed_and_deleted_only_when_confirmed() {
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(emulator.url())
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await;
    let ws = blankslate_aws::AwsWorkspaces::new(&sdk);
    let spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new("pat").unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    let id = ws.create(&[spec]).await.unwrap().pending[0].1.clone();
    let live = loop {
        let d = ws.describe(std::slice::from_ref(&id)).await.unwrap();
        if let Some(name) = d.first().and_then(|d| d.computer_name.clone()) {
            break name;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut admin = blankslate_directory::Directory::new(settings(
        &env("BLANKSLATE_SAMBA_ADMIN_DN"),
        &env("BLANKSLATE_SAMBA_ADMIN_PASSWORD"),
    ))
    .unwrap()
    .connect()
    .await
    .unwrap();
    let ou = env("BLANKSLATE_SAMBA_OU");
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() % 100_000_000;
    let orphan = ComputerName::new(format!("WSAMZN-{:08}", stamp + 1)).unwrap();
    admin.join_computer(&ou, &live).await.unwrap();
    admin.join_computer(&ou, &orphan).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await; // whenCreated has 1 s resolution

    let listed = orphans(&emulator.url(), &[]);
    let stdout = String::from_utf8_lossy(&listed.stdout);
    assert!(listed.status.success(), "{stdout}{}", String::from_utf8_lossy(&listed.stderr));
    assert!(stdout.contains(orphan.as_str()), "{stdout}");
    assert!(!stdout.contains(live.as_str()), "{stdout}");

    // Other tests share this directory and leave their own orphans: delete only ours (a
    // prefix that is its whole name).
    let refused = orphans(&emulator.url(), &["--delete", "--prefix", orphan.as_str()]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("--yes"), "{}", String::from_utf8_lossy(&refused.stderr));
    assert_eq!(admin.find(&orphan).await.unwrap().len(), 1, "nothing deleted without confirmation");

    let deleted = orphans(&emulator.url(), &["--delete", "--yes", "--prefix", orphan.as_str()]);
    let stdout = String::from_utf8_lossy(&deleted.stdout);
    assert!(deleted.status.success(), "{stdout}{}", String::from_utf8_lossy(&deleted.stderr));
    assert!(stdout.contains("deleted CN="), "{stdout}");
    assert!(admin.find(&orphan).await.unwrap().is_empty());
    assert_eq!(admin.find(&live).await.unwrap().len(), 1, "the live WorkSpace's object stays");
    emulator.shutdown().await;
}
