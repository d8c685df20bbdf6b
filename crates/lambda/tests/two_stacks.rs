//! Two deployments in one Region (issue 12): the reconcilers of stacks "lab" and "exam",
//! the built bootstrap running as real Lambda functions in ministack over one WorkSpaces
//! emulator, each with its own journal, topic and selector. Before alarms carried the
//! stack's name, each sweep deleted the other's alarms as orphans.
//!
//! Needs ministack: `bash scripts/emulators start && source .emulators/env` (or run the
//! whole suite with `bash scripts/test`).

mod common;

use aws_sdk_lambda::primitives::Blob;
use blankslate_aws::{AwsWorkspaces, CloudWatchAlarms, DynamoJournal};
use blankslate_core::alarm::{Owner, StackName};
use blankslate_core::ids::WorkspaceId;
use blankslate_core::journal::Record;
use blankslate_handlers::ports::{Alarms, Journal, Workspaces};
use common::{create_function, create_topic, sdk, spec};

/// One stack's reconciler, journal and alarms.
struct Deployment {
    function: String,
    journal: DynamoJournal,
    alarms: CloudWatchAlarms,
}

/// Where a deployment's functions find AWS: WorkSpaces in `emulator`, the rest in `endpoint`.
struct Target<'a> {
    emulator: &'a str,
    endpoint: &'a str,
}

async fn deploy(
    aws: &aws_config::SdkConfig,
    lambda: &aws_sdk_lambda::Client,
    stack: &str,
    selector: &str,
    at: &Target<'_>,
) -> Deployment {
    let (emulator, endpoint) = (at.emulator, at.endpoint);
    let table = format!("{stack}-Workspace_Journal");
    let journal = DynamoJournal::new(aws, table.clone());
    journal.create_table().await.expect("journal table");
    let topic = create_topic(aws, &format!("{stack}-Workspace_Disconnected_Topic")).await;
    let vars = [
        ("BLANKSLATE_FUNCTION", "reconcile"),
        ("BLANKSLATE_STACK_NAME", stack),
        ("BLANKSLATE_SELECTOR", selector),
        ("BLANKSLATE_JOURNAL_TABLE", &table),
        ("BLANKSLATE_ALARM_TOPIC_ARN", &topic),
        // A sweep at every run: enrolment and alarm repair each time.
        ("BLANKSLATE_SWEEP_MINUTES", "1"),
        ("AWS_ENDPOINT_URL", endpoint),
        ("AWS_ENDPOINT_URL_WORKSPACES", emulator),
    ];
    let function = format!("{stack}-Workspace_Reconciler");
    create_function(lambda, &function, &vars).await;
    let owner = Owner::Stack(StackName::new(stack).expect("stack name"));
    Deployment { function, journal, alarms: CloudWatchAlarms::new(aws, topic).owned_by(owner) }
}

impl Deployment {
    async fn run(&self, lambda: &aws_sdk_lambda::Client) {
        let schedule = serde_json::json!({"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}});
        let out = lambda
            .invoke()
            .function_name(&self.function)
            .payload(Blob::new(serde_json::to_vec(&schedule).unwrap()))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Invoke {}: {e:?}", self.function));
        let payload = String::from_utf8_lossy(out.payload().map(|b| b.as_ref()).unwrap_or_default()).into_owned();
        assert_eq!(out.function_error(), None, "{}: {payload}", self.function);
    }

    async fn alarmed(&self) -> Vec<WorkspaceId> {
        let mut ids = self.alarms.list_disconnect_alarms().await.expect("alarms");
        ids.sort();
        ids
    }

    async fn record(&self, user: &str) -> Option<Record> {
        self.journal.list().await.expect("journal").into_iter().find(|r| r.desk.user_name.as_str() == user)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stacks_in_one_region_never_touch_each_others_alarms() {
    let endpoint = std::env::var("BLANKSLATE_MINISTACK")
        .expect("BLANKSLATE_MINISTACK is not set: start the emulators (`bash scripts/emulators start`)");
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator starts");
    let aws = sdk(&endpoint).await;
    let lambda = aws_sdk_lambda::Client::new(&aws);
    let unique = std::process::id();
    let (lab_name, exam_name) = (format!("lab-{unique}"), format!("exam-{unique}"));

    // alice is tagged for both (two selectors claim her), bob for the lab, carol for exams.
    let workspaces = AwsWorkspaces::new(&sdk(&emulator.url()).await);
    let created = workspaces
        .create(&[
            spec("alice", &[("lab", "on"), ("exam", "on")]),
            spec("bob", &[("lab", "on")]),
            spec("carol", &[("exam", "on")]),
        ])
        .await
        .expect("create in the emulator");
    let id_of = |user: &str| -> WorkspaceId {
        created.pending.iter().find(|(d, _)| d.user_name.as_str() == user).map(|(_, id)| id.clone()).unwrap()
    };
    let (alice, bob, carol) = (id_of("alice"), id_of("bob"), id_of("carol"));
    let url = emulator.url();
    let at = Target { emulator: &url, endpoint: &endpoint };
    let lab = deploy(&aws, &lambda, &lab_name, "tag:lab", &at).await;
    let exam = deploy(&aws, &lambda, &exam_name, "tag:exam", &at).await;
    // An alarm of the seed's naming on bob, from before the lab stack named its alarms.
    let seeds = CloudWatchAlarms::new(&aws, String::new());
    seeds.put_disconnect_alarm(&bob).await.expect("the old alarm");

    // Each sweeps in turn, twice: enrolment, alarms, then the other stack's alarms seen.
    for _ in 0..2 {
        lab.run(&lambda).await;
        exam.run(&lambda).await;
    }
    let mut both = vec![alice.clone(), bob.clone()];
    both.sort();
    assert_eq!(lab.alarmed().await, both, "the lab stack's alarms");
    let mut both = vec![alice.clone(), carol.clone()];
    both.sort();
    assert_eq!(exam.alarmed().await, both, "exam's alarms survive the lab's sweeps, and the lab's exam's");
    // The seed's naming on bob was adopted by the lab, which manages him: gone.
    assert!(!seeds.list_disconnect_alarms().await.expect("alarms").contains(&bob), "bob's old alarm left behind");

    // alice is claimed by both: each journal says by whom, and neither will rebuild her.
    let claimed = |record: Option<Record>| record.and_then(|r| r.claimed_by).map(|s| s.to_string());
    assert_eq!(claimed(lab.record("alice").await), Some(exam_name.clone()));
    assert_eq!(claimed(exam.record("alice").await), Some(lab_name.clone()));
    assert_eq!(claimed(lab.record("bob").await), None);
    assert_eq!(claimed(exam.record("carol").await), None);

    // The exam stack is destroyed (`blankslate destroy` deletes its alarms once the stack is
    // gone): the lab's next sweep sees one owner again, and the lab's alarms are untouched.
    let exams = exam.alarmed().await;
    exam.alarms.delete_disconnect_alarms(&exams).await.expect("exam's alarms deleted");
    lab.run(&lambda).await;
    assert_eq!(claimed(lab.record("alice").await), None, "the lab manages alice alone now");
    let mut both = vec![alice.clone(), bob.clone()];
    both.sort();
    assert_eq!(lab.alarmed().await, both);

    for d in [&lab, &exam] {
        let ids = d.alarms.list_disconnect_alarms().await.expect("alarms");
        d.alarms.delete_disconnect_alarms(&ids).await.expect("clean up");
    }
    emulator.shutdown().await;
}
