//! The directory clean-up function as the reconciler and the doctor reach it: the built
//! bootstrap running as a real Lambda function in ministack (`directory-cleanup`), its
//! bind account read from ministack's Secrets Manager, deleting in a real Samba AD DC
//! over LDAPS with the CA bundle from its environment, called through the reconciler's
//! adapter (`blankslate_aws::DirectoryFunction`, a synchronous Invoke).
//!
//! Needs ministack and Samba: `bash scripts/emulators start && source .emulators/env`,
//! `bash scripts/samba start && source .emulators/samba.env` (or `bash scripts/test`).

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime};
use blankslate_aws::DirectoryFunction;
use blankslate_core::directory::acl::DeleteRight;
use blankslate_core::directory::{CleanupItem, ComputerName, FailureKind, Outcome};
use blankslate_core::ids::{DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::Timestamp;
use blankslate_directory::{Directory, Settings};
use blankslate_handlers::ports::Directory as _;
use common::{bootstrap_zip, sdk};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!(
            "{name} is not set: this test needs ministack and Samba (`bash scripts/emulators start && source .emulators/env`, \
             `bash scripts/samba start && source .emulators/samba.env`, or `bash scripts/test`)"
        )
    })
}

fn now() -> Timestamp {
    Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

/// `WSAMZN-` and eight characters unique to this run: NetBIOS names are 15 at most.
fn name(tag: char, n: u32) -> ComputerName {
    let stamp = (now().as_millis() / 1000) % 100_000;
    ComputerName::new(format!("WSAMZN-{tag}{stamp:05}{n:02}")).unwrap()
}

fn admin() -> Directory {
    Directory::new(Settings {
        urls: vec![env("BLANKSLATE_SAMBA_LDAPS_URL")],
        bind_user: env("BLANKSLATE_SAMBA_ADMIN_DN"),
        password: env("BLANKSLATE_SAMBA_ADMIN_PASSWORD"),
        base_dn: env("BLANKSLATE_SAMBA_OU"),
        ca_bundle_pem: Some(std::fs::read(env("BLANKSLATE_SAMBA_CA")).unwrap()),
        allow_plain_ldap: false,
        timeout: Duration::from_secs(5),
    })
    .unwrap()
}

async fn exists(name: &ComputerName) -> bool {
    let mut session = admin().connect().await.unwrap();
    !session.find(name).await.unwrap().is_empty()
}

fn item(user: &str, name: &ComputerName, terminated_at: Timestamp) -> CleanupItem {
    CleanupItem {
        desk: DeskKey {
            directory_id: DirectoryId::new("d-9067083b4b").unwrap(),
            user_name: UserName::new(user).unwrap(),
        },
        workspace_id: WorkspaceId::new("ws-abc123def").unwrap(),
        computer_name: name.clone(),
        terminated_at,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_clean_up_function_deletes_in_samba_what_the_reconciler_hands_it() {
    let aws = sdk(&env("BLANKSLATE_MINISTACK")).await;
    let unique = std::process::id();
    let secrets = aws_sdk_secretsmanager::Client::new(&aws);
    let secret = |suffix: &str, password: String| {
        let secrets = secrets.clone();
        let name = format!("blankslate-ldap-{suffix}-{unique}");
        async move {
            let body = serde_json::json!({"username": env("BLANKSLATE_SAMBA_CLEANER_DN"), "password": password});
            secrets
                .create_secret()
                .name(name)
                .secret_string(body.to_string())
                .send()
                .await
                .expect("CreateSecret")
                .arn
                .expect("the secret's ARN")
        }
    };
    let good = secret("good", env("BLANKSLATE_SAMBA_CLEANER_PASSWORD")).await;
    let wrong = secret("wrong", "not-the-password".into()).await;

    let lambda = aws_sdk_lambda::Client::new(&aws);
    let zip = bootstrap_zip();
    let function = |suffix: &str, secret_arn: String| {
        let (lambda, zip) = (lambda.clone(), zip.clone());
        let name = format!("Workspace_Directory_Cleanup-{suffix}-{unique}");
        async move {
            let vars = HashMap::from([
                ("BLANKSLATE_FUNCTION".to_owned(), "directory-cleanup".to_owned()),
                ("BLANKSLATE_LDAP_URLS".into(), format!("ldaps://127.0.0.1:9,{}", env("BLANKSLATE_SAMBA_LDAPS_URL"))),
                ("BLANKSLATE_DIRECTORY_BASE_DN".into(), env("BLANKSLATE_SAMBA_OU")),
                ("BLANKSLATE_DIRECTORY_SECRET_ARN".into(), secret_arn),
                ("BLANKSLATE_LDAP_CA_BUNDLE".into(), std::fs::read_to_string(env("BLANKSLATE_SAMBA_CA")).unwrap()),
                ("AWS_ENDPOINT_URL".into(), env("BLANKSLATE_MINISTACK")),
            ]);
            lambda
                .create_function()
                .function_name(&name)
                .runtime(Runtime::Providedal2023)
                .handler("bootstrap")
                .role("arn:aws:iam::000000000000:role/blankslate-directory-cleanup")
                .timeout(60)
                .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
                .environment(Environment::builder().set_variables(Some(vars)).build())
                .send()
                .await
                .unwrap_or_else(|e| panic!("CreateFunction {name}: {e:?}"));
            name
        }
    };
    let cleanup = DirectoryFunction::new(&aws, function("good", good).await);
    let refused = DirectoryFunction::new(&aws, function("wrong", wrong).await);

    // WorkSpaces joined three computers; a fourth object is no WorkSpace's.
    let ou = env("BLANKSLATE_SAMBA_OU");
    let (old, other, unrelated) =
        (name('A', 0), name('B', 0), ComputerName::new(format!("LAB-{}", unique % 100_000)).unwrap());
    let mut session = admin().connect().await.unwrap();
    for computer in [&old, &other, &unrelated] {
        session.join_computer(&ou, computer).await.unwrap();
    }
    session.close().await;

    // The doctor's check: binds (after the unreachable first URL), reads the delegation,
    // lists what looks like a WorkSpace.
    let checked = cleanup.check("WSAMZN-").await.expect("the check answers");
    assert_eq!(checked.bound.as_deref().ok(), Some(env("BLANKSLATE_SAMBA_LDAPS_URL").as_str()), "{checked:?}");
    assert_eq!(checked.may_delete, Some(Ok(DeleteRight::DeleteChild)), "{checked:?}");
    let listed: Vec<String> =
        checked.computers.clone().unwrap().unwrap().iter().map(|o| o.computer_name().to_owned()).collect();
    assert!(listed.iter().any(|n| old.same_as(n)) && listed.iter().any(|n| other.same_as(n)), "{listed:?}");
    assert!(!listed.iter().any(|n| unrelated.same_as(n)), "{listed:?}");

    // The reconciler's delete: the terminated WorkSpace's object only.
    let later = now() + Duration::from_secs(60);
    let outcomes = cleanup.delete_computers(&[item("alice", &old, later), item("bob", &name('C', 9), later)]).await;
    assert!(
        matches!(&outcomes[0], Outcome::Deleted { dn } if dn.to_ascii_lowercase().contains(&old.as_str().to_ascii_lowercase())),
        "{outcomes:?}"
    );
    assert_eq!(outcomes[1], Outcome::NothingToDelete, "{outcomes:?}");
    assert!(!exists(&old).await, "the terminated WorkSpace's object is still there");
    assert!(exists(&other).await && exists(&unrelated).await, "an object that was not handed over is gone");

    // S5 across the wire: a WorkSpace terminated before the object existed does not own it.
    let earlier = Timestamp::from_millis(now().as_millis() - 3_600_000);
    let outcomes = cleanup.delete_computers(&[item("carol", &other, earlier)]).await;
    assert!(matches!(&outcomes[0], Outcome::Refused { .. }), "{outcomes:?}");
    assert!(exists(&other).await);

    // A refused bind is every item's outcome, named, and deletes nothing.
    let outcomes = refused.delete_computers(&[item("dave", &other, later)]).await;
    assert!(matches!(&outcomes[0], Outcome::Failed { kind: FailureKind::BadCredentials, .. }), "{outcomes:?}");
    assert!(exists(&other).await);
    let checked = refused.check("WSAMZN-").await.expect("the check answers");
    assert!(matches!(&checked.bound, Err(f) if f.kind == FailureKind::BadCredentials), "{checked:?}");

    // A function that cannot be reached fails its items as unreachable (retried later).
    let missing = DirectoryFunction::new(&aws, format!("Workspace_Directory_Cleanup-missing-{unique}"));
    let outcomes = missing.delete_computers(&[item("erin", &other, later)]).await;
    assert!(matches!(&outcomes[0], Outcome::Failed { kind: FailureKind::Unreachable, .. }), "{outcomes:?}");

    // Tidy the objects this test left (as the admin: the cleaner may not delete LAB-*).
    let mut session = admin().connect().await.unwrap();
    for computer in [&other, &unrelated] {
        session.delete_guarded(computer, now() + Duration::from_secs(60)).await.unwrap();
    }
    session.close().await;
}
