//! The alarm queue (SNS → SQS → Workspace_Term_Rebuild) and Lambda's SQS poller, as
//! deployed (`deploy/blankslate.yaml`: `DisconnectQueue`, `DisconnectQueueMapping`) and as
//! AWS documents them:
//!
//! - Batches: the poller invokes the function when it has `BatchSize` messages, or when
//!   the batching window (`MaximumBatchingWindowInSeconds`) since it started gathering has
//!   passed, or at 6 MB (never reached here: an alarm message is about 1.5 KB)
//!   (Lambda developer guide, "How Lambda processes records from stream and queue-based
//!   event sources", invocation-eventsourcemapping.html, "Batching behavior").
//! - Scaling: "When messages are available, Lambda starts processing five batches at a
//!   time with five concurrent invocations ... increases the number of processes that are
//!   reading batches by up to 300 more instances per minute ... The maximum number of
//!   batches that an event source mapping can process simultaneously is 1,000"; the
//!   mapping's `ScalingConfig.MaximumConcurrency` (2 to 1,000) caps it
//!   (services-sqs-scaling.html).
//! - A batch's failed messages (named in the partial batch response), and all of a batch
//!   whose invocation failed, become visible again after the visibility timeout; a message
//!   received `maxReceiveCount` times and failed again moves to the dead-letter queue
//!   (services-sqs-configure.html, SQS developer guide sqs-dead-letter-queues.html).
//!
//! How long SNS takes to put a message in the queue AWS does not say; it is the model's
//! one second, as for SNS → Lambda (the seed's subscription).

use std::collections::VecDeque;
use std::time::Duration;

use blankslate_core::events::sqs::Delivery;
use blankslate_core::Timestamp;

/// `BatchSize` of the event source mapping.
pub const BATCH_SIZE: usize = 100;
/// `MaximumBatchingWindowInSeconds`.
pub const BATCHING_WINDOW: Duration = Duration::from_secs(5);
/// `ScalingConfig.MaximumConcurrency`.
pub const MAX_CONCURRENCY: usize = 5;
/// The queue's `VisibilityTimeout`: six times the function's 30 s timeout, plus the window.
pub const VISIBILITY_TIMEOUT: Duration = Duration::from_secs(185);
/// The redrive policy's `maxReceiveCount`.
pub const MAX_RECEIVE_COUNT: u32 = 5;
/// Concurrent batches when messages first appear.
const START_BATCHES: usize = 5;
/// How many more concurrent batches Lambda may add per minute while messages remain.
const MORE_BATCHES_PER_MINUTE: usize = 300;
/// The most batches one mapping processes at once.
const MAX_BATCHES: usize = 1000;
/// How long SNS takes to deliver to the queue (not documented: the model's one second).
pub const SNS_DELIVERY: Duration = Duration::from_secs(1);

#[derive(Clone, Debug)]
struct Message {
    id: String,
    body: String,
    sent_at: Timestamp,
    visible_at: Timestamp,
    receives: u32,
}

/// The queue, its dead letters and the poller's state.
#[derive(Clone, Debug, Default)]
pub struct AlarmQueue {
    messages: VecDeque<Message>,
    sent: u64,
    /// Messages moved to the dead-letter queue: (message ID, body).
    pub dead_letters: Vec<(String, String)>,
    /// The poller's next wake-up already scheduled, if any.
    pub next_poll: Option<Timestamp>,
    /// Since when the queue has had messages without a break (for the poller's scaling).
    busy_since: Option<Timestamp>,
}

impl AlarmQueue {
    /// SNS delivered `body`; returns its message ID.
    pub fn send(&mut self, body: String, now: Timestamp) -> String {
        self.sent += 1;
        let id = format!("00000000-0000-4000-8000-{:012}", self.sent);
        self.messages.push_back(Message { id: id.clone(), body, sent_at: now, visible_at: now, receives: 0 });
        self.busy_since.get_or_insert(now);
        id
    }

    /// Messages a receive would return now.
    pub fn visible(&self, now: Timestamp) -> usize {
        self.messages.iter().filter(|m| m.visible_at <= now).count()
    }

    /// When the next invisible message becomes visible again, if any.
    pub fn next_visible(&self, now: Timestamp) -> Option<Timestamp> {
        self.messages.iter().map(|m| m.visible_at).filter(|&t| t > now).min()
    }

    /// How many batches the poller may have in flight now.
    pub fn concurrency(&self, now: Timestamp) -> usize {
        let minutes = self.busy_since.map_or(0, |since| (now.since(since).as_secs() / 60) as usize);
        (START_BATCHES + MORE_BATCHES_PER_MINUTE * minutes).min(MAX_BATCHES).min(MAX_CONCURRENCY)
    }

    /// Receives up to a batch of visible messages: each becomes invisible for the
    /// visibility timeout, and a message past its last receive moves to the dead letters
    /// instead of being returned.
    pub fn receive(&mut self, now: Timestamp) -> Vec<Delivery> {
        let mut batch = Vec::new();
        let mut dead = Vec::new();
        for message in self.messages.iter_mut().filter(|m| m.visible_at <= now) {
            if batch.len() == BATCH_SIZE {
                break;
            }
            if message.receives >= MAX_RECEIVE_COUNT {
                dead.push((message.id.clone(), message.body.clone()));
                continue;
            }
            message.receives += 1;
            message.visible_at = now + VISIBILITY_TIMEOUT;
            batch.push(Delivery {
                message_id: message.id.clone(),
                body: message.body.clone(),
                sent_at: message.sent_at,
                receive_count: message.receives,
            });
        }
        self.messages.retain(|m| !dead.iter().any(|(id, _)| id == &m.id));
        self.dead_letters.extend(dead);
        batch
    }

    /// The batch's answer: every received message not in `failed` is deleted; the failed
    /// ones stay invisible until their visibility timeout ends.
    pub fn settle(&mut self, batch: &[Delivery], failed: &[String]) {
        let done: Vec<&str> =
            batch.iter().map(|d| d.message_id.as_str()).filter(|id| !failed.iter().any(|f| f == id)).collect();
        self.messages.retain(|m| !done.contains(&m.id.as_str()));
        if self.messages.is_empty() {
            self.busy_since = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_simulated_mapping_is_the_deployed_one() {
        let template = include_str!("../../../deploy/blankslate.yaml");
        for line in [
            format!("BatchSize: {BATCH_SIZE}"),
            format!("MaximumBatchingWindowInSeconds: {}", BATCHING_WINDOW.as_secs()),
            format!("ScalingConfig: {{MaximumConcurrency: {MAX_CONCURRENCY}}}"),
            format!("VisibilityTimeout: {}", VISIBILITY_TIMEOUT.as_secs()),
            format!("maxReceiveCount: {MAX_RECEIVE_COUNT}"),
            "FunctionResponseTypes: [ReportBatchItemFailures]".to_owned(),
        ] {
            assert!(template.contains(&line), "deploy/blankslate.yaml has no {line:?}");
        }
    }

    #[test]
    fn failed_messages_come_back_after_the_visibility_timeout_and_end_in_the_dead_letters() {
        let t0 = Timestamp::from_millis(0);
        let mut queue = AlarmQueue::default();
        let ids: Vec<String> = (0..150).map(|i| queue.send(format!("m{i}"), t0)).collect();
        let first = queue.receive(t0);
        assert_eq!(first.len(), BATCH_SIZE);
        assert_eq!(queue.receive(t0).len(), 50, "the rest, in a second batch");
        assert_eq!(queue.visible(t0), 0);
        queue.settle(&first, &[ids[3].clone()]);
        let mut at = t0;
        for receive in 2..=MAX_RECEIVE_COUNT {
            at = queue.next_visible(at).expect("the failed message returns");
            let again = queue.receive(at);
            let mine: Vec<_> = again.iter().filter(|d| d.message_id == ids[3]).collect();
            assert_eq!((mine.len(), mine[0].receive_count), (1, receive));
            let failed: Vec<String> = again.iter().map(|d| d.message_id.clone()).collect();
            queue.settle(&again, &failed);
        }
        at = queue.next_visible(at).unwrap();
        let last = queue.receive(at);
        assert!(last.iter().all(|d| d.message_id != ids[3]), "received more than maxReceiveCount times");
        assert!(queue.dead_letters.iter().any(|(id, body)| id == &ids[3] && body == "m3"));
    }

    #[test]
    fn the_poller_starts_at_five_batches_and_stays_under_the_mappings_maximum() {
        let t0 = Timestamp::from_millis(0);
        let mut queue = AlarmQueue::default();
        queue.send("m".into(), t0);
        assert_eq!(queue.concurrency(t0), START_BATCHES.min(MAX_CONCURRENCY));
        assert!(queue.concurrency(t0 + Duration::from_secs(600)) <= MAX_CONCURRENCY);
    }
}
