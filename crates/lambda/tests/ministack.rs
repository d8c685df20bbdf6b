//! The built bootstrap running as real Lambda functions (provided.al2023) in ministack,
//! invoked with real-shaped events, reaching DynamoDB and CloudWatch in ministack and
//! WorkSpaces in our emulator, all over HTTP on loopback.
//!
//! Needs ministack: `bash scripts/emulators start && source .emulators/env` (or run the
//! whole suite with `bash scripts/test`).

mod common;

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use blankslate_aws::{AwsWorkspaces, CloudWatchAlarms, DynamoJournal};
use blankslate_core::events::{self, EmitContext};
use blankslate_core::ids::{DirectoryId, WorkspaceId};
use blankslate_core::journal::Phase;
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{Alarms, Journal, Workspaces};
use common::{create_function, create_topic, sdk, spec};

fn ministack() -> String {
    std::env::var("BLANKSLATE_MINISTACK").unwrap_or_else(|_| {
        panic!(
            "BLANKSLATE_MINISTACK is not set: this test needs ministack. Start it with \
             `bash scripts/emulators start && source .emulators/env`, or run `bash scripts/test`."
        )
    })
}

struct Stack {
    lambda: aws_sdk_lambda::Client,
    env: Vec<(String, String)>,
}

impl Stack {
    async fn function(&self, name: &str, role: &str) {
        let mut vars: Vec<(&str, &str)> = self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        vars.push(("BLANKSLATE_FUNCTION", role));
        create_function(&self.lambda, name, &vars).await;
    }

    /// Invokes synchronously; returns (function error?, payload).
    async fn invoke(&self, name: &str, event: &serde_json::Value) -> (Option<String>, serde_json::Value) {
        let out = self
            .lambda
            .invoke()
            .function_name(name)
            .payload(Blob::new(serde_json::to_vec(event).unwrap()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Invoke {name}: {e:?}"));
        let payload = out.payload().map(|b| b.as_ref().to_vec()).unwrap_or_default();
        let value = serde_json::from_slice(&payload).unwrap_or(serde_json::Value::Null);
        (out.function_error().map(str::to_owned), value)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_functions_answer_real_invocations_in_ministack() {
    let endpoint = ministack();
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator starts");
    let unique = format!("{}", std::process::id());
    let aws = sdk(&endpoint).await;
    let ws_sdk = sdk(&emulator.url()).await;

    // The account: journal table, disconnect topic.
    let table = format!("blankslate-journal-{unique}");
    let journal = DynamoJournal::new(&aws, table.clone());
    journal.create_table().await.expect("journal table");
    let topic = create_topic(&aws, &format!("Workspace_Disconnected_Topic-{unique}")).await;

    // Two WorkSpaces in the emulator: one opted in, one not.
    let workspaces = AwsWorkspaces::new(&ws_sdk);
    let created = workspaces
        .create(&[spec("alice", &[("blankslate", "on")]), spec("erin", &[("team", "library")])])
        .await
        .expect("create in the emulator");
    assert_eq!(created.pending.len(), 2, "{created:?}");
    let id_of = |user: &str| -> WorkspaceId {
        created.pending.iter().find(|(d, _)| d.user_name.as_str() == user).map(|(_, id)| id.clone()).unwrap()
    };
    let (alice, erin) = (id_of("alice"), id_of("erin"));

    let stack = Stack {
        lambda: aws_sdk_lambda::Client::new(&aws),
        env: vec![
            ("BLANKSLATE_SELECTOR".into(), "tag:blankslate".into()),
            ("BLANKSLATE_JOURNAL_TABLE".into(), table.clone()),
            ("BLANKSLATE_ALARM_TOPIC_ARN".into(), topic.clone()),
            // Every other service is ministack; WorkSpaces is our emulator.
            ("AWS_ENDPOINT_URL".into(), endpoint.clone()),
            ("AWS_ENDPOINT_URL_WORKSPACES".into(), emulator.url()),
            ("AWS_LAMBDA_LOG_FORMAT".into(), "JSON".into()),
        ],
    };
    let create_fn = format!("Workspace_Alarm_Create-{unique}");
    let rebuild_fn = format!("Workspace_Term_Rebuild-{unique}");
    stack.function(&create_fn, "alarm-create").await;
    stack.function(&rebuild_fn, "term-rebuild").await;

    // CloudTrail saw CreateWorkspaces for both (one batch call).
    let ctx = EmitContext { account: "000000000000".into(), region: "us-east-1".into(), event_id: unique.clone() };
    let now = Timestamp::from_millis(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64,
    );
    let pending: Vec<_> = [("alice", &alice), ("erin", &erin)]
        .iter()
        .map(|(user, id)| {
            ((*id).clone(), DirectoryId::new("d-9067083b4b").unwrap(), user.to_string(), "wsb-clj85qzj1".to_string())
        })
        .collect();
    let trail = events::cloudtrail_create_workspaces(&ctx, now, &pending, &[]);
    let (error, payload) = stack.invoke(&create_fn, &trail).await;
    assert_eq!(error, None, "{payload}");

    // Effect: an alarm and a journal record for alice only.
    let alarms = CloudWatchAlarms::new(&aws, topic.clone());
    let alarmed = alarms.list_disconnect_alarms().await.expect("list alarms");
    assert!(alarmed.contains(&alice), "alice has no alarm: {alarmed:?} ({payload})");
    assert!(!alarmed.contains(&erin), "erin (not opted in) got an alarm");
    let records = journal.list().await.expect("journal");
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].workspace_id(), Some(&alice));

    // The alarm fired: SNS delivers the CloudWatch notification to Term_Rebuild.
    let message = events::alarm_message(
        &blankslate_core::alarm::alarm_name(&blankslate_core::alarm::Owner::Legacy, &alice),
        &alice,
        "ALARM",
        "OK",
        now + Duration::from_secs(60),
        now,
        &ctx,
    );
    let sns = events::sns_event(&ctx, &topic, &[(unique.clone(), message, now + Duration::from_secs(60))]);
    let (error, payload) = stack.invoke(&rebuild_fn, &sns).await;
    assert_eq!(error, None, "{payload}");
    let record = journal.find_by_workspace(&alice).await.expect("journal").expect("alice's record");
    assert!(matches!(record.phase, Phase::Disconnected { .. }), "{:?}", record.phase);

    // A malformed event fails the invocation with a message naming what was wrong.
    let garbage = serde_json::json!({"Records": [{"EventSource": "aws:sns", "Sns": {"Message": "{}"}}]});
    let (error, payload) = stack.invoke(&rebuild_fn, &garbage).await;
    assert!(error.is_some(), "garbage was accepted: {payload}");
    assert!(payload.to_string().contains("Records[0].Sns.Message"), "{payload}");
    // Named by its errorType, not by a Rust type (`FunctionError`).
    assert_eq!(payload["errorType"], "BadEvent", "{payload}");

    emulator.shutdown().await;
}
