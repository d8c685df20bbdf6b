//! The reconciler's directory clean-up hooks (issue 14): the computer name is recorded
//! with the terminate intent, a clean-up is queued when (and only when) the old ID has
//! vanished, it is handed out by `decide` in the same tick, and nothing of it happens
//! while `Config::directory` is unset.

use std::time::Duration;

use blankslate_core::config::Config;
use blankslate_core::directory::{
    on_cleanup_result, CleanupState, ComputerName, DirectorySettings, FailureKind, Outcome, WORKSPACES_PREFIX,
};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::{ConnectionObservation, ConnectionState, WorkspaceDescription, WorkspaceState};
use blankslate_core::reconcile::{decide, Observations, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;

const MINUTE: i64 = 60_000;
const BASE: i64 = 1_767_225_600_000;

fn t(minute: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minute * MINUTE)
}

fn spec() -> WorkspaceSpec {
    let mut s = WorkspaceSpec::new(
        DirectoryId::new("d-9067083b4b").unwrap(),
        UserName::new("alice").unwrap(),
        BundleId::new("wsb-vw0mb86zg").unwrap(),
    );
    s.tags = Tags::from_pairs([("blankslate", "on")]).unwrap();
    s
}

fn old() -> WorkspaceId {
    WorkspaceId::new("ws-alice0001").unwrap()
}

fn config(directory: bool) -> Config {
    let mut c = Config::new("tag:blankslate=on".parse().unwrap());
    if directory {
        c.directory = Some(DirectorySettings::new("OU=WorkSpaces,DC=corp,DC=example", WORKSPACES_PREFIX).unwrap());
    }
    c
}

fn disconnected() -> Record {
    let mut r = Record::enrol(spec(), old(), t(-60));
    r.phase = Phase::Disconnected { workspace_id: old(), at: t(0) };
    r.version = 3;
    r
}

fn written(decision: &blankslate_core::reconcile::Decision) -> Vec<Record> {
    decision.steps.iter().filter_map(|s| s.write.as_ref()).map(|w: &Write| w.record().clone()).collect()
}

/// Grace over, user away: the terminate intent carries the WorkSpace's ComputerName.
fn terminate(directory: bool) -> Record {
    let mut obs = Observations::default();
    let desc = WorkspaceDescription {
        id: old(),
        state: WorkspaceState::Available,
        spec: WorkspaceSpec { tags: Tags::default(), ..spec() },
        computer_name: Some(ComputerName::new("WSAMZN-ALICE001").unwrap()),
    };
    obs.workspaces.insert(old(), desc);
    obs.described.insert(old());
    obs.tags.insert(old(), spec().tags);
    obs.connections.insert(
        old(),
        ConnectionObservation {
            id: old(),
            state: ConnectionState::Disconnected,
            checked_at: Some(t(10)),
            last_user_connection: Some(t(-5)),
        },
    );
    let d = decide(t(10), &config(directory), &[disconnected()], &obs);
    let records = written(&d);
    assert_eq!(records.len(), 1, "{d:?}");
    assert!(matches!(records[0].phase, Phase::Terminating { .. }));
    assert!(d.cleanups.is_empty(), "nothing is cleaned up before the ID vanishes");
    records[0].clone()
}

#[test]
fn the_computer_name_goes_into_the_terminate_intent() {
    let r = terminate(true);
    assert_eq!(r.computer_name.as_ref().map(|n| n.as_str()), Some("WSAMZN-ALICE001"));
    assert!(r.cleanups.is_empty());
}

#[test]
fn a_clean_up_is_queued_once_the_id_has_vanished_and_handed_out_in_that_tick() {
    let terminating = Record { version: 4, ..terminate(true) };
    // Still there (TERMINATING): nothing queued.
    let mut obs = Observations::default();
    obs.described.insert(old());
    obs.workspaces.insert(
        old(),
        WorkspaceDescription { id: old(), state: WorkspaceState::Terminating, spec: spec(), computer_name: None },
    );
    let d = decide(t(12), &config(true), std::slice::from_ref(&terminating), &obs);
    assert!(d.cleanups.is_empty() && written(&d).iter().all(|r| r.cleanups.is_empty()), "{d:?}");
    // Not read this tick: not believed gone.
    let d = decide(t(13), &config(true), std::slice::from_ref(&terminating), &Observations::default());
    assert!(d.cleanups.is_empty());
    // Gone: the create intent carries the pending clean-up, and decide hands it out.
    let mut obs = Observations::default();
    obs.described.insert(old());
    let d = decide(t(15), &config(true), std::slice::from_ref(&terminating), &obs);
    let creating = written(&d).pop().unwrap();
    assert!(matches!(creating.phase, Phase::Creating { .. }));
    assert_eq!(creating.cleanups.len(), 1);
    assert_eq!(creating.computer_name, None, "queued once");
    let item = &creating.cleanups[0].item.clone();
    assert_eq!(
        (item.workspace_id.clone(), item.computer_name.as_str(), item.terminated_at),
        (old(), "WSAMZN-ALICE001", t(15))
    );
    assert_eq!(d.cleanups, vec![item.clone()]);
    // The create comes first in the steps: the clean-up is a separate list the shell
    // carries out after them.
    assert!(d
        .steps
        .iter()
        .any(|s| s.actions.iter().any(|a| matches!(a, blankslate_core::reconcile::Action::Create(_)))));

    // Unreachable: retried a minute later, not before; the outcome lands on the record.
    let stored = Record { version: 5, ..creating };
    let (next, notice) = on_cleanup_result(
        &stored,
        item,
        Outcome::Failed { kind: FailureKind::Unreachable, message: "connection refused".into() },
        t(15),
    )
    .unwrap();
    assert!(notice.is_none());
    assert!(matches!(next.cleanups[0].state, CleanupState::Pending { attempts: 1, due_at, .. } if due_at == t(16)));
    let d =
        decide(t(15) + Duration::from_secs(30), &config(true), std::slice::from_ref(&next), &Observations::default());
    assert!(d.cleanups.is_empty());
    let d = decide(t(16), &config(true), std::slice::from_ref(&next), &Observations::default());
    assert_eq!(d.cleanups.len(), 1);
    let (done, _) =
        on_cleanup_result(&next, item, Outcome::Deleted { dn: "CN=WSAMZN-ALICE001,OU=WorkSpaces".into() }, t(16))
            .unwrap();
    assert!(!done.cleanups[0].is_pending());
    // History shows each step of the clean-up on the rebuild's row.
    let shown = |r: &Record| blankslate_core::history::history(std::slice::from_ref(r), None)[0].cleanup.clone();
    assert_eq!(shown(&stored).as_deref(), Some("computer object WSAMZN-ALICE001: pending"));
    assert_eq!(
        shown(&next).as_deref(),
        Some("computer object WSAMZN-ALICE001: retrying after 1 failure(s) (unreachable: connection refused)")
    );
    assert_eq!(shown(&done).as_deref(), Some("computer object CN=WSAMZN-ALICE001,OU=WorkSpaces deleted"));
    assert!(decide(t(17), &config(true), std::slice::from_ref(&done), &Observations::default()).cleanups.is_empty());
    assert!(
        on_cleanup_result(&done, item, Outcome::NothingToDelete, t(17)).is_none(),
        "a finished clean-up is not reopened"
    );
}

#[test]
fn off_unless_configured() {
    let terminating = Record { version: 4, ..terminate(false) };
    let mut obs = Observations::default();
    obs.described.insert(old());
    let d = decide(t(15), &config(false), std::slice::from_ref(&terminating), &obs);
    assert!(d.cleanups.is_empty());
    assert!(written(&d).iter().all(|r| r.cleanups.is_empty()));
}

#[test]
fn records_written_before_issue_14_still_read() {
    let r = Record::enrol(spec(), old(), t(0));
    let mut json = serde_json::to_value(&r).unwrap();
    let obj = json.as_object_mut().unwrap();
    assert!(!obj.contains_key("computer_name") && !obj.contains_key("cleanups"), "absent when empty: {json}");
    obj.remove("computer_name");
    let back: Record = serde_json::from_value(json).unwrap();
    assert_eq!(back, r);
}
