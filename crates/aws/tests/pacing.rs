//! The reconciler's learned pacing over the wire: the real adapters (WorkSpaces against our
//! emulator throttling at a set limit, the journal and alarms against ministack) and the
//! real `handlers::reconcile`, tick after tick on the wall clock. A rate learned when the
//! account allowed three times more meets a limit of 4 requests/s: the ticks are
//! throttled, the rate is cut tick after tick, every rebuild due finishes all the same, and
//! once the limit is lifted clean ticks that need more raise the rate again.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use blankslate_aws::{CloudWatchAlarms, DynamoJournal};
use blankslate_core::config::{AlarmMode, Config, TagReads};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::WorkspaceState;
use blankslate_core::pacing::Pacing;
use blankslate_core::reconcile::{Notice, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_emulator::{start, ApiLimits, Options};
use blankslate_handlers::ports::{Journal, Notifier, PortResult, Ports, Workspaces};

/// The admins' topic: notices are kept to be looked at, nothing else.
#[derive(Default)]
struct Notices(std::sync::Mutex<Vec<Notice>>);

impl Notifier for Notices {
    async fn notify(&self, notice: &Notice) -> PortResult<()> {
        self.0.lock().unwrap().push(notice.clone());
        Ok(())
    }
}

fn now() -> Timestamp {
    Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

fn spec(user: &str) -> WorkspaceSpec {
    let mut spec = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    spec.tags = Tags::from_pairs([("blankslate", "on")]).unwrap();
    spec
}

async fn until_available(ws: &blankslate_aws::AwsWorkspaces, ids: &[WorkspaceId]) {
    for _ in 0..100 {
        if ws.describe(ids).await.unwrap().iter().all(|d| d.state == WorkspaceState::Available) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("not AVAILABLE in 10 s: {ids:?}");
}

#[tokio::test]
async fn the_learned_rate_backs_off_under_throttling_recovers_and_the_rebuilds_finish() {
    let quick = Duration::from_secs(2);
    let options = Options { create: quick, terminate: quick, terminated_visible: quick, ..Options::default() };
    let emulator = start(options).await.expect("the emulator starts");
    let ws = blankslate_aws::AwsWorkspaces::new(&common::sdk_config_with(&emulator.url(), &common::FAST).await);
    let ministack = common::sdk_config(&common::ministack()).await;
    let journal = DynamoJournal::new(&ministack, common::unique("blankslate-pacing-"));
    journal.create_table().await.expect("journal table");
    let alarms = CloudWatchAlarms::new(&ministack, String::new());
    let notices = Notices::default();
    let ports = Ports { workspaces: &ws, alarms: &alarms, journal: &journal, notifier: &notices };

    // 24 pupils used their desktops and left; with a one-second grace period their
    // rebuilds are due at once: 27 calls (a DescribeTags each), more than a 5-second tick
    // of the limit allows.
    let users: Vec<String> = (1..=24).map(|n| format!("pupil{n:02}")).collect();
    let specs: Vec<WorkspaceSpec> = users.iter().map(|u| spec(u)).collect();
    let created = ws.create(&specs).await.expect("create");
    let old: Vec<WorkspaceId> = created.pending.iter().map(|(_, id)| id.clone()).collect();
    assert_eq!(old.len(), users.len(), "{created:?}");
    until_available(&ws, &old).await;
    let enrolled = now();
    for (id, spec) in old.iter().zip(&specs) {
        emulator.with_world(|w| w.connect(id)).expect("connect");
        emulator.with_world(|w| w.disconnect(id)).expect("disconnect");
        let mut record = Record::enrol(spec.clone(), id.clone(), Timestamp::from_millis(enrolled.as_millis() - 60_000));
        record.phase = Phase::Disconnected { workspace_id: id.clone(), at: now() };
        journal.write(&Write::Insert(record)).await.expect("journal");
    }

    // Learned on a quiet day at 12 requests/s (the operator's ceiling here: 60 calls a
    // 5-second tick); now another tool in the account leaves us 4 (burst 1).
    let mut config = Config::new("tag:blankslate=on".parse().unwrap());
    config.reconcile_period = Duration::from_secs(5);
    config.api_budget_per_tick = 60;
    config.alarm_mode = AlarmMode::Off;
    // Tags one by one (DescribeTags), as without the tagging API: they are WorkSpaces calls too.
    config.tag_reads = TagReads::OneByOne;
    config.grace = Duration::from_secs(1);
    config.alarm_lag_allowance = Duration::ZERO;
    let learned = Pacing::at(12.0, enrolled);
    journal.store_pacing(&learned).await.expect("pacing");
    let limit = ApiLimits { rate_per_second: 4.0, burst: 1.0, per_operation: false, changes: vec![] };
    emulator.set_api_limit(Some(limit)).expect("limit");

    let mut rates = vec![learned.per_second];
    let mut throttled_ticks = 0;
    let rebuilt = |records: &[Record]| {
        records.iter().filter(|r| r.rebuilds == 1 && matches!(r.phase, Phase::Active { .. })).count()
    };
    for _ in 0..60 {
        let report = blankslate_handlers::reconcile(ports, &config, now()).await.expect("a tick");
        throttled_ticks += usize::from(report.throttled > 0);
        rates.push(journal.pacing().await.expect("pacing").expect("stored").per_second);
        if rebuilt(&journal.list().await.expect("list")) == users.len() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let records = journal.list().await.expect("list");
    println!("learned rate per tick (requests/s): {rates:.2?}; {throttled_ticks} throttled tick(s)");
    assert!(throttled_ticks > 0, "the limit was never met: {rates:?}");
    assert!(rates.iter().any(|r| *r <= 6.0), "the rate never came down near the 4 requests/s limit: {rates:?}");
    assert_eq!(rebuilt(&records), users.len(), "not every rebuild finished: {records:#?}");
    let now_there: Vec<WorkspaceId> = ws.describe_all().await.unwrap().into_iter().map(|d| d.id).collect();
    assert!(old.iter().all(|id| !now_there.contains(id)), "an old WorkSpace is still there");
    assert_eq!(now_there.len(), users.len(), "one new WorkSpace per pupil: {now_there:?}");
    assert!(notices.0.lock().unwrap().is_empty(), "throttling is not a failure to tell the admins about");

    // The limit lifted, the same pupils leave again: clean ticks short of budget raise it.
    emulator.set_api_limit(None).expect("lifted");
    let low = *rates.last().unwrap();
    until_available(&ws, &now_there).await;
    for record in journal.list().await.unwrap() {
        let id = record.workspace_id().unwrap().clone();
        emulator.with_world(|w| w.connect(&id)).expect("connect");
        emulator.with_world(|w| w.disconnect(&id)).expect("disconnect");
        let due = record.with_phase(Phase::Disconnected { workspace_id: id, at: now() }, now());
        journal.write(&Write::Update(due)).await.expect("due again");
    }
    // Past the one-second grace period: the desks are due at the first tick.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut after = Vec::new();
    for _ in 0..3 {
        let report = blankslate_handlers::reconcile(ports, &config, now()).await.expect("a tick");
        assert_eq!(report.throttled, 0, "no limit, no throttling: {report:?}");
        after.push(journal.pacing().await.unwrap().unwrap().per_second);
    }
    println!("after the limit was lifted: {after:.2?}");
    assert!(
        after.iter().all(|r| *r >= low) && after.last() > Some(&low),
        "the rate did not recover from {low}: {after:?}"
    );
    emulator.shutdown().await;
}
