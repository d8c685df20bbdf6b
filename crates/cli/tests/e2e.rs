//! The seed's whole loop, end to end, on a local AWS: `blankslate deploy` of the real
//! template into ministack, our WorkSpaces emulator in-process, and users who connect and
//! leave.
//!
//! What drives each step:
//!
//! - **Deploy**: the real binary with the real template, the debug bootstrap zipped as
//!   `--zip`. Two rewrites of a copy of the template, for ministack only (see
//!   `common::ministack_template`): the Conditions block (ministack cannot evaluate
//!   Fn::Split in conditions) gets each condition's real value for `tag:blankslate`, and
//!   every function's `Environment.Variables` gets `AWS_ENDPOINT_URL` (ministack),
//!   `AWS_ENDPOINT_URL_WORKSPACES` and `AWS_ENDPOINT_URL_RESOURCE_GROUPS_TAGGING_API` (the
//!   emulator, which serves the reconciler's GetResources for its WorkSpaces), which a real
//!   account does not need, and
//!   `BLANKSLATE_ALARM_LAG_SECONDS=5`: ministack raises an alarm the moment the datapoint
//!   arrives, so the 5 minutes the reconciler allows for CloudWatch's alarm delay (a
//!   connection that close before the recorded disconnect counts as a return) would only
//!   make the test wait.
//! - **CloudTrail -> EventBridge -> functions**: ministack has no CloudTrail feeding its
//!   EventBridge, so the emulator stands in for both: on CreateWorkspaces and
//!   TerminateWorkspaces, and on each login, it Invokes the deployed function the
//!   deployed rule targets (`<stack>-Workspace_Alarm_Create`, `-Workspace_Alarm_Del`,
//!   `-Workspace_Term_Rebuild`) with the event as EventBridge delivers it. The rules
//!   themselves are checked separately: their deployed patterns (DescribeRule) against
//!   the same event shapes, with ministack's TestEventPattern.
//! - **Session datapoints -> alarm**: real, in ministack. The emulator puts
//!   `SessionDisconnect` / `ConnectionSuccess` with PutMetricData; ministack evaluates
//!   every alarm on each PutMetricData (and on PutMetricAlarm), not on a timer. It
//!   ignores an alarm's dimensions when it evaluates it (`cloudwatch.py`
//!   `_evaluate_alarm` sums every datapoint of the namespace and metric), so any
//!   disconnect sets every armed alarm to ALARM. All the disconnects therefore happen
//!   together, so that no datapoint is still within the alarms' 60-second window when the
//!   rebuilt WorkSpace's alarm is created (PutMetricAlarm evaluates it at once).
//! - **Alarm -> SNS -> SQS -> Term_Rebuild**: real, in ministack: it fans the ALARM
//!   transition out to the deployed topic, whose raw-message subscription puts it in the
//!   deployed alarm queue, which the deployed event source mapping drains into
//!   Workspace_Term_Rebuild in batches (partial batch responses). (The alarm's
//!   message spells the dimensions `Name`/`Value`, as PutMetricAlarm does, where
//!   CloudWatch writes `name`/`value`; the parser reads both.)
//! - **The schedule**: real, in ministack: its EventBridge scheduler thread fires the
//!   deployed `rate(1 minute)` rule at the deployed reconciler.
//! - **Destroy**: the real binary.
//!
//! - **Directory clean-up**: real, against Samba's AD DC (`scripts/samba`). The stack is
//!   deployed with the `--directory-*` flags; the emulator joins each WorkSpace it creates
//!   to Samba (adds its computer object), as the service does; the clean-up function runs
//!   in ministack (its VPC settings are accepted and not enforced there), reads its bind
//!   account from ministack's Secrets Manager and deletes over LDAPS with the test CA.
//!   After alice's rebuild her old computer object is gone; the rebuilt alice's, bob's,
//!   erin's (not managed) and an unrelated computer stay. `blankslate doctor` then reports
//!   the bind, the delete right and the one orphan seeded for it.
//!
//! Alice's WorkSpace is rebuilt at the first scheduled run after the 1-minute grace period.
//!
//! Needs ministack: `bash scripts/emulators start && source .emulators/env` (or
//! `bash scripts/test`), and the debug bootstrap built (`cargo test --workspace` builds it;
//! alone: `cargo build -p blankslate-lambda --bin bootstrap`).

mod common;

use std::time::{Duration, Instant};

use blankslate_aws::{AwsWorkspaces, CloudWatchAlarms, DynamoJournal};
use blankslate_core::events::{self, EmitContext};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::Phase;
use blankslate_core::spec::{RunningMode, Tags, VolumeEncryption, WorkspaceProperties, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{Alarms, Journal, Workspaces};
use common::{blankslate, ministack, scratch, session, text, wait_for};
use serde_json::Value;

/// A Region no other test uses: destroy deletes every `Workspace_Disconnected_id_*` alarm
/// of its Region, and ministack's alarms ignore dimensions. `BLANKSLATE_E2E_REGION`
/// picks another, to run two of these side by side against one ministack.
fn region() -> &'static str {
    static REGION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    REGION.get_or_init(|| std::env::var("BLANKSLATE_E2E_REGION").unwrap_or_else(|_| "eu-central-1".into()))
}
const DIRECTORY: &str = "d-90670e2e01";
const BUNDLE: &str = "wsb-clj85qzj1";
const KEY: &str = "arn:aws:kms:eu-central-1:000000000000:key/1234abcd-12ab-34cd-56ef-1234567890ab";

async fn sdk(endpoint: &str) -> aws_config::SdkConfig {
    common::sdk(endpoint, region()).await
}

fn spec(user: &str, tags: &[(&str, &str)]) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new(DIRECTORY).expect("directory"),
        UserName::new(user).expect("user"),
        BundleId::new(BUNDLE).expect("bundle"),
    );
    spec.tags = Tags::from_pairs(tags.iter().copied()).expect("tags");
    spec
}

async fn output(cfn: &aws_sdk_cloudformation::Client, stack: &str, key: &str) -> String {
    let out = cfn.describe_stacks().stack_name(stack).send().await.expect("DescribeStacks");
    let stack = out.stacks().first().expect("the stack");
    let found = stack.outputs().iter().find(|o| o.output_key() == Some(key));
    found.and_then(|o| o.output_value()).unwrap_or_else(|| panic!("no output {key}")).to_owned()
}

fn samba(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start Samba with `bash scripts/samba start && source .emulators/samba.env` (scripts/test does)")
    })
}

fn directory(user: &str, password: &str) -> blankslate_directory::Directory {
    blankslate_directory::Directory::new(blankslate_directory::Settings {
        urls: vec![samba("BLANKSLATE_SAMBA_LDAPS_URL")],
        bind_user: user.into(),
        password: password.into(),
        base_dn: samba("BLANKSLATE_SAMBA_OU"),
        ca_bundle_pem: Some(std::fs::read(samba("BLANKSLATE_SAMBA_CA")).expect("Samba's test CA")),
        allow_plain_ldap: false,
        timeout: Duration::from_secs(5),
    })
    .expect("directory settings")
}

/// How many computer objects named `name` are in the OU.
async fn objects(admin: &blankslate_directory::Directory, name: &blankslate_core::directory::ComputerName) -> usize {
    let mut ldap = admin.connect().await.expect("admin bind");
    let found = ldap.find(name).await.expect("search").len();
    ldap.close().await;
    found
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64,
    )
}

/// The deployed rule's pattern matches `event` (TestEventPattern) and not `other`.
async fn pattern_matches(events: &aws_sdk_eventbridge::Client, rule: &str, event: &Value, other: &Value) {
    let described =
        events.describe_rule().name(rule).send().await.unwrap_or_else(|e| panic!("DescribeRule {rule}: {e:?}"));
    let pattern = described.event_pattern().unwrap_or_else(|| panic!("rule {rule} has no pattern"));
    for (event, expected) in [(event, true), (other, false)] {
        let answer = events
            .test_event_pattern()
            .event_pattern(pattern)
            .event(event.to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("TestEventPattern {rule}: {e:?}"));
        assert_eq!(answer.result(), expected, "rule {rule} pattern {pattern} on {event}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_loop_end_to_end_on_ministack() {
    let endpoint = ministack();
    let dir = scratch("e2e");
    let stack = format!("bs-e2e-{}", std::process::id());
    let aws = sdk(&endpoint).await;

    // The directory: Samba, the WorkSpaces OU, the delegated account in a secret.
    let ou = samba("BLANKSLATE_SAMBA_OU");
    let admin = directory(&samba("BLANKSLATE_SAMBA_ADMIN_DN"), &samba("BLANKSLATE_SAMBA_ADMIN_PASSWORD"));
    let bind_account = serde_json::json!({
        "username": samba("BLANKSLATE_SAMBA_CLEANER_DN"),
        "password": samba("BLANKSLATE_SAMBA_CLEANER_PASSWORD"),
    });
    let secret_arn = aws_sdk_secretsmanager::Client::new(&aws)
        .create_secret()
        .name(format!("{stack}-ldap"))
        .secret_string(bind_account.to_string())
        .send()
        .await
        .expect("CreateSecret in ministack")
        .arn
        .expect("the secret's ARN");

    // The emulator first: the functions' names follow from the stack name, and the
    // functions' environment needs the emulator's address.
    let emulator = blankslate_emulator::start(blankslate_emulator::Options {
        join_directory: Some(blankslate_emulator::JoinDirectory { settings: admin.settings().clone(), ou: ou.clone() }),
        create: Duration::from_secs(5),
        terminate: Duration::from_secs(3),
        terminated_visible: Duration::from_secs(3),
        region: region().into(),
        cloudwatch_endpoint: Some(endpoint.clone()),
        lambda_endpoint: Some(endpoint.clone()),
        functions: blankslate_emulator::FunctionNames::of_stack(&stack),
        ..blankslate_emulator::Options::default()
    })
    .await
    .expect("emulator starts");
    let url = emulator.url();

    // 1. Deploy, with directory clean-up.
    let (ldaps_url, ca_bundle) = (samba("BLANKSLATE_SAMBA_LDAPS_URL"), samba("BLANKSLATE_SAMBA_CA"));
    let zip = common::debug_bootstrap_zip(&dir);
    let template = common::wired_template(&dir, &endpoint, &url);
    let env = common::cli_env(&endpoint, &url);
    let args = [
        "deploy",
        "--stack-name",
        &stack,
        "--region",
        region(),
        "--selector",
        "tag:blankslate",
        "--grace-minutes",
        "1",
        "--reconcile-minutes",
        "1",
        "--zip",
        zip.to_str().expect("utf-8"),
        "--template",
        template.to_str().expect("utf-8"),
        "--directory-base-dn",
        &ou,
        "--ldap-url",
        &ldaps_url,
        "--directory-ca-bundle",
        &ca_bundle,
        "--directory-subnet",
        "subnet-0e2e0000000000001",
        "--directory-security-group",
        "sg-0e2e0000000000001",
        "--directory-secret-arn",
        &secret_arn,
    ];
    // Leftovers of an earlier failed run in this Region would confuse the alarm checks.
    common::delete_disconnect_alarms(&aws).await;
    let mut teardown = common::Teardown::new(&dir, &stack, region(), &env);
    let out = blankslate(&dir, &args, &env, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "step stalled: deploy: exit {:?}\n{stdout}\n{stderr}", out.status);

    let cfn = aws_sdk_cloudformation::Client::new(&aws);
    let journal = DynamoJournal::new(&aws, output(&cfn, &stack, "JournalTableName").await);
    let owner = blankslate_core::alarm::Owner::Stack(
        blankslate_core::alarm::StackName::new(stack.as_str()).expect("stack name"),
    );
    let alarms = CloudWatchAlarms::new(&aws, output(&cfn, &stack, "DisconnectTopicArn").await).owned_by(owner);
    for (key, role) in [
        ("AlarmCreateFunctionName", "Workspace_Alarm_Create"),
        ("AlarmDeleteFunctionName", "Workspace_Alarm_Del"),
        ("TermRebuildFunctionName", "Workspace_Term_Rebuild"),
    ] {
        assert_eq!(output(&cfn, &stack, key).await, format!("{stack}-{role}"), "the emulator delivers to {key}");
    }
    let ws_sdk = sdk(&url).await;
    let workspaces = AwsWorkspaces::new(&ws_sdk);

    // 5. The deployed rules' patterns against the events the emulator sends.
    let eventbridge = aws_sdk_eventbridge::Client::new(&aws);
    let ctx = EmitContext { account: "000000000000".into(), region: region().into(), event_id: "e2e".into() };
    let probe = WorkspaceId::new("ws-e2e0000001").expect("id");
    let directory = DirectoryId::new(DIRECTORY).expect("directory");
    let create_event = events::cloudtrail_create_workspaces(
        &ctx,
        now(),
        &[(probe.clone(), directory.clone(), "alice".into(), BUNDLE.into())],
        &[],
    );
    let terminate_event = events::cloudtrail_terminate_workspaces(&ctx, now(), std::slice::from_ref(&probe));
    let login_event = events::workspaces_access_login(&ctx, now(), &probe, &directory);
    pattern_matches(&eventbridge, &format!("{stack}-Workspace_Create"), &create_event, &terminate_event).await;
    pattern_matches(&eventbridge, &format!("{stack}-Workspace_Term"), &terminate_event, &create_event).await;
    pattern_matches(&eventbridge, &format!("{stack}-Workspace_Access"), &login_event, &create_event).await;

    // 3. Three WorkSpaces: alice (opted in, encrypted, AUTO_STOP), bob (opted in), erin (not).
    let mut alice_spec = spec("alice", &[("blankslate", "on"), ("cost-center", "4711")]);
    alice_spec.encryption = VolumeEncryption::from_request_fields(Some(KEY), true, true).expect("encryption");
    alice_spec.properties = WorkspaceProperties {
        running_mode: Some(RunningMode::from_api("AUTO_STOP", Some(60)).expect("running mode")),
        root_volume_size_gib: Some(80),
        user_volume_size_gib: Some(10),
        ..WorkspaceProperties::default()
    };
    let created = workspaces
        .create(&[alice_spec.clone(), spec("bob", &[("blankslate", "")]), spec("erin", &[("team", "library")])])
        .await
        .expect("CreateWorkspaces in the emulator");
    assert_eq!(created.pending.len(), 3, "{created:?}");
    let id_of = |user: &str| -> WorkspaceId {
        created.pending.iter().find(|(d, _)| d.user_name.as_str() == user).map(|(_, id)| id.clone()).expect("created")
    };
    let (alice, bob, erin) = (id_of("alice"), id_of("bob"), id_of("erin"));
    // A computer in the OU that is no WorkSpace's: clean-up never touches it.
    let unrelated =
        blankslate_core::directory::ComputerName::new(format!("LAB-{}", std::process::id() % 100_000)).unwrap();
    let mut ldap = admin.connect().await.expect("admin bind");
    ldap.join_computer(&ou, &unrelated).await.expect("the unrelated computer joined");
    ldap.close().await;

    // CloudTrail -> Workspace_Alarm_Create: alarms and journal records for alice and bob.
    wait_for(Duration::from_secs(90), "Workspace_Alarm_Create arms alice's and bob's alarms", || async {
        let mut alarmed = alarms.list_disconnect_alarms().await.map_err(|e| e.to_string())?;
        alarmed.sort();
        let mut want = vec![alice.clone(), bob.clone()];
        want.sort();
        if alarmed == want {
            Ok(())
        } else {
            Err(format!("alarms {alarmed:?}, effects {:?}", emulator.effects()))
        }
    })
    .await;
    let records = journal.list().await.expect("journal");
    let mut journaled: Vec<_> = records.iter().filter_map(|r| r.workspace_id().cloned()).collect();
    journaled.sort();
    let mut want = vec![alice.clone(), bob.clone()];
    want.sort();
    assert_eq!(journaled, want, "journal records: {records:?}");

    // All three AVAILABLE, then sessions. Together, so every SessionDisconnect datapoint
    // is old when the rebuilt WorkSpace's alarm is created (see the module docs).
    wait_for(Duration::from_secs(60), "the three WorkSpaces become AVAILABLE", || async {
        let described =
            workspaces.describe(&[alice.clone(), bob.clone(), erin.clone()]).await.map_err(|e| e.to_string())?;
        let states: Vec<String> = described.iter().map(|d| format!("{:?}", d.state)).collect();
        if described.len() == 3 && states.iter().all(|s| s.eq_ignore_ascii_case("available")) {
            Ok(())
        } else {
            Err(format!("{states:?}"))
        }
    })
    .await;
    let alice_before = workspaces.describe(std::slice::from_ref(&alice)).await.expect("describe").remove(0);
    let alice_tags = workspaces.tags(&alice).await.expect("tags");
    // Sessions longer than the alarm lag allowance (5 s here), so leaving is not taken
    // for a return the alarm hid.
    for id in [&alice, &bob, &erin] {
        session(&url, "connect", id).await;
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    for id in [&alice, &bob, &erin] {
        session(&url, "disconnect", id).await;
    }
    let disconnected = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    session(&url, "connect", &bob).await; // back within grace

    // 4. SessionDisconnect -> ministack's alarm -> its notification on the deployed topic
    // -> the alarm queue -> the event source mapping -> Term_Rebuild -> Disconnected in the journal.
    wait_for(
        Duration::from_secs(60),
        "SessionDisconnect -> alarm -> SNS -> SQS -> Term_Rebuild journals alice",
        || async {
            match journal.find_by_workspace(&alice).await.map_err(|e| e.to_string())? {
                Some(r) if matches!(r.phase, Phase::Disconnected { .. }) => Ok(()),
                other => Err(format!("{other:?}; effects {:?}", emulator.effects())),
            }
        },
    )
    .await;

    // After grace, the scheduled reconciler rebuilds alice with the identical spec.
    let new_alice = wait_for(Duration::from_secs(180), "the scheduled reconciler rebuilds alice", || async {
        let found = workspaces.describe_desk(&alice_spec.desk()).await.map_err(|e| e.to_string())?;
        match found.filter(|d| d.id != alice) {
            Some(found) => Ok(found),
            None => Err(format!("alice still on {alice}; journal {:?}", journal.list().await)),
        }
    })
    .await;
    assert!(disconnected.elapsed() >= Duration::from_secs(60), "rebuilt before the grace period ended");
    assert_eq!(new_alice.spec.encryption, alice_before.spec.encryption);
    assert_eq!(new_alice.spec.properties, alice_before.spec.properties);
    assert_eq!(new_alice.spec.bundle_id, alice_before.spec.bundle_id);
    assert_eq!(alice_before.spec.encryption, alice_spec.encryption, "the emulator dropped the encryption");
    assert_eq!(alice_before.spec.properties.running_mode, alice_spec.properties.running_mode);
    let new_id = new_alice.id.clone();
    let new_tags = wait_for(Duration::from_secs(30), "DescribeTags on the rebuilt alice", || async {
        workspaces.tags(&new_id).await.map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(new_tags, alice_tags, "the rebuilt WorkSpace's tags");
    assert_eq!(alice_tags, alice_spec.tags);
    // The reconciler read them in bulk (the template's BLANKSLATE_WORKSPACE_ARN_PREFIX),
    // through the tagging API the emulator serves, not one DescribeTags call each.
    let calls = emulator.throttling().operations;
    assert!(calls.get("GetResources").is_some_and(|s| s.calls > 0), "no GetResources call: {calls:?}");

    // Directory clean-up: alice's old computer object goes once her old WorkSpace is
    // gone; nothing else is touched.
    let name_of = |d: &blankslate_core::observe::WorkspaceDescription| d.computer_name.clone().expect("a ComputerName");
    let old_name = name_of(&alice_before);
    // The rebuilt alice shows her ComputerName once past PENDING.
    let others =
        wait_for(Duration::from_secs(60), "bob, erin and the rebuilt alice show their ComputerName", || async {
            let described =
                workspaces.describe(&[bob.clone(), erin.clone(), new_id.clone()]).await.map_err(|e| e.to_string())?;
            let names: Vec<_> = described.iter().filter_map(|d| d.computer_name.clone()).collect();
            if names.len() == 3 {
                Ok(names)
            } else {
                Err(format!("{described:?}"))
            }
        })
        .await;
    assert_eq!(others.len(), 3, "{others:?}");
    wait_for(Duration::from_secs(180), "the clean-up function deletes alice's old computer object", || async {
        match objects(&admin, &old_name).await {
            0 => Ok(()),
            n => Err(format!("{n} object(s) {old_name}; journal {:?}", journal.find_by_workspace(&new_id).await)),
        }
    })
    .await;
    for name in others.iter().chain([&unrelated]) {
        assert_eq!(objects(&admin, name).await, 1, "{name} was touched");
    }
    let record =
        journal.list().await.expect("journal").into_iter().find(|r| r.desk == alice_spec.desk()).expect("alice");
    assert!(
        record.cleanups.iter().any(|c| c.describe().contains("deleted") && c.item.workspace_id == alice),
        "{:?}",
        record.cleanups
    );
    let out = blankslate(&dir, &["history", "--stack-name", &stack, "--region", region()], &env, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "history: {stdout}\n{stderr}");
    let shown = stdout.lines().find(|l| l.contains(alice.as_str())).unwrap_or_default().to_ascii_uppercase();
    assert!(
        shown.contains(&format!("CN={}", old_name.as_str().to_ascii_uppercase())) && shown.contains("DELETED"),
        "{stdout}"
    );

    // Doctor asks the clean-up function: bind, delete right, and the orphans, one more
    // after one is seeded (Samba is shared with other tests, which leave objects too).
    let doctor = || {
        let out = blankslate(&dir, &["doctor", "--stack-name", &stack, "--region", region()], &env, "");
        let (stdout, _) = text(&out);
        let line = |name: &str| stdout.lines().find(|l| l.contains(name)).unwrap_or_default().to_owned();
        assert!(line("directory bind").contains("PASS"), "{stdout}");
        assert!(line("directory delete right").contains("PASS"), "{stdout}");
        let orphans = line("directory orphans");
        if orphans.contains("PASS") && orphans.contains("none") {
            return 0;
        }
        assert!(orphans.contains("WARN"), "{stdout}");
        let count = orphans.split_whitespace().find_map(|w| w.parse::<usize>().ok());
        count.unwrap_or_else(|| panic!("no orphan count in {orphans:?}"))
    };
    let before = doctor();
    let mut ldap = admin.connect().await.expect("admin bind");
    let orphan =
        blankslate_core::directory::ComputerName::new(format!("WSAMZN-E2E{:05}", std::process::id() % 100_000))
            .unwrap();
    ldap.join_computer(&ou, &orphan).await.expect("the orphan joined");
    ldap.close().await;
    assert_eq!(doctor(), before + 1, "doctor did not count the seeded orphan");
    let mut ldap = admin.connect().await.expect("admin bind");
    ldap.delete_guarded(&orphan, now() + Duration::from_secs(60)).await.expect("the orphan removed");
    ldap.delete_guarded(&unrelated, now() + Duration::from_secs(60)).await.expect("the unrelated computer removed");
    ldap.close().await;

    // The rebuilt WorkSpace's alarm replaces the old one.
    wait_for(Duration::from_secs(90), "the new alarm armed and the old one deleted", || async {
        let mut alarmed = alarms.list_disconnect_alarms().await.map_err(|e| e.to_string())?;
        alarmed.sort();
        let mut want = vec![new_id.clone(), bob.clone()];
        want.sort();
        if alarmed == want {
            Ok(())
        } else {
            Err(format!("alarms {alarmed:?}, want {want:?}; effects {:?}", emulator.effects()))
        }
    })
    .await;

    // Bob (back within grace) and erin (not managed) kept theirs through every
    // reconciler run since.
    let described = workspaces.describe(&[bob.clone(), erin.clone()]).await.expect("describe");
    assert_eq!(described.len(), 2, "bob or erin was terminated: {described:?}");
    for d in &described {
        assert!(format!("{:?}", d.state).eq_ignore_ascii_case("available"), "{d:?}");
    }
    let new_state = workspaces.describe(std::slice::from_ref(&new_id)).await.expect("describe");
    assert_eq!(new_state.len(), 1, "the rebuilt alice was terminated again");

    // 6. Destroy: no alarm left, no WorkSpace terminated by it.
    let available = |list: Vec<blankslate_core::observe::WorkspaceDescription>| {
        let mut ids: Vec<WorkspaceId> = list
            .into_iter()
            .filter(|d| format!("{:?}", d.state).eq_ignore_ascii_case("available"))
            .map(|d| d.id)
            .collect();
        ids.sort();
        ids
    };
    let mut want = vec![new_id.clone(), bob.clone(), erin.clone()];
    want.sort();
    let before = wait_for(Duration::from_secs(30), "the rebuilt alice becomes AVAILABLE", || async {
        let ids = available(workspaces.describe_all().await.map_err(|e| e.to_string())?);
        if ids == want {
            Ok(ids)
        } else {
            Err(format!("available: {ids:?}"))
        }
    })
    .await;
    teardown.destroy = false;
    let out = blankslate(&dir, &["destroy", "--yes", "--stack-name", &stack, "--region", region()], &env, "");
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "step stalled: destroy: exit {:?}\n{stdout}\n{stderr}", out.status);
    assert!(stdout.contains("every WorkSpace untouched"), "{stdout}");
    assert_eq!(alarms.list_disconnect_alarms().await.expect("alarms"), Vec::<WorkspaceId>::new());
    let after = available(workspaces.describe_all().await.expect("describe all"));
    assert_eq!(after, before, "destroy terminated a WorkSpace");

    emulator.shutdown().await;
}
