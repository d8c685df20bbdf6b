//! The disconnect alarm's path as deployed, all of it real in ministack: an alarm
//! notification published to the SNS topic, delivered by a raw-message SQS subscription
//! to the alarm queue, drained by Lambda's event source mapping (batches, partial batch
//! responses) into the built bootstrap running as Workspace_Term_Rebuild, which records
//! the disconnect in the DynamoDB journal. An unreadable message is failed alone, at
//! every receive, until the redrive policy moves it to the dead-letter queue.
//!
//! Deviation from AWS, for time only: the queue's visibility timeout is 2 s (AWS refuses
//! a mapping whose function timeout exceeds it; ministack does not check), so a failed
//! message comes back within seconds instead of minutes.
//!
//! Needs ministack: `bash scripts/emulators start && source .emulators/env`.

mod common;

use std::time::{Duration, Instant};

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionResponseType, ScalingConfig};
use aws_sdk_sqs::types::QueueAttributeName;
use blankslate_aws::DynamoJournal;
use blankslate_core::events::{self, EmitContext};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::reconcile::Write;
use blankslate_core::spec::WorkspaceSpec;
use blankslate_core::Timestamp;
use blankslate_handlers::ports::Journal;
use common::{create_function, sdk};

fn ministack() -> String {
    std::env::var("BLANKSLATE_MINISTACK").unwrap_or_else(|_| {
        panic!(
            "BLANKSLATE_MINISTACK is not set: this test needs ministack. Start it with \
             `bash scripts/emulators start && source .emulators/env`, or run `bash scripts/test`."
        )
    })
}

fn now() -> Timestamp {
    Timestamp::from_millis(
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
    )
}

/// Polls `check` every half second for up to `limit`.
async fn eventually<T>(limit: Duration, what: &str, mut check: impl AsyncFnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(found) = check().await {
            return found;
        }
        assert!(start.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarms_reach_term_rebuild_through_the_queue_and_garbage_ends_in_the_dead_letters() {
    let endpoint = ministack();
    let unique = format!("q{}", std::process::id());
    let aws = sdk(&endpoint).await;
    let (sns, sqs, lambda) =
        (aws_sdk_sns::Client::new(&aws), aws_sdk_sqs::Client::new(&aws), aws_sdk_lambda::Client::new(&aws));

    // The journal with alice's desk enrolled on her WorkSpace.
    let table = format!("blankslate-journal-{unique}");
    let journal = DynamoJournal::new(&aws, table.clone());
    journal.create_table().await.expect("journal table");
    let alice: WorkspaceId = "ws-0a1b2c3d4".parse().unwrap();
    let spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new("alice").unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    let since = now() - Duration::from_secs(3600);
    journal.write(&Write::Insert(Record::enrol(spec, alice.clone(), since))).await.expect("enrol alice");

    // Topic → queue (with its dead-letter queue) as the template wires them.
    let topic = sns.create_topic().name(format!("Workspace_Disconnected_Topic-{unique}")).send().await.expect("topic");
    let topic = topic.topic_arn().expect("topic ARN").to_owned();
    let arn_of = async |url: &str| -> String {
        let got = sqs.get_queue_attributes().queue_url(url).attribute_names(QueueAttributeName::QueueArn).send().await;
        got.expect("queue attributes").attributes().and_then(|a| a.get(&QueueAttributeName::QueueArn)).cloned().unwrap()
    };
    let dlq = sqs.create_queue().queue_name(format!("dead-{unique}")).send().await.expect("dead-letter queue");
    let dlq_url = dlq.queue_url().unwrap().to_owned();
    let dlq_arn = arn_of(&dlq_url).await;
    let queue = sqs
        .create_queue()
        .queue_name(format!("Workspace_Disconnected_Queue-{unique}"))
        .attributes(QueueAttributeName::VisibilityTimeout, "2")
        .attributes(
            QueueAttributeName::RedrivePolicy,
            serde_json::json!({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}).to_string(),
        )
        .send()
        .await
        .expect("alarm queue");
    let queue_url = queue.queue_url().unwrap().to_owned();
    let queue_arn = arn_of(&queue_url).await;
    let policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"Service": "sns.amazonaws.com"}, "Action": "sqs:SendMessage",
        "Resource": queue_arn, "Condition": {"ArnEquals": {"aws:SourceArn": topic}}}]});
    sqs.set_queue_attributes()
        .queue_url(&queue_url)
        .attributes(QueueAttributeName::Policy, policy.to_string())
        .send()
        .await
        .expect("queue policy");
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .attributes("RawMessageDelivery", "true")
        .send()
        .await
        .expect("subscription");

    // Term_Rebuild, drained from the queue by an event source mapping.
    let function = format!("Workspace_Term_Rebuild-{unique}");
    let vars = [
        ("BLANKSLATE_FUNCTION", "term-rebuild"),
        ("BLANKSLATE_SELECTOR", "tag:blankslate"),
        ("BLANKSLATE_JOURNAL_TABLE", table.as_str()),
        ("BLANKSLATE_ALARM_TOPIC_ARN", topic.as_str()),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
    ];
    create_function(&lambda, &function, &vars).await;
    lambda
        .create_event_source_mapping()
        .event_source_arn(&queue_arn)
        .function_name(&function)
        .batch_size(10)
        .maximum_batching_window_in_seconds(1)
        .scaling_config(ScalingConfig::builder().maximum_concurrency(2).build())
        .function_response_types(FunctionResponseType::ReportBatchItemFailures)
        .send()
        .await
        .expect("CreateEventSourceMapping");

    // The alarm fires; a foreign WorkSpace's alarm and a message nobody can read follow.
    let ctx = EmitContext { account: "000000000000".into(), region: "us-east-1".into(), event_id: unique.clone() };
    let at = now();
    // The datapoint the alarm evaluated: the minute before the state change.
    let datapoint = blankslate_core::Timestamp::from_millis((at.as_millis() / 60_000 - 1) * 60_000);
    let stranger: WorkspaceId = "ws-9z8y7x6w5".parse().unwrap();
    for (id, body) in [
        (
            "alice",
            events::alarm_message(
                &blankslate_core::alarm::alarm_name(&blankslate_core::alarm::Owner::Legacy, &alice),
                &alice,
                "ALARM",
                "OK",
                at,
                datapoint,
                &ctx,
            ),
        ),
        (
            "stranger",
            events::alarm_message(
                &blankslate_core::alarm::alarm_name(&blankslate_core::alarm::Owner::Legacy, &stranger),
                &stranger,
                "ALARM",
                "OK",
                at,
                datapoint,
                &ctx,
            ),
        ),
        ("garbage", "not json".to_owned()),
    ] {
        sns.publish().topic_arn(&topic).message(body).send().await.unwrap_or_else(|e| panic!("publish {id}: {e:?}"));
    }

    let record = eventually(Duration::from_secs(90), "alice's disconnect in the journal", async || {
        let record = journal.find_by_workspace(&alice).await.expect("journal read")?;
        matches!(record.phase, Phase::Disconnected { .. }).then_some(record)
    })
    .await;
    assert!(
        matches!(record.phase, Phase::Disconnected { workspace_id: ref w, .. } if *w == alice),
        "{:?}",
        record.phase
    );

    // The garbage was failed alone: it reaches the dead letters as it was published, and
    // the two alarms were deleted from the queue (the stranger's is acknowledged: S2).
    let dead = eventually(Duration::from_secs(90), "the unreadable message in the dead-letter queue", async || {
        let got = sqs.receive_message().queue_url(&dlq_url).max_number_of_messages(10).send().await.expect("receive");
        let bodies: Vec<String> = got.messages().iter().filter_map(|m| m.body().map(str::to_owned)).collect();
        (!bodies.is_empty()).then_some(bodies)
    })
    .await;
    assert_eq!(dead, ["not json"], "only the unreadable message is a dead letter");
    let left = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .expect("queue depth");
    let count = |name: QueueAttributeName| -> String {
        left.attributes().and_then(|a| a.get(&name)).cloned().unwrap_or_default()
    };
    assert_eq!(
        (
            count(QueueAttributeName::ApproximateNumberOfMessages),
            count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        ),
        ("0".to_owned(), "0".to_owned()),
        "the alarm queue still holds messages"
    );

    // A batch that is not an SQS event at all fails the invocation, naming its errorType.
    let out = lambda
        .invoke()
        .function_name(&function)
        .payload(Blob::new(
            serde_json::to_vec(&serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})).unwrap(),
        ))
        .send()
        .await
        .expect("Invoke");
    let payload: serde_json::Value =
        serde_json::from_slice(out.payload().map(|b| b.as_ref()).unwrap_or_default()).unwrap_or_default();
    assert!(out.function_error().is_some(), "{payload}");
    assert_eq!(payload["errorType"], "BadEvent", "{payload}");
    assert!(payload["errorMessage"].as_str().unwrap_or_default().contains("Records[0].messageId"), "{payload}");
}
