//! `SnsNotifier` against ministack's SNS, delivered to an SQS queue and read back.

mod common;

use std::time::{Duration, Instant};

use blankslate_aws::SnsNotifier;
use blankslate_core::ids::{DeskKey, DirectoryId, UserName};
use blankslate_core::reconcile::Notice;
use blankslate_handlers::ports::Notifier;

#[tokio::test]
async fn a_notice_reaches_a_subscribed_queue_with_a_subject_sns_accepts() {
    let config = common::sdk_config(&common::ministack()).await;
    let sns = aws_sdk_sns::Client::new(&config);
    let sqs = aws_sdk_sqs::Client::new(&config);

    let queue = sqs.create_queue().queue_name(common::unique("blankslate-admins-")).send().await.expect("CreateQueue");
    let queue_url = queue.queue_url().expect("a queue URL").to_owned();
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("GetQueueAttributes");
    let queue_arn = attributes
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("the queue ARN")
        .clone();
    let topic = sns.create_topic().name(common::unique("blankslate-admins-")).send().await.expect("CreateTopic");
    let topic_arn = topic.topic_arn().expect("a topic ARN").to_owned();
    sns.subscribe().topic_arn(&topic_arn).protocol("sqs").endpoint(&queue_arn).send().await.expect("Subscribe");

    let desk = DeskKey {
        directory_id: DirectoryId::new("d-9067083b4b").expect("valid"),
        user_name: UserName::new("zoë.müller").expect("valid"),
    };
    let notice = Notice {
        desk: desk.clone(),
        // Non-ASCII and far over SNS's 100-character limit: must still be delivered.
        subject: format!("blankslate: re-creating {desk} keeps failing {}", "again and ".repeat(12)),
        message: format!("CreateWorkspaces was refused 3 times for {desk}: ResourceLimitExceeded: quota."),
    };
    SnsNotifier::new(&config, topic_arn.clone()).notify(&notice).await.expect("publish");

    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(2)
            .max_number_of_messages(1)
            .send()
            .await
            .expect("ReceiveMessage");
        if let Some(body) = received.messages().first().and_then(|m| m.body()) {
            break body.to_owned();
        }
        assert!(Instant::now() < deadline, "no message reached the queue within 20 s");
    };
    // Not raw delivery: the body is SNS's envelope.
    let envelope: serde_json::Value = serde_json::from_str(&body).expect("an SNS envelope");
    assert_eq!(envelope["TopicArn"], topic_arn.as_str());
    assert_eq!(envelope["Message"], notice.message.as_str());
    let subject = envelope["Subject"].as_str().expect("a subject");
    assert!(subject.is_ascii() && subject.len() < 100, "{subject:?}");
    assert!(subject.starts_with("blankslate: re-creating d-9067083b4b/zo?.m?ller keeps failing"), "{subject:?}");
    assert_eq!(envelope["MessageAttributes"]["desk"]["Value"], desk.to_string().as_str(), "{envelope}");
}
