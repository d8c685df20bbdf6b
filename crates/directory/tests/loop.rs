//! The reconciler with directory clean-up, end to end on real adapters: our WorkSpaces
//! emulator through the AWS SDK adapter, Samba through the LDAP adapter, an in-memory
//! journal. A managed user leaves; blankslate rebuilds the desk while the directory is
//! unreachable (the re-create is not held up), then deletes the old computer object once
//! the directory answers again, and touches nothing else: the new WorkSpace's object, an
//! unmanaged WorkSpace's object and an unrelated computer stay.
//!
//! Needs Samba (`bash scripts/samba start && source .emulators/samba.env`); the emulator
//! starts in the test and joins each WorkSpace it creates to Samba (adds its computer
//! object), as the real service joins it to the domain while it is PENDING.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_config::{BehaviorVersion, Region};
use blankslate_aws::AwsWorkspaces;
use blankslate_core::config::{AlarmMode, Config};
use blankslate_core::directory::{CleanupState, ComputerName, DirectorySettings, WORKSPACES_PREFIX};
use blankslate_core::ids::{BundleId, DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::WorkspaceState;
use blankslate_core::reconcile::{Notice, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;
use blankslate_directory::{Directory, Settings};
use blankslate_handlers::ports::{Alarms, ErrorKind, Journal, Notifier, PortError, PortResult, Ports, Workspaces};

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: start Samba with `bash scripts/samba start && source .emulators/samba.env` (scripts/test does)")
    })
}

fn wall() -> Timestamp {
    Timestamp::from_millis(SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64)
}

/// The journal table, in memory, with the same conditional-write rules.
#[derive(Default)]
struct MemJournal(Mutex<BTreeMap<DeskKey, Record>>, Mutex<Option<blankslate_core::pacing::Pacing>>);

impl Journal for MemJournal {
    async fn list(&self) -> PortResult<Vec<Record>> {
        Ok(self.0.lock().unwrap().values().cloned().collect())
    }
    async fn get(&self, desk: &DeskKey) -> PortResult<Option<Record>> {
        Ok(self.0.lock().unwrap().get(desk).cloned())
    }
    async fn find_by_workspace(&self, id: &WorkspaceId) -> PortResult<Option<Record>> {
        Ok(self.0.lock().unwrap().values().find(|r| r.workspace_id() == Some(id)).cloned())
    }
    async fn pacing(&self) -> PortResult<Option<blankslate_core::pacing::Pacing>> {
        Ok(*self.1.lock().unwrap())
    }
    async fn store_pacing(&self, pacing: &blankslate_core::pacing::Pacing) -> PortResult<()> {
        *self.1.lock().unwrap() = Some(*pacing);
        Ok(())
    }
    async fn write(&self, write: &Write) -> PortResult<Option<Record>> {
        let mut table = self.0.lock().unwrap();
        let r = write.record();
        let stored = table.get(&r.desk).map(|s| s.version);
        let conflict = || PortError::new(ErrorKind::Conflict, "PutItem", "condition failed");
        match write {
            Write::Insert(_) if stored.is_some() => Err(conflict()),
            Write::Update(_) | Write::Delete(_) if stored != Some(r.version) => Err(conflict()),
            Write::Delete(_) => {
                table.remove(&r.desk);
                Ok(None)
            }
            _ => {
                let next = Record { version: r.version + 1, ..r.clone() };
                table.insert(r.desk.clone(), next.clone());
                Ok(Some(next))
            }
        }
    }
}

struct NoAlarms;

impl Alarms for NoAlarms {
    async fn put_disconnect_alarm(&self, _: &WorkspaceId) -> PortResult<()> {
        Ok(())
    }
    async fn delete_disconnect_alarms(&self, _: &[WorkspaceId]) -> PortResult<()> {
        Ok(())
    }
    async fn delete_legacy_alarms(&self, _: &[WorkspaceId]) -> PortResult<()> {
        Ok(())
    }
    async fn list_disconnect_alarms(&self) -> PortResult<Vec<WorkspaceId>> {
        Ok(Vec::new())
    }
    async fn list_alarm_family(&self) -> PortResult<Vec<blankslate_core::alarm::Listed>> {
        Ok(Vec::new())
    }
}

#[derive(Default)]
struct Notices(Mutex<Vec<Notice>>);

impl Notifier for Notices {
    async fn notify(&self, notice: &Notice) -> PortResult<()> {
        self.0.lock().unwrap().push(notice.clone());
        Ok(())
    }
}

fn spec(user: &str, managed: bool) -> WorkspaceSpec {
    let mut s = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-clj85qzj1").unwrap(),
    );
    if managed {
        s.tags = Tags::from_pairs([("blankslate", "on")]).unwrap();
    }
    s
}

fn directory(urls: Vec<String>) -> Directory {
    Directory::new(Settings {
        urls,
        bind_user: env("BLANKSLATE_SAMBA_CLEANER_DN"),
        password: env("BLANKSLATE_SAMBA_CLEANER_PASSWORD"),
        base_dn: env("BLANKSLATE_SAMBA_OU"),
        ca_bundle_pem: Some(std::fs::read(env("BLANKSLATE_SAMBA_CA")).unwrap()),
        allow_plain_ldap: false,
        timeout: Duration::from_secs(3),
    })
    .unwrap()
}

fn admin() -> Directory {
    Directory::new(Settings {
        urls: vec![env("BLANKSLATE_SAMBA_LDAPS_URL")],
        bind_user: env("BLANKSLATE_SAMBA_ADMIN_DN"),
        password: env("BLANKSLATE_SAMBA_ADMIN_PASSWORD"),
        base_dn: env("BLANKSLATE_SAMBA_OU"),
        ca_bundle_pem: Some(std::fs::read(env("BLANKSLATE_SAMBA_CA")).unwrap()),
        allow_plain_ldap: false,
        timeout: Duration::from_secs(3),
    })
    .unwrap()
}

/// Waits until `id` is AVAILABLE and returns its ComputerName.
async fn available(ws: &AwsWorkspaces, id: &WorkspaceId) -> ComputerName {
    for _ in 0..100 {
        let found = ws.describe(std::slice::from_ref(id)).await.unwrap();
        if let Some(d) = found.first().filter(|d| d.state == WorkspaceState::Available) {
            return d.computer_name.clone().expect("an AVAILABLE WorkSpace has a ComputerName");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{id} never became AVAILABLE");
}

/// Waits until the emulator's domain join of `name` has landed.
async fn joined(name: &ComputerName) {
    for _ in 0..100 {
        if count(name).await == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the emulator never joined {name} to the directory");
}

async fn count(name: &ComputerName) -> usize {
    let mut s = admin().connect().await.unwrap();
    s.find(name).await.unwrap().len()
}

/// The WorkSpaces adapter pointed at the emulator, with test credentials only.
async fn emulator_workspaces(url: &str) -> AwsWorkspaces {
    let sdk = aws_config::defaults(BehaviorVersion::latest())
        .empty_test_environment()
        .endpoint_url(url)
        .region(Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await;
    AwsWorkspaces::new(&sdk)
}

fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    format!("ldaps://127.0.0.1:{port}")
}

#[tokio::test]
async fn a_rebuild_is_not_held_up_by_the_directory_and_cleans_up_once_it_answers() {
    let join_directory =
        blankslate_emulator::JoinDirectory { settings: admin().settings().clone(), ou: env("BLANKSLATE_SAMBA_OU") };
    let options = blankslate_emulator::Options { join_directory: Some(join_directory), ..Default::default() };
    let emulator = blankslate_emulator::start(options).await.expect("emulator");
    let ws = emulator_workspaces(&emulator.url()).await;
    let answer = ws.create(&[spec("alice", true), spec("erin", false)]).await.unwrap();
    let id_of = |user: &str| answer.pending.iter().find(|(d, _)| d.user_name.as_str() == user).unwrap().1.clone();
    let (alice, erin) = (id_of("alice"), id_of("erin"));
    let ou = env("BLANKSLATE_SAMBA_OU");
    let mut join = admin().connect().await.unwrap();
    let alice_name = available(&ws, &alice).await;
    let erin_name = available(&ws, &erin).await;
    joined(&alice_name).await;
    joined(&erin_name).await;
    let printer = ComputerName::new(format!("PRN{}", wall().as_millis() % 1_000_000_000)).unwrap();
    join.join_computer(&ou, &printer).await.unwrap();

    let journal = MemJournal::default();
    let notices = Notices::default();
    let ports = Ports { workspaces: &ws, alarms: &NoAlarms, journal: &journal, notifier: &notices };
    let mut config = Config::new("tag:blankslate=on".parse().unwrap());
    config.alarm_mode = AlarmMode::Off;
    // No alarm pipeline here: the recorded disconnect is the real one.
    config.alarm_lag_allowance = Duration::ZERO;
    config.directory = Some(DirectorySettings::new(&ou, WORKSPACES_PREFIX).unwrap());
    let down = directory(vec![closed_port_url()]);
    let up = directory(vec![env("BLANKSLATE_SAMBA_LDAPS_URL")]);

    // Enrolment (the first tick sweeps), then alice's session ends.
    let t0 = wall();
    let r = blankslate_handlers::reconcile_with_directory(ports, Some(&down), &config, t0).await.unwrap();
    assert!(r.errors.is_empty(), "{:?}", r.errors);
    emulator.with_world(|w| w.connect(&alice)).unwrap();
    emulator.with_world(|w| w.disconnect(&alice)).unwrap();
    let left = wall();
    {
        let mut table = journal.0.lock().unwrap();
        assert_eq!(table.len(), 1, "only alice is managed");
        let record = table.values_mut().next().unwrap();
        record.phase = Phase::Disconnected { workspace_id: alice.clone(), at: left };
    }
    // The reconciler's clock runs ahead of the wall clock: the grace period is over.
    let at = |minutes: u64| left + Duration::from_secs(60 * minutes);
    let r = blankslate_handlers::reconcile_with_directory(ports, Some(&down), &config, at(11)).await.unwrap();
    assert_eq!(r.terminated, vec![alice.clone()], "{r:?}");
    tokio::time::sleep(Duration::from_secs(3)).await; // the emulator's terminate: 1 s + 1 s TERMINATED

    // Gone: re-created in this tick although the directory cannot be reached.
    let r = blankslate_handlers::reconcile_with_directory(ports, Some(&down), &config, at(15)).await.unwrap();
    assert_eq!(r.created.len(), 1, "{r:?}");
    let new = r.created[0].1.clone();
    let record = journal.0.lock().unwrap().values().next().unwrap().clone();
    assert!(
        matches!(&record.cleanups[..], [c] if matches!(&c.state, CleanupState::Pending { attempts: 1, last_error: Some(e), .. } if e.contains("unreachable"))),
        "{:?}",
        record.cleanups
    );
    assert_eq!(count(&alice_name).await, 1, "still there while the directory was down");
    let new_name = available(&ws, &new).await;
    joined(&new_name).await;

    // Back: the next due attempt deletes the old object, and only it.
    let r = blankslate_handlers::reconcile_with_directory(ports, Some(&up), &config, at(17)).await.unwrap();
    assert!(r.directory_done.iter().any(|l| l.contains("deleted")), "{r:?}");
    assert_eq!(count(&alice_name).await, 0, "the terminated WorkSpace's object is gone");
    assert_eq!(count(&new_name).await, 1, "the new WorkSpace's object stays");
    assert_eq!(count(&erin_name).await, 1, "the unmanaged WorkSpace's object stays");
    assert_eq!(count(&printer).await, 1, "the unrelated computer stays");
    let record = journal.0.lock().unwrap().values().next().unwrap().clone();
    assert!(record.cleanups.iter().all(|c| !c.is_pending()));
    assert!(record.cleanups[0].describe().contains("deleted"), "{}", record.cleanups[0].describe());
    assert!(notices.0.lock().unwrap().is_empty(), "one failure is not worth a notice");
    emulator.shutdown().await;
}

#[tokio::test]
async fn orphans_are_the_workspaces_looking_objects_of_no_existing_workspace() {
    let emulator = blankslate_emulator::start(blankslate_emulator::Options::default()).await.expect("emulator");
    let ws = emulator_workspaces(&emulator.url()).await;
    let answer = ws.create(&[spec("olga", true)]).await.unwrap();
    let live = available(&ws, &answer.pending[0].1).await;
    let ou = env("BLANKSLATE_SAMBA_OU");
    let mut join = admin().connect().await.unwrap();
    join.join_computer(&ou, &live).await.unwrap();
    let stamp = wall().as_millis() % 100_000_000;
    let orphan = ComputerName::new(format!("WSAMZN-{stamp:08}")).unwrap();
    join.join_computer(&ou, &orphan).await.unwrap();
    let server = ComputerName::new(format!("SRV{stamp:08}")).unwrap();
    join.join_computer(&ou, &server).await.unwrap();

    let mut s = directory(vec![env("BLANKSLATE_SAMBA_LDAPS_URL")]).connect().await.unwrap();
    let found = blankslate_directory::find_orphans(&ws, &mut s, WORKSPACES_PREFIX).await.unwrap();
    let names: Vec<&str> = found.iter().map(|o| o.computer_name()).collect();
    assert!(names.contains(&orphan.as_str()), "{names:?}");
    assert!(!names.contains(&live.as_str()), "a live WorkSpace's object is no orphan: {names:?}");
    assert!(!names.iter().any(|n| n.starts_with("SRV")), "not a WorkSpace's name: {names:?}");

    // --delete, with the same guard: only objects older than the listing.
    let ours = found.iter().find(|o| o.computer_name() == orphan.as_str()).unwrap();
    let outcome = s.delete_orphan(ours, wall() + Duration::from_secs(1)).await.unwrap();
    assert!(matches!(outcome, blankslate_core::directory::Outcome::Deleted { .. }), "{outcome:?}");
    assert_eq!(count(&orphan).await, 0);
    assert_eq!(count(&live).await, 1);
    assert_eq!(count(&server).await, 1);
    emulator.shutdown().await;
}
