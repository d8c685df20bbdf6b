//! Data-driven tests of the reconciler's decisions (`blankslate_core::reconcile`).
//!
//! Conventions of this file:
//! - Time is given in whole minutes after `BASE` (`t(10)` is minute 10); the default
//!   configuration applies (grace 10 min, terminate retry after 3 min, visibility window
//!   10 min), with the opt-in selector `tag:blankslate=on` unless a case says otherwise.
//! - `desk("alice")` is alice's record: Active on WorkSpace `alice` (`ws-alice000`),
//!   enrolled at minute -60, version 3. A WorkSpace named `alice2` belongs to alice's
//!   desk too (trailing digits name a replacement).
//! - Descriptions carry no tags (DescribeWorkspaces does not return them); tags are
//!   observed separately, as the shell reads them.
//! - Decisions are compared as short strings, e.g.
//!   `update bob: terminating bob (disc 0, start 10, req 10, #1) + terminate bob`.

// Case tables spell their row types out in place; that is the point of them.
#![allow(clippy::type_complexity)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use blankslate_core::alarm::{Listed, Owner, StackName};
use blankslate_core::config::{AlarmMode, Config};
use blankslate_core::ids::{BundleId, DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, RebuildSummary, Record};
use blankslate_core::observe::{
    ConnectionObservation, ConnectionState as C, WorkspaceDescription, WorkspaceState as S,
};
use blankslate_core::reconcile::{
    self, batches, create_backoff, Action, Decision, Observations, Outcome, ReadPlan, Step, Write, RESOURCE_EXISTS,
};
use blankslate_core::selector::Selector;
use blankslate_core::spec::{
    ComputeType, OperatingSystemName, Protocol, RunningMode, Tags, VolumeEncryption, WorkspaceSpec,
};
use blankslate_core::Timestamp;

// ---------------------------------------------------------------------------------------
// Builders
// ---------------------------------------------------------------------------------------

/// 2026-01-01T00:00:00Z: a multiple of the 15-minute sweep period.
const BASE: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;
const DIR: &str = "d-9067083b4b";
const BUNDLE: &str = "wsb-vw0mb86zg";

fn t(minute: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minute * MINUTE)
}

/// Minutes after BASE, for display (milliseconds when not a whole minute).
fn m(ts: Timestamp) -> String {
    let d = ts.as_millis() - BASE;
    if d % MINUTE == 0 {
        (d / MINUTE).to_string()
    } else {
        format!("{d}ms")
    }
}

/// WorkSpace `name`: `ws-` + name padded with zeros to 8 characters.
fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::new(format!("ws-{name:0<8}")).unwrap()
}

fn name(id: &WorkspaceId) -> String {
    id.as_str().trim_start_matches("ws-").trim_end_matches('0').to_owned()
}

/// The user whose desk a WorkSpace name belongs to (`alice2` -> `alice`).
fn user_of(ws_name: &str) -> &str {
    ws_name.trim_end_matches(|c: char| c.is_ascii_digit())
}

fn key(user: &str) -> DeskKey {
    DeskKey { directory_id: DirectoryId::new(DIR).unwrap(), user_name: UserName::new(user).unwrap() }
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    Tags::from_pairs(pairs.iter().copied()).unwrap()
}

const MANAGED: &[(&str, &str)] = &[("blankslate", "on")];

/// The spec a desk was enrolled with: default properties, the opt-in tag.
fn spec(user: &str) -> WorkspaceSpec {
    let mut s = WorkspaceSpec::new(
        DirectoryId::new(DIR).unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new(BUNDLE).unwrap(),
    );
    s.tags = tags(MANAGED);
    s
}

/// WorkSpace `ws_name` as DescribeWorkspaces shows it (no tags).
fn desc(ws_name: &str, state: S) -> WorkspaceDescription {
    let mut s = spec(user_of(ws_name));
    s.tags = Tags::default();
    WorkspaceDescription { id: ws(ws_name), state, spec: s, computer_name: None }
}

fn selector(text: &str) -> Selector {
    text.parse().unwrap()
}

fn cfg() -> Config {
    Config::new(selector("tag:blankslate=on"))
}

fn cfg_with(f: impl FnOnce(&mut Config)) -> Config {
    let mut c = cfg();
    f(&mut c);
    c
}

/// `user`'s record: Active on WorkSpace `user`, enrolled at minute -60, version 3.
fn desk(user: &str) -> Record {
    let mut r = Record::enrol(spec(user), ws(user), t(-60));
    r.version = 3;
    r
}

/// Phase builders on a record.
trait Phased: Sized {
    /// Disconnected since minute `at`.
    fn disconnected(self, at: i64) -> Record;
    /// Terminating: disconnect at `disc`, rebuild started at `disc + 10`, last terminate
    /// decided at `requested`, `attempts` calls so far.
    fn terminating(self, disc: i64, requested: i64, attempts: u32) -> Record;
    /// Creating (replacing the desk's WorkSpace): disconnect at 0, started at 10.
    fn creating(self, attempts: u32, retry_at: i64, maybe_created: bool) -> Record;
    /// Enrolled / created at minute `since`.
    fn since(self, since: i64) -> Record;
    /// The last login event reported minute `at`.
    fn logged_in(self, at: i64) -> Record;
}

fn current(r: &Record) -> WorkspaceId {
    r.workspace_id().cloned().unwrap_or_else(|| ws(r.desk.user_name.as_str()))
}

impl Phased for Record {
    fn disconnected(mut self, at: i64) -> Record {
        self.phase = Phase::Disconnected { workspace_id: current(&self), at: t(at) };
        self
    }
    fn terminating(mut self, disc: i64, requested: i64, attempts: u32) -> Record {
        self.phase = Phase::Terminating {
            workspace_id: current(&self),
            disconnected_at: t(disc),
            started_at: t(disc + 10),
            requested_at: t(requested),
            attempts,
        };
        self
    }
    fn creating(mut self, attempts: u32, retry_at: i64, maybe_created: bool) -> Record {
        self.phase = Phase::Creating {
            replaces: current(&self),
            disconnected_at: t(0),
            started_at: t(10),
            attempts,
            retry_at: t(retry_at),
            maybe_created,
        };
        self
    }
    fn since(mut self, since: i64) -> Record {
        self.workspace_since = t(since);
        self
    }
    fn logged_in(mut self, at: i64) -> Record {
        self.last_login = Some(t(at));
        self
    }
}

/// Observations, built fluently.
#[derive(Clone, Default)]
struct Obs(Observations);

fn obs() -> Obs {
    Obs::default()
}

impl Obs {
    /// A targeted DescribeWorkspaces found `ws_name` in `state`.
    fn described(self, ws_name: &str, state: S) -> Self {
        self.desc(desc(ws_name, state))
    }
    /// A targeted DescribeWorkspaces found this description.
    fn desc(mut self, d: WorkspaceDescription) -> Self {
        self.0.described.insert(d.id.clone());
        self.0.workspaces.insert(d.id.clone(), d);
        self
    }
    /// A targeted DescribeWorkspaces did not find `ws_name`.
    fn gone(mut self, ws_name: &str) -> Self {
        self.0.described.insert(ws(ws_name));
        self
    }
    /// The whole fleet was listed (whatever `listed` added is all there is).
    fn fleet(mut self) -> Self {
        self.0.fleet_listed = true;
        self
    }
    /// The fleet listing shows `ws_name` in `state`.
    fn listed(mut self, ws_name: &str, state: S) -> Self {
        self.0.fleet_listed = true;
        let d = desc(ws_name, state);
        self.0.workspaces.insert(d.id.clone(), d);
        self
    }
    /// Connection state of `ws_name`, user last connected at minute `last`.
    fn conn(mut self, ws_name: &str, state: C, last: Option<i64>) -> Self {
        let id = ws(ws_name);
        self.0.connections.insert(
            id.clone(),
            ConnectionObservation { id, state, checked_at: None, last_user_connection: last.map(t) },
        );
        self
    }
    /// DescribeTags of `ws_name`.
    fn tagged(mut self, ws_name: &str, pairs: &[(&str, &str)]) -> Self {
        self.0.tags.insert(ws(ws_name), tags(pairs));
        self
    }
    /// DescribeTags of `ws_name` shows the opt-in tag.
    fn managed(self, ws_name: &str) -> Self {
        self.tagged(ws_name, MANAGED)
    }
    /// Our alarms exist for these WorkSpaces.
    fn alarms(mut self, names: &[&str]) -> Self {
        self.0.alarms = Some(names.iter().map(|n| Listed { workspace: ws(n), owner: Owner::Legacy }).collect());
        self
    }
    /// Alarms of this owner exist for these WorkSpaces too (after [`Obs::alarms`]).
    fn alarms_of(mut self, owner: Owner, names: &[&str]) -> Self {
        let listed = self.0.alarms.get_or_insert_with(Vec::new);
        listed.extend(names.iter().map(|n| Listed { workspace: ws(n), owner: owner.clone() }));
        self
    }
    /// The desk look-up of `user` found this (or nothing).
    fn lookup(mut self, user: &str, found: Option<WorkspaceDescription>) -> Self {
        self.0.desks.insert(key(user), found);
        self
    }
}

fn tick(now: i64, records: &[Record], o: &Obs) -> Decision {
    reconcile::decide(t(now), &cfg(), records, &o.0)
}

fn tick_with(config: &Config, now: i64, records: &[Record], o: &Obs) -> Decision {
    reconcile::decide(t(now), config, records, &o.0)
}

// ---------------------------------------------------------------------------------------
// Rendering decisions as short strings
// ---------------------------------------------------------------------------------------

fn show_phase(p: &Phase) -> String {
    match p {
        Phase::Active { workspace_id } => format!("active {}", name(workspace_id)),
        Phase::Disconnected { workspace_id, at } => format!("disconnected {} @{}", name(workspace_id), m(*at)),
        Phase::Terminating { workspace_id, disconnected_at, started_at, requested_at, attempts } => format!(
            "terminating {} (disc {}, start {}, req {}, #{attempts})",
            name(workspace_id),
            m(*disconnected_at),
            m(*started_at),
            m(*requested_at)
        ),
        Phase::Creating { replaces, disconnected_at, started_at, attempts, retry_at, maybe_created } => format!(
            "creating (replaces {}, disc {}, start {}, #{attempts}, retry {}{})",
            name(replaces),
            m(*disconnected_at),
            m(*started_at),
            m(*retry_at),
            if *maybe_created { ", maybe" } else { "" }
        ),
    }
}

fn show_write(w: &Write) -> String {
    let r = w.record();
    let user = r.desk.user_name.as_str();
    match w {
        Write::Insert(_) => format!("insert {user}: {}", show_phase(&r.phase)),
        Write::Update(_) => format!("update {user}: {}", show_phase(&r.phase)),
        Write::Delete(_) => format!("delete {user}"),
    }
}

fn show_action(a: &Action) -> String {
    match a {
        Action::Terminate(id) => format!("terminate {}", name(id)),
        Action::Create(spec) => format!("create {}", spec.user_name),
        Action::PutAlarm(id) => format!("put-alarm {}", name(id)),
        Action::DeleteAlarm(id) => format!("delete-alarm {}", name(id)),
        Action::DeleteLegacyAlarm(id) => format!("delete-legacy-alarm {}", name(id)),
        Action::Notify(n) => format!("notify {}", n.desk.user_name),
    }
}

fn show_step(s: &Step) -> String {
    s.write.iter().map(show_write).chain(s.actions.iter().map(show_action)).collect::<Vec<_>>().join(" + ")
}

fn show(d: &Decision) -> Vec<String> {
    d.steps.iter().map(show_step).collect()
}

fn show_opt(s: &Option<Step>) -> Vec<String> {
    s.iter().map(show_step).collect()
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn actions(d: &Decision) -> Vec<&Action> {
    d.steps.iter().flat_map(|s| &s.actions).collect()
}

fn terminated(d: &Decision) -> BTreeSet<String> {
    actions(d).into_iter().filter_map(|a| if let Action::Terminate(id) = a { Some(name(id)) } else { None }).collect()
}

fn count_destructive(d: &Decision) -> usize {
    actions(d).into_iter().filter(|a| matches!(a, Action::Terminate(_) | Action::Create(_))).count()
}

/// The record a decision writes for `user`'s desk.
fn written<'a>(d: &'a Decision, user: &str) -> &'a Record {
    d.steps
        .iter()
        .filter_map(|s| s.write.as_ref())
        .map(Write::record)
        .find(|r| r.desk == key(user))
        .unwrap_or_else(|| panic!("no write for {user} in {:?}", show(d)))
}

// ---------------------------------------------------------------------------------------
// A journal that behaves like the store: conditional writes, version + 1 per write
// ---------------------------------------------------------------------------------------

fn store_write(store: &mut BTreeMap<DeskKey, Record>, write: &Write) -> Result<Option<Record>, String> {
    let r = write.record();
    let stored_version = store.get(&r.desk).map(|s| s.version);
    match (write, stored_version) {
        (Write::Insert(_), None) => {
            let next = Record { version: r.version + 1, ..r.clone() };
            store.insert(r.desk.clone(), next.clone());
            Ok(Some(next))
        }
        (Write::Update(_), Some(v)) if v == r.version => {
            let next = Record { version: r.version + 1, ..r.clone() };
            store.insert(r.desk.clone(), next.clone());
            Ok(Some(next))
        }
        (Write::Delete(_), Some(v)) if v == r.version => {
            store.remove(&r.desk);
            Ok(None)
        }
        _ => Err(format!("conflict: {} against stored version {stored_version:?}", show_write(write))),
    }
}

/// Applies every write of `steps`; each must hold.
fn apply(records: &[Record], steps: &[Step]) -> Vec<Record> {
    let mut store: BTreeMap<DeskKey, Record> = records.iter().map(|r| (r.desk.clone(), r.clone())).collect();
    for write in steps.iter().filter_map(|s| s.write.as_ref()) {
        store_write(&mut store, write).unwrap();
    }
    store.into_values().collect()
}

// ---------------------------------------------------------------------------------------
// plan_reads
// ---------------------------------------------------------------------------------------

fn ids(names: &[&str]) -> Vec<WorkspaceId> {
    names.iter().map(|n| ws(n)).collect()
}

#[test]
fn plan_reads_asks_for_what_each_phase_needs() {
    let records = vec![
        desk("alice"),                      // Active
        desk("bob").disconnected(0),        // due at 10
        desk("carol").disconnected(5),      // due at 15
        desk("dave").terminating(0, 8, 1),  // retry check from 11
        desk("erin").terminating(0, 5, 1),  // retry check from 8
        desk("frank").creating(1, 9, true), // look-up due at 9
        desk("gina").creating(1, 12, true), // look-up due at 12
        desk("hank").creating(1, 0, false), // creates without a look-up
        desk("ivan"),                       // Active
    ];
    let on = AlarmMode::PerWorkspace;
    let off = AlarmMode::Off;
    struct Case {
        what: &'static str,
        now: Timestamp,
        mode: AlarmMode,
        sweep: bool,
        describe: &'static [&'static str],
        connections: &'static [&'static str],
        tags: &'static [&'static str],
        desks: &'static [&'static str],
    }
    let cases = [
        Case {
            what: "one ms before bob's grace ends: terminations confirmed, no re-check in advance",
            now: t(10) - Duration::from_millis(1),
            mode: on,
            sweep: false,
            describe: &["dave", "erin"],
            connections: &[],
            tags: &[],
            desks: &["frank"],
        },
        Case {
            what: "bob due at exactly 10",
            now: t(10),
            mode: on,
            sweep: false,
            describe: &["bob", "dave", "erin"],
            connections: &["bob"],
            tags: &["bob"],
            desks: &["frank"],
        },
        Case {
            what: "dave's terminate has had time at 11 (a re-check only if the describe shows it lost)",
            now: t(11),
            mode: on,
            sweep: false,
            describe: &["bob", "dave", "erin"],
            connections: &["bob"],
            tags: &["bob"],
            desks: &["frank"],
        },
        Case {
            what: "carol due and gina's look-up due at 15",
            now: t(15),
            mode: on,
            sweep: false,
            describe: &["bob", "carol", "dave", "erin"],
            connections: &["bob", "carol"],
            tags: &["bob", "carol"],
            desks: &["frank", "gina"],
        },
        Case {
            what: "terminate just decided at 5: only confirmed, never re-checked, before 8",
            now: t(7),
            mode: on,
            sweep: false,
            describe: &["dave", "erin"],
            connections: &[],
            tags: &[],
            desks: &[],
        },
        Case {
            what: "sweep with alarms: every Active connection too",
            now: t(10),
            mode: on,
            sweep: true,
            describe: &["bob", "dave", "erin"],
            connections: &["alice", "bob", "ivan"],
            tags: &["bob"],
            desks: &["frank"],
        },
        Case {
            what: "alarm-free, not a sweep: every Active connection every tick",
            now: t(10),
            mode: off,
            sweep: false,
            describe: &["bob", "dave", "erin"],
            connections: &["alice", "bob", "ivan"],
            tags: &["bob"],
            desks: &["frank"],
        },
        Case {
            what: "alarm-free sweep",
            now: t(7),
            mode: off,
            sweep: true,
            describe: &["dave", "erin"],
            connections: &["alice", "ivan"],
            tags: &[],
            desks: &[],
        },
    ];
    for c in cases {
        let config = cfg_with(|x| x.alarm_mode = c.mode);
        let plan = reconcile::plan_reads(c.now, &config, &records, c.sweep);
        let expected = ReadPlan {
            describe: ids(c.describe),
            connections: ids(c.connections),
            tags: ids(c.tags),
            desks: c.desks.iter().map(|u| key(u)).collect(),
            sweep: c.sweep,
            sweep_over_budget: false,
            budget_bound: false,
        };
        assert_eq!(plan, expected, "{}", c.what);
    }
}

#[test]
fn plan_reads_of_an_empty_journal_is_only_the_sweep_flag() {
    for sweep in [false, true] {
        let plan = reconcile::plan_reads(t(0), &cfg(), &[], sweep);
        assert_eq!(plan, ReadPlan { sweep, ..ReadPlan::default() });
    }
}

#[test]
fn sweep_ticks_come_from_the_clock_or_an_empty_journal() {
    // Default: reconcile every minute, sweep every 15; BASE is on a sweep boundary.
    let cases = [
        (t(0), false, true),
        (t(1) - Duration::from_millis(1), false, true),
        (t(1), false, false),
        (t(14), false, false),
        (t(15), false, true),
        (t(30) + Duration::from_secs(30), false, true),
        (t(7), true, true),
    ];
    for (now, journal_is_empty, expected) in cases {
        assert_eq!(
            reconcile::is_sweep_tick(now, &cfg(), journal_is_empty),
            expected,
            "at {} (empty: {journal_is_empty})",
            m(now)
        );
    }
}

// ---------------------------------------------------------------------------------------
// S1: never terminate a connected user, or one who came back within grace
// ---------------------------------------------------------------------------------------

const TERM_BOB: &str = "update bob: terminating bob (disc 0, start 10, req 10, #1) + terminate bob";
const BACK_BOB: &str = "update bob: active bob";
const AGAIN_BOB: &str = "update bob: disconnected bob @10";

/// bob disconnected at 0 and is due at 10; everything a terminate needs was read.
fn due_bob(state: S, conn: C, last: Option<i64>) -> Obs {
    obs().described("bob", state).managed("bob").conn("bob", conn, last)
}

#[test]
fn s1_a_due_disconnect_is_terminated_only_when_the_user_is_still_away() {
    let records = [desk("bob").disconnected(0)];
    let cases: &[(S, C, Option<i64>, &[&str])] = &[
        (S::Available, C::Disconnected, None, &[TERM_BOB]),
        (S::Available, C::Disconnected, Some(-30), &[TERM_BOB]),
        (S::Available, C::Disconnected, Some(-5), &[TERM_BOB]), // exactly the alarm-lag allowance before
        (S::Available, C::Disconnected, Some(-4), &[AGAIN_BOB]), // within it: a return the alarm may hide
        (S::Available, C::Disconnected, Some(0), &[AGAIN_BOB]),
        (S::Available, C::Disconnected, Some(1), &[AGAIN_BOB]), // came back, left again
        (S::Available, C::Disconnected, Some(9), &[AGAIN_BOB]),
        (S::Available, C::Connected, Some(-30), &[BACK_BOB]),
        (S::Available, C::Connected, Some(5), &[BACK_BOB]),
        (S::Available, C::Connected, None, &[BACK_BOB]),
        (S::Available, C::Unknown, None, &[]), // cannot tell: wait
        (S::Available, C::Unknown, Some(-30), &[]),
        (S::Available, C::Unknown, Some(3), &[AGAIN_BOB]),
        (S::Stopped, C::Unknown, None, &[TERM_BOB]), // UNKNOWN is what STOPPED reports
        (S::Stopped, C::Unknown, Some(-5), &[TERM_BOB]),
        (S::Stopped, C::Unknown, Some(4), &[AGAIN_BOB]),
        (S::Stopped, C::Disconnected, None, &[TERM_BOB]),
        (S::Impaired, C::Disconnected, None, &[TERM_BOB]),
        (S::Unhealthy, C::Disconnected, None, &[TERM_BOB]),
        (S::Error, C::Disconnected, None, &[TERM_BOB]),
        (S::Error, C::Unknown, None, &[]),
        // States in which TerminateWorkspaces cannot be sent now: wait.
        (S::Suspended, C::Disconnected, None, &[]),
        (S::Pending, C::Disconnected, None, &[]),
        (S::Rebooting, C::Disconnected, None, &[]),
        (S::Starting, C::Disconnected, None, &[]),
        (S::Stopping, C::Disconnected, None, &[]),
        (S::Rebuilding, C::Disconnected, None, &[]),
        (S::Restoring, C::Disconnected, None, &[]),
        (S::Maintenance, C::Disconnected, None, &[]),
        (S::AdminMaintenance, C::Disconnected, None, &[]),
        (S::Updating, C::Disconnected, None, &[]),
        (S::Terminating, C::Disconnected, None, &[]),
        (S::Terminated, C::Disconnected, None, &[]),
        // A user who is connected ends the grace period whatever the state.
        (S::Suspended, C::Connected, None, &[BACK_BOB]),
        (S::Rebooting, C::Connected, Some(2), &[BACK_BOB]),
    ];
    for (state, conn, last, expected) in cases {
        let d = tick(10, &records, &due_bob(*state, *conn, *last));
        assert_eq!(show(&d), strings(expected), "{state} {conn} last {last:?}");
    }
}

#[test]
fn s1_nothing_is_decided_without_a_fresh_read_or_before_the_grace_period_ends() {
    let bob = desk("bob").disconnected(0); // enrolled at -60
    let young = desk("bob").disconnected(0).since(5); // created at 5: believed gone from 15
    let away = due_bob(S::Available, C::Disconnected, None);
    let cases: [(&str, &Record, Timestamp, Obs, &[&str]); 9] = [
        ("grace not over (minute 5)", &bob, t(5), away.clone(), &[]),
        ("grace not over by 1 ms", &bob, t(10) - Duration::from_millis(1), away.clone(), &[]),
        ("grace over at exactly 10", &bob, t(10), away.clone(), &[TERM_BOB]),
        ("no connection observation", &bob, t(10), obs().described("bob", S::Available).managed("bob"), &[]),
        ("not described", &bob, t(10), obs().managed("bob").conn("bob", C::Disconnected, None), &[]),
        (
            "tags not read (needed for S2 and S3)",
            &bob,
            t(10),
            obs().described("bob", S::Available).conn("bob", C::Disconnected, None),
            &[],
        ),
        (
            "connection of another WorkSpace only",
            &bob,
            t(10),
            obs().described("bob", S::Available).managed("bob").conn("bob2", C::Disconnected, None),
            &[],
        ),
        (
            "gone, but the WorkSpace is too young to believe it",
            &young,
            t(10),
            obs().gone("bob").managed("bob").conn("bob", C::Disconnected, None),
            &[],
        ),
        (
            "gone for good: released, never terminated",
            &bob,
            t(10),
            obs().gone("bob").managed("bob").conn("bob", C::Disconnected, None),
            &["delete bob + delete-alarm bob"],
        ),
    ];
    for (what, record, now, o, expected) in cases {
        let d = reconcile::decide(now, &cfg(), std::slice::from_ref(record), &o.0);
        assert_eq!(show(&d), strings(expected), "{what}");
    }
}

#[test]
fn s1_holds_for_every_state_connection_and_last_connection() {
    let states = [
        S::Pending,
        S::Available,
        S::Impaired,
        S::Unhealthy,
        S::Rebooting,
        S::Starting,
        S::Rebuilding,
        S::Restoring,
        S::Maintenance,
        S::AdminMaintenance,
        S::Terminating,
        S::Terminated,
        S::Suspended,
        S::Updating,
        S::Stopping,
        S::Stopped,
        S::Error,
    ];
    let terminable: BTreeSet<&str> = ["AVAILABLE", "STOPPED", "IMPAIRED", "UNHEALTHY", "ERROR"].into();
    let records = [desk("bob").disconnected(0)];
    for state in states {
        for conn in [C::Connected, C::Disconnected, C::Unknown] {
            for last in [None, Some(-5), Some(0), Some(3), Some(10)] {
                let d = tick(10, &records, &due_bob(state, conn, last));
                let expected = conn != C::Connected
                    && last.is_none_or(|l| l <= -5)
                    && (conn == C::Disconnected || state == S::Stopped)
                    && terminable.contains(state.as_api_str());
                let did = !terminated(&d).is_empty();
                assert_eq!(did, expected, "{state} {conn} last {last:?}: {:?}", show(&d));
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// S2: never touch a WorkSpace outside the selector
// ---------------------------------------------------------------------------------------

#[test]
fn s2_a_due_desk_that_no_longer_matches_is_released_not_terminated() {
    const RELEASE: &str = "delete bob + delete-alarm bob";
    let records = [desk("bob").disconnected(0)];
    // (selector, description, fresh tags (None: not read), expected)
    let other_bundle = WorkspaceDescription {
        spec: WorkspaceSpec { bundle_id: BundleId::new("wsb-000000000").unwrap(), ..desc("bob", S::Available).spec },
        ..desc("bob", S::Available)
    };
    let stale_tags_in_description = WorkspaceDescription {
        spec: WorkspaceSpec { tags: tags(MANAGED), ..desc("bob", S::Available).spec },
        ..desc("bob", S::Available)
    };
    let plain = desc("bob", S::Available);
    let cases: Vec<(&str, WorkspaceDescription, Option<&[(&str, &str)]>, &[&str])> = vec![
        ("tag:blankslate=on", plain.clone(), Some(MANAGED), &[TERM_BOB]),
        ("tag:blankslate=on", plain.clone(), Some(&[("blankslate", "on"), ("team", "x")]), &[TERM_BOB]),
        ("tag:blankslate=on", plain.clone(), Some(&[("blankslate", "off")]), &[RELEASE]),
        ("tag:blankslate=on", plain.clone(), Some(&[]), &[RELEASE]),
        ("tag:blankslate=on", plain.clone(), Some(&[("other", "on")]), &[RELEASE]),
        ("tag:blankslate=on", plain.clone(), None, &[]),
        // The freshly read tags decide, not what the description or the journal carry.
        ("tag:blankslate=on", stale_tags_in_description, Some(&[("blankslate", "off")]), &[RELEASE]),
        ("tag:blankslate", plain.clone(), Some(&[("blankslate", "anything")]), &[TERM_BOB]),
        ("bundle:wsb-vw0mb86zg", plain.clone(), Some(&[]), &[TERM_BOB]),
        ("bundle:wsb-vw0mb86zg", other_bundle.clone(), Some(MANAGED), &[RELEASE]),
        ("bundle:wsb-000000000", plain.clone(), Some(MANAGED), &[RELEASE]),
        ("bundle:wsb-000000000", other_bundle, Some(&[]), &[TERM_BOB]),
        ("directory:d-9067083b4b", plain.clone(), Some(&[]), &[TERM_BOB]),
        ("directory:d-00000000aa", plain.clone(), Some(MANAGED), &[RELEASE]),
        ("all", plain.clone(), Some(&[]), &[TERM_BOB]),
        ("all", plain, None, &[]), // tags are needed for the re-create (S3) whatever the selector
    ];
    for (sel, description, fresh, expected) in cases {
        let config = Config::new(selector(sel));
        let mut o = obs().desc(description.clone()).conn("bob", C::Disconnected, None);
        if let Some(pairs) = fresh {
            o = o.tagged("bob", pairs);
        }
        let d = tick_with(&config, 10, &records, &o);
        assert_eq!(show(&d), strings(expected), "{sel} with tags {fresh:?} on {:?}", description.spec.bundle_id);
        if expected == [RELEASE] {
            assert_eq!(d.steps[0].write, Some(Write::Delete(records[0].clone())), "{sel}: deletes the record as read");
        }
    }
}

#[test]
fn s2_an_active_desk_that_no_longer_matches_is_released_on_a_sweep() {
    let records = [desk("alice")];
    let cases: [(&str, Obs, &[&str]); 5] = [
        (
            "tag:blankslate=on",
            obs().listed("alice", S::Available).tagged("alice", &[("blankslate", "off")]),
            &["delete alice + delete-alarm alice"],
        ),
        ("tag:blankslate=on", obs().listed("alice", S::Available).managed("alice"), &[]),
        ("tag:blankslate=on", obs().listed("alice", S::Available), &[]), // tags not read: no decision
        ("directory:d-00000000aa", obs().listed("alice", S::Available), &["delete alice + delete-alarm alice"]),
        ("directory:d-9067083b4b", obs().listed("alice", S::Available), &[]),
    ];
    for (sel, o, expected) in cases {
        let d = tick_with(&Config::new(selector(sel)), 0, &records, &o);
        assert_eq!(show(&d), strings(expected), "{sel}");
    }
}

#[test]
fn s2_on_workspace_seen_enrols_only_what_the_selector_names() {
    let zoe = desc("zoe", S::Available);
    let cases: [(&str, Option<&[(&str, &str)]>, &[&str]); 8] = [
        ("tag:blankslate=on", Some(MANAGED), &["insert zoe: active zoe + put-alarm zoe"]),
        ("tag:blankslate=on", Some(&[("blankslate", "off")]), &[]),
        ("tag:blankslate=on", Some(&[]), &[]),
        ("tag:blankslate=on", None, &[]), // a tag selector cannot decide without tags
        ("directory:d-9067083b4b", None, &["insert zoe: active zoe + put-alarm zoe"]),
        ("directory:d-00000000aa", None, &[]),
        ("bundle:wsb-000000000", Some(MANAGED), &[]),
        ("all", None, &["insert zoe: active zoe + put-alarm zoe"]),
    ];
    for (sel, fresh, expected) in cases {
        let fresh = fresh.map(tags);
        let step = reconcile::on_workspace_seen(t(3), &Config::new(selector(sel)), None, &zoe, fresh.as_ref());
        assert_eq!(show_opt(&step), strings(expected), "{sel} {fresh:?}");
        if let Some(Step { write: Some(Write::Insert(r)), .. }) = &step {
            assert_eq!((r.version, r.workspace_since, r.rebuilds), (0, t(3), 0), "{sel}");
            assert_eq!(r.spec.tags, fresh.unwrap_or_default(), "{sel}: enrolled with the tags read");
        }
    }
}

#[test]
fn s2_a_managed_desk_seen_unmanaged_is_released_unless_mid_rebuild() {
    let off = tags(&[("blankslate", "off")]);
    let cases: [(Record, &str, &[&str]); 5] = [
        (desk("alice"), "alice", &["delete alice + delete-alarm alice"]),
        (desk("alice").disconnected(0), "alice", &["delete alice + delete-alarm alice"]),
        (desk("alice"), "alice2", &["delete alice + delete-alarm alice"]),
        // Mid-rebuild the old WorkSpace matched; L1 finishes what S2 allowed to start.
        (desk("alice").terminating(0, 10, 1), "alice2", &[]),
        (desk("alice").creating(1, 20, true), "alice2", &[]),
    ];
    for (record, seen, expected) in cases {
        let step = reconcile::on_workspace_seen(t(12), &cfg(), Some(&record), &desc(seen, S::Available), Some(&off));
        assert_eq!(show_opt(&step), strings(expected), "{} seeing {seen}", record.phase.name());
    }
}

// ---------------------------------------------------------------------------------------
// S3: the re-create carries what exists now
// ---------------------------------------------------------------------------------------

#[test]
fn s3_the_rebuild_re_creates_the_freshly_read_spec_and_tags() {
    let records = [desk("bob").disconnected(0)];
    // Since enrolment the WorkSpace was modified and re-tagged.
    let mut now_spec = desc("bob", S::Available).spec;
    now_spec.encryption = VolumeEncryption::from_request_fields(Some("alias/ws"), true, true).unwrap();
    now_spec.properties.running_mode = Some(RunningMode::from_api("AUTO_STOP", Some(120)).unwrap());
    now_spec.properties.compute_type = Some(ComputeType::new("POWERPRO").unwrap());
    now_spec.properties.root_volume_size_gib = Some(175);
    now_spec.properties.user_volume_size_gib = Some(100);
    now_spec.properties.protocols = vec![Protocol::Wsp];
    now_spec.properties.operating_system_name = Some(OperatingSystemName::new("WINDOWS_SERVER_2022").unwrap());
    let fresh_tags: &[(&str, &str)] = &[("blankslate", "on"), ("team", "b"), ("cost-centre", "42")];
    let mut expected = now_spec.clone();
    expected.tags = tags(fresh_tags);
    assert_ne!(records[0].spec, expected, "the journal's spec is out of date");

    let o = obs()
        .desc(WorkspaceDescription { id: ws("bob"), state: S::Available, spec: now_spec, computer_name: None })
        .tagged("bob", fresh_tags)
        .conn("bob", C::Disconnected, None);
    let d1 = tick(10, &records, &o);
    assert_eq!(show(&d1), [TERM_BOB]);
    assert_eq!(written(&d1, "bob").spec, expected, "the Terminating record holds the fresh spec");

    // The WorkSpace is gone: the create carries exactly that spec, and so does the record.
    let records = apply(&records, &d1.steps);
    let d2 = tick(15, &records, &obs().gone("bob"));
    assert_eq!(show(&d2), ["update bob: creating (replaces bob, disc 0, start 10, #1, retry 25, maybe) + create bob"]);
    assert_eq!(d2.steps[0].actions, [Action::Create(Box::new(expected.clone()))]);
    assert_eq!(written(&d2, "bob").spec, expected);

    // A refused create and the retry after back-off still carry it.
    let records = apply(&records, &d2.steps);
    let refused = Outcome::Refused { code: "Throttling".into(), message: "Rate exceeded".into() };
    let step = reconcile::on_create_result(&records[0], &refused, t(15), &cfg()).unwrap();
    let records = apply(&records, &[step]);
    let d3 = tick(16, &records, &obs());
    assert_eq!(d3.steps[0].actions, [Action::Create(Box::new(expected))]);
}

// ---------------------------------------------------------------------------------------
// S4: a lost create answer is followed by a look-up, never a blind second create
// ---------------------------------------------------------------------------------------

#[test]
fn s4_a_maybe_created_desk_is_looked_up_before_creating_again() {
    let waiting = desk("alice").creating(1, 10, true);
    let cases: [(&str, i64, Record, Obs, &[&str]); 8] = [
        (
            "found: the rebuild is complete",
            10,
            waiting.clone(),
            obs().lookup("alice", Some(desc("alice2", S::Pending))),
            &["update alice: active alice2 + put-alarm alice2"],
        ),
        ("found but going: wait", 10, waiting.clone(), obs().lookup("alice", Some(desc("alice2", S::Terminated))), &[]),
        (
            "not found: create again",
            10,
            waiting.clone(),
            obs().lookup("alice", None),
            &["update alice: creating (replaces alice, disc 0, start 10, #2, retry 20, maybe) + create alice"],
        ),
        ("look-up not read: wait", 10, waiting.clone(), obs(), &[]),
        ("look-up not due yet", 9, waiting.clone(), obs().lookup("alice", None), &[]),
        (
            "refused before (nothing happened): create without a look-up",
            10,
            desk("alice").creating(2, 10, false),
            obs(),
            &["update alice: creating (replaces alice, disc 0, start 10, #3, retry 20, maybe) + create alice"],
        ),
        ("refused before, back-off not over", 9, desk("alice").creating(2, 10, false), obs(), &[]),
        (
            "a WorkSpace seen by the sweep is not adopted before the look-up is due",
            9,
            waiting.clone(),
            obs().listed("alice2", S::Available).managed("alice2"),
            &[],
        ),
    ];
    for (what, now, record, o, expected) in cases {
        let d = tick(now, std::slice::from_ref(&record), &o);
        assert_eq!(show(&d), strings(expected), "{what}");
    }
}

#[test]
fn s4_completing_a_rebuild_records_the_new_workspace_and_its_history() {
    let mut before = desk("alice").creating(2, 10, true);
    before.rebuilds = 4;
    before.last_error = Some("CreateWorkspaces: Throttling: Rate exceeded".into());
    let expected_summary = RebuildSummary {
        old_workspace_id: ws("alice"),
        new_workspace_id: ws("alice2"),
        disconnected_at: t(0),
        started_at: t(10),
        finished_at: t(12),
        reason: Default::default(), // a disconnect
    };
    let check = |what: &str, r: &Record| {
        assert_eq!(r.phase, Phase::Active { workspace_id: ws("alice2") }, "{what}");
        assert_eq!(r.rebuilds, 5, "{what}");
        assert_eq!(r.last_rebuild.as_ref(), Some(&expected_summary), "{what}");
        assert_eq!((r.workspace_since, r.updated_at), (t(12), t(12)), "{what}");
        assert_eq!(r.last_error, None, "{what}");
        assert_eq!((r.version, &r.spec, &r.desk), (before.version, &before.spec, &before.desk), "{what}");
    };
    let d = tick(12, std::slice::from_ref(&before), &obs().lookup("alice", Some(desc("alice2", S::Available))));
    check("look-up", written(&d, "alice"));
    let step = reconcile::on_create_result(&before, &Outcome::Accepted(ws("alice2")), t(12), &cfg()).unwrap();
    assert_eq!(show_step(&step), "update alice: active alice2 + put-alarm alice2");
    check("accepted", step.write.as_ref().unwrap().record());
    let step =
        reconcile::on_workspace_seen(t(12), &cfg(), Some(&before), &desc("alice2", S::Pending), Some(&tags(MANAGED)))
            .unwrap();
    assert_eq!(show_step(&step), "update alice: active alice2 + put-alarm alice2");
    check("seen", step.write.as_ref().unwrap().record());

    // Alarm-free: the same, without an alarm.
    let off = cfg_with(|c| c.alarm_mode = AlarmMode::Off);
    let d =
        tick_with(&off, 12, std::slice::from_ref(&before), &obs().lookup("alice", Some(desc("alice2", S::Available))));
    assert_eq!(show(&d), ["update alice: active alice2"]);
}

#[test]
fn s4_on_create_result_retries_looks_up_or_backs_off() {
    let now = 20;
    let exists = || Outcome::Refused { code: RESOURCE_EXISTS.into(), message: "exists".into() };
    let throttled = || Outcome::Refused { code: "Throttling".into(), message: "Rate exceeded".into() };
    // (attempts, outcome, expected step, expected last_error)
    let cases: Vec<(u32, Outcome<WorkspaceId>, &[&str], Option<&str>)> = vec![
        (1, Outcome::Accepted(ws("alice2")), &["update alice: active alice2 + put-alarm alice2"], None),
        (1, Outcome::Unknown, &[], Some("old")),
        (
            1,
            exists(),
            &["update alice: creating (replaces alice, disc 0, start 10, #1, retry 20, maybe)"],
            Some("CreateWorkspaces: ResourceExists.WorkSpace: exists"),
        ),
        (
            3,
            exists(),
            &["update alice: creating (replaces alice, disc 0, start 10, #3, retry 20, maybe)"],
            Some("CreateWorkspaces: ResourceExists.WorkSpace: exists"),
        ),
        (
            1,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #1, retry 21)"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
        (
            2,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #2, retry 22)"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
        (
            3,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #3, retry 24) + notify alice"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
        (
            4,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #4, retry 28)"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
        (
            5,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #5, retry 36)"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
        (
            6,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #6, retry 50)"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
        (
            9,
            throttled(),
            &["update alice: creating (replaces alice, disc 0, start 10, #9, retry 50)"],
            Some("CreateWorkspaces: Throttling: Rate exceeded"),
        ),
    ];
    for (attempts, outcome, expected, error) in cases {
        let mut record = desk("alice").creating(attempts, now, true);
        record.last_error = Some("old".into());
        let step = reconcile::on_create_result(&record, &outcome, t(now), &cfg());
        assert_eq!(show_opt(&step), strings(expected), "#{attempts} {outcome:?}");
        let after = step.as_ref().and_then(|s| s.write.as_ref()).map(Write::record);
        let last_error = after.map_or(record.last_error.as_deref(), |r| r.last_error.as_deref());
        assert_eq!(last_error, error, "#{attempts} {outcome:?}");
        if let Some(r) = after {
            assert_eq!((r.version, r.updated_at), (record.version, t(now)), "#{attempts} {outcome:?}");
        }
        if let Some(Action::Notify(n)) = step.iter().flat_map(|s| &s.actions).find(|a| matches!(a, Action::Notify(_))) {
            assert_eq!(n.desk, key("alice"));
            assert!(n.subject.contains("d-9067083b4b/alice"), "{}", n.subject);
            assert!(
                n.message.contains("refused 3 times") && n.message.contains("Throttling: Rate exceeded"),
                "{}",
                n.message
            );
        }
    }
    // Only a Creating record takes an answer.
    for record in [desk("alice"), desk("alice").disconnected(0), desk("alice").terminating(0, 10, 1)] {
        assert_eq!(
            reconcile::on_create_result(&record, &Outcome::Accepted(ws("alice2")), t(now), &cfg()),
            None,
            "{}",
            record.phase.name()
        );
    }
}

#[test]
fn create_backoff_doubles_from_one_minute_to_at_most_thirty() {
    let cases = [(0, 1), (1, 1), (2, 2), (3, 4), (4, 8), (5, 16), (6, 30), (7, 30), (64, 30), (u32::MAX, 30)];
    for (attempts, minutes) in cases {
        assert_eq!(create_backoff(attempts), Duration::from_secs(60 * minutes), "attempt {attempts}");
    }
}

// ---------------------------------------------------------------------------------------
// L1: every WorkSpace we terminate is re-created
// ---------------------------------------------------------------------------------------

#[test]
fn l1_terminating_advances_to_creating_or_retries_after_a_fresh_check() {
    // bob: disconnected at 0, rebuild started at 10, second terminate decided at 12.
    let records = [desk("bob").terminating(0, 12, 2)];
    const CREATE: &str = "update bob: creating (replaces bob, disc 0, start 10, #1, retry NOW+10, maybe) + create bob";
    const RETRY: &str = "update bob: terminating bob (disc 0, start 10, req NOW, #3) + terminate bob";
    let cases: [(&str, i64, Obs, &[&str]); 16] = [
        ("gone (targeted describe)", 14, obs().gone("bob"), &[CREATE]),
        ("gone (fleet listing)", 14, obs().fleet(), &[CREATE]),
        ("gone right after the call: no visibility wait for an old WorkSpace", 12, obs().gone("bob"), &[CREATE]),
        ("not read", 30, obs().conn("bob", C::Disconnected, None), &[]),
        ("terminating", 30, due_bob(S::Terminating, C::Disconnected, None), &[]),
        ("terminated, still listed", 30, due_bob(S::Terminated, C::Unknown, None), &[]),
        // Our call was accepted: a (stale) CONNECTED read must not abort it (L1).
        ("terminating while a connection shows", 30, due_bob(S::Terminating, C::Connected, Some(13)), &[]),
        ("terminating, user came back and left", 30, due_bob(S::Terminating, C::Disconnected, Some(13)), &[]),
        ("untouched, within the retry window", 14, due_bob(S::Available, C::Disconnected, None), &[]),
        ("untouched after the window, still away", 15, due_bob(S::Available, C::Disconnected, None), &[RETRY]),
        ("untouched, stopped and UNKNOWN", 15, due_bob(S::Stopped, C::Unknown, None), &[RETRY]),
        (
            "untouched, user connected: abort and re-arm the alarm a sweep may have removed",
            15,
            due_bob(S::Available, C::Connected, Some(-30)),
            &["update bob: active bob + put-alarm bob"],
        ),
        (
            "untouched, user came back and left",
            15,
            due_bob(S::Available, C::Disconnected, Some(13)),
            &["update bob: disconnected bob @15"],
        ),
        ("untouched, UNKNOWN while AVAILABLE: wait", 15, due_bob(S::Available, C::Unknown, None), &[]),
        ("untouched, SUSPENDED: wait", 15, due_bob(S::Suspended, C::Disconnected, None), &[]),
        ("untouched, connection not read", 15, obs().described("bob", S::Available), &[]),
    ];
    for (what, now, o, expected) in cases {
        let d = tick(now, &records, &o);
        let expected: Vec<String> = expected
            .iter()
            .map(|e| e.replace("NOW+10", &(now + 10).to_string()).replace("NOW", &now.to_string()))
            .collect();
        assert_eq!(show(&d), expected, "{what}");
    }
}

#[test]
fn l1_a_retry_never_comes_before_the_grace_period_ends() {
    // A record written by a function with a skewed clock (or by hand): terminate decided
    // at 5 for a disconnect at 10. The retry check waits for the grace period too.
    let records = [desk("bob").terminating(10, 5, 1)];
    let away = due_bob(S::Available, C::Disconnected, None);
    let cases: [(i64, &[&str]); 3] =
        [(8, &[]), (19, &[]), (20, &["update bob: terminating bob (disc 10, start 20, req 20, #2) + terminate bob"])];
    for (now, expected) in cases {
        assert_eq!(show(&tick(now, &records, &away)), strings(expected), "at {now}");
    }
}

#[test]
fn l1_terminate_results_roll_back_only_what_certainly_did_not_happen() {
    let mut record = desk("bob").terminating(0, 12, 2);
    record.version = 8;
    let refused = Outcome::Refused { code: "InvalidResourceState".into(), message: "busy".into() };
    let back = reconcile::on_terminate_result(&record, &refused, t(12)).unwrap();
    assert_eq!(
        back.phase,
        Phase::Disconnected { workspace_id: ws("bob"), at: t(0) },
        "due again, at the original disconnect"
    );
    assert_eq!(back.last_error.as_deref(), Some("TerminateWorkspaces: InvalidResourceState: busy"));
    assert_eq!((back.version, back.updated_at, &back.spec), (8, t(12), &record.spec));
    for outcome in [Outcome::Accepted(()), Outcome::Unknown] {
        assert_eq!(reconcile::on_terminate_result(&record, &outcome, t(12)), None, "{outcome:?}");
    }
    for other in [desk("bob"), desk("bob").disconnected(0), desk("bob").creating(1, 20, true)] {
        assert_eq!(reconcile::on_terminate_result(&other, &refused, t(12)), None, "{}", other.phase.name());
    }
    // The next tick re-checks everything and terminates again.
    let d = tick(13, &[Record { version: 9, ..back }], &due_bob(S::Available, C::Disconnected, None));
    assert_eq!(show(&d), ["update bob: terminating bob (disc 0, start 13, req 13, #1) + terminate bob"]);
}

/// A tiny WorkSpaces service for end-to-end ticks: terminations take 5 minutes, creates
/// succeed at once, and some answers can be lost.
#[derive(Default)]
struct World {
    workspaces: BTreeMap<WorkspaceId, (S, WorkspaceSpec, Option<Timestamp>)>,
    created: usize,
    terminate_calls: usize,
    create_calls: usize,
    lose_first_terminate: bool,
    lose_first_create_answer: bool,
    refuse_first_create: bool,
}

impl World {
    fn observe(&self, plan: &ReadPlan) -> Observations {
        let mut o = Observations::default();
        for id in &plan.describe {
            o.described.insert(id.clone());
            if let Some((state, spec, _)) = self.workspaces.get(id) {
                let mut spec = spec.clone();
                spec.tags = Tags::default();
                o.workspaces.insert(
                    id.clone(),
                    WorkspaceDescription { id: id.clone(), state: *state, spec, computer_name: None },
                );
            }
        }
        for id in &plan.connections {
            if self.workspaces.contains_key(id) {
                let last = (id == &ws("alice")).then(|| t(-30));
                o.connections.insert(
                    id.clone(),
                    ConnectionObservation {
                        id: id.clone(),
                        state: C::Disconnected,
                        checked_at: None,
                        last_user_connection: last,
                    },
                );
            }
        }
        for id in &plan.tags {
            if let Some((_, spec, _)) = self.workspaces.get(id) {
                o.tags.insert(id.clone(), spec.tags.clone());
            }
        }
        for desk in &plan.desks {
            let found = self.workspaces.iter().find(|(_, (_, s, _))| &s.desk() == desk);
            o.desks.insert(
                desk.clone(),
                found.map(|(id, (state, spec, _))| WorkspaceDescription {
                    id: id.clone(),
                    state: *state,
                    spec: spec.clone(),
                    computer_name: None,
                }),
            );
        }
        o
    }
}

/// Drives alice's desk from a disconnect at minute 1 through ticks at minutes 0..=60,
/// executing every step as the shell does. Returns the final record and the world.
fn run_lifecycle(mut world: World) -> (Record, World) {
    world.workspaces.insert(ws("alice"), (S::Available, spec("alice"), None));
    let config = cfg();
    let mut store: BTreeMap<DeskKey, Record> = [(key("alice"), Record { version: 1, ..desk("alice") })].into();
    for minute in 0..=60 {
        let now = t(minute);
        world.workspaces.retain(|_, (_, _, vanish)| vanish.is_none_or(|v| v > now));
        if minute == 1 {
            let r = store[&key("alice")].clone();
            let step = reconcile::on_disconnect_alarm(&r, &ws("alice"), t(1), now).unwrap();
            store_write(&mut store, step.write.as_ref().unwrap()).unwrap();
        }
        let records: Vec<Record> = store.values().cloned().collect();
        // As the shell does: a lost terminate's re-check is read after the describes show it.
        let mut plan = reconcile::plan_reads(now, &config, &records, false);
        let described = world.observe(&ReadPlan { describe: plan.describe.clone(), ..ReadPlan::default() });
        plan.connections.extend(reconcile::lost_terminates(now, &config, &records, &plan.describe, &described));
        let o = world.observe(&plan);
        let mut round = reconcile::decide(now, &config, &records, &o).steps;
        while !round.is_empty() {
            let mut next_round = Vec::new();
            for step in round {
                let stored = match &step.write {
                    Some(w) => store_write(&mut store, w).unwrap(),
                    None => None,
                };
                for action in &step.actions {
                    match action {
                        Action::Terminate(id) => {
                            world.terminate_calls += 1;
                            let outcome = if std::mem::take(&mut world.lose_first_terminate) {
                                Outcome::Unknown // the call never reached AWS
                            } else {
                                let w = world.workspaces.get_mut(id).unwrap();
                                assert!(w.0.can_terminate(), "terminated in state {}", w.0);
                                *w = (S::Terminating, w.1.clone(), Some(now + Duration::from_secs(300)));
                                Outcome::Accepted(())
                            };
                            let r = stored.as_ref().unwrap();
                            if let Some(next) = reconcile::on_terminate_result(r, &outcome, now) {
                                store_write(&mut store, &Write::Update(next)).unwrap();
                            }
                        }
                        Action::Create(spec) => {
                            world.create_calls += 1;
                            let outcome = if std::mem::take(&mut world.refuse_first_create) {
                                Outcome::Refused { code: "Throttling".into(), message: "Rate exceeded".into() }
                            } else if world.workspaces.values().any(|(_, s, _)| s.desk() == spec.desk()) {
                                Outcome::Refused { code: RESOURCE_EXISTS.into(), message: "exists".into() }
                            } else {
                                world.created += 1;
                                let id = ws(&format!("alice{}", world.created + 1));
                                world.workspaces.insert(id.clone(), (S::Pending, (**spec).clone(), None));
                                if std::mem::take(&mut world.lose_first_create_answer) {
                                    Outcome::Unknown
                                } else {
                                    Outcome::Accepted(id)
                                }
                            };
                            next_round.extend(reconcile::on_create_result(
                                stored.as_ref().unwrap(),
                                &outcome,
                                now,
                                &config,
                            ));
                        }
                        Action::PutAlarm(_)
                        | Action::DeleteAlarm(_)
                        | Action::DeleteLegacyAlarm(_)
                        | Action::Notify(_) => {}
                    }
                }
            }
            round = next_round;
        }
    }
    (store[&key("alice")].clone(), world)
}

#[test]
fn l1_s4_a_rebuild_completes_exactly_once_across_lost_calls_and_answers() {
    // (lose first terminate, lose first create answer, refuse first create,
    //  terminate calls, create calls, minute the rebuild finished)
    let cases = [
        (false, false, false, 1, 1, 16),
        (true, false, false, 2, 1, 19), // retried 3 minutes after the lost call
        (false, true, false, 1, 1, 26), // found by the look-up a visibility window later
        (false, false, true, 1, 2, 17), // backed off one minute
        (true, true, true, 2, 2, 30),
    ];
    for (lose_t, lose_c, refuse_c, terminates, creates, finished) in cases {
        let world = World {
            lose_first_terminate: lose_t,
            lose_first_create_answer: lose_c,
            refuse_first_create: refuse_c,
            ..World::default()
        };
        let what = format!("lose terminate {lose_t}, lose create answer {lose_c}, refuse create {refuse_c}");
        let (record, world) = run_lifecycle(world);
        assert_eq!(record.phase, Phase::Active { workspace_id: ws("alice2") }, "{what}");
        assert_eq!(record.rebuilds, 1, "{what}");
        let summary = record.last_rebuild.as_ref().unwrap();
        assert_eq!((summary.disconnected_at, summary.started_at), (t(1), t(11)), "{what}");
        assert_eq!(m(summary.finished_at), finished.to_string(), "{what}");
        assert_eq!(world.created, 1, "{what}: exactly one new WorkSpace (S4)");
        assert_eq!(world.workspaces.keys().map(name).collect::<Vec<_>>(), ["alice2"], "{what}");
        assert_eq!((world.terminate_calls, world.create_calls), (terminates, creates), "{what}");
        assert_eq!(world.workspaces[&ws("alice2")].1, spec("alice"), "{what}: same spec (S3)");
    }
}

// ---------------------------------------------------------------------------------------
// The in-flight cap
// ---------------------------------------------------------------------------------------

#[test]
fn in_flight_cap_serves_the_oldest_disconnects_first() {
    // Five due desks, listed out of disconnect order.
    let due = [("amy", 4), ("ben", 1), ("cat", 3), ("dan", 0), ("eve", 2)];
    let mut o = obs();
    for (user, _) in due {
        o = o.described(user, S::Available).managed(user).conn(user, C::Disconnected, None);
    }
    // (cap, desks already rebuilding, expected terminations)
    let cases: [(usize, usize, &[&str]); 6] = [
        (2, 0, &["ben", "dan"]),
        (1, 0, &["dan"]),
        (2, 1, &["dan"]),
        (2, 2, &[]),
        (3, 0, &["ben", "dan", "eve"]),
        (500, 0, &["amy", "ben", "cat", "dan", "eve"]),
    ];
    for (cap, busy, expected) in cases {
        let mut records: Vec<Record> = due.iter().map(|(u, at)| desk(u).disconnected(*at)).collect();
        for (i, user) in ["fay", "gus"].iter().take(busy).enumerate() {
            // One still terminating (not yet retryable), one creating (not yet due).
            records.push(if i == 0 { desk(user).terminating(0, 14, 1) } else { desk(user).creating(1, 30, true) });
        }
        let d = tick_with(&cfg_with(|c| c.max_in_flight_rebuilds = cap), 15, &records, &o);
        let expected: BTreeSet<String> = expected.iter().map(|s| (*s).to_owned()).collect();
        assert_eq!(terminated(&d), expected, "cap {cap}, {busy} busy");
        assert_eq!(d.steps.len(), expected.len(), "cap {cap}: the others wait without a write");
    }
}

// ---------------------------------------------------------------------------------------
// Active desks: missed disconnects, vanished WorkSpaces, replacements
// ---------------------------------------------------------------------------------------

#[test]
fn active_desks_catch_missed_disconnects_only_when_used() {
    // alice enrolled at -60; now is 0.
    let records = [desk("alice")];
    const LEFT: &str = "update alice: disconnected alice @0";
    let cases: [(&str, Obs, &[&str]); 9] = [
        ("used since enrolment, disconnected", obs().conn("alice", C::Disconnected, Some(-30)), &[LEFT]),
        ("used 1 minute after enrolment", obs().conn("alice", C::Disconnected, Some(-59)), &[LEFT]),
        ("last connection at enrolment: not used", obs().conn("alice", C::Disconnected, Some(-60)), &[]),
        ("used before enrolment only", obs().conn("alice", C::Disconnected, Some(-90)), &[]),
        ("never used", obs().conn("alice", C::Disconnected, None), &[]),
        ("connected", obs().conn("alice", C::Connected, Some(-30)), &[]),
        ("unknown (stopped)", obs().conn("alice", C::Unknown, Some(-30)), &[]),
        ("connection not read", obs(), &[]),
        (
            "someone else is terminating it",
            obs().listed("alice", S::Terminating).managed("alice").conn("alice", C::Disconnected, Some(-30)),
            &[],
        ),
    ];
    for mode in [AlarmMode::PerWorkspace, AlarmMode::Off] {
        for (what, o, expected) in &cases {
            let d = tick_with(&cfg_with(|c| c.alarm_mode = mode), 0, &records, o);
            assert_eq!(show(&d), strings(expected), "{what} ({mode:?})");
        }
    }
}

#[test]
fn active_desks_whose_workspace_vanished_are_released_or_follow_their_replacement() {
    const RELEASE: &str = "delete alice + delete-alarm alice";
    const ADOPT: &str = "update alice: active alice2 + put-alarm alice2 + delete-alarm alice";
    // (since, observations at minute 0, expected)
    let cases: [(&str, i64, Obs, &[&str]); 10] = [
        ("gone, created 5 minutes ago: may not be visible yet", -5, obs().fleet(), &[]),
        ("gone, created 9 minutes ago", -9, obs().fleet(), &[]),
        ("gone, created exactly a visibility window ago", -10, obs().fleet(), &[RELEASE]),
        ("gone long after creation", -60, obs().fleet(), &[RELEASE]),
        ("replaced (seen on a sweep)", -60, obs().listed("alice2", S::Available).managed("alice2"), &[ADOPT]),
        ("replacement still pending", -60, obs().listed("alice2", S::Pending).managed("alice2"), &[ADOPT]),
        (
            "replacement going: nothing to follow",
            -60,
            obs().listed("alice2", S::Terminating).managed("alice2"),
            &[RELEASE],
        ),
        (
            "a going and a live WorkSpace for the desk: the live one is followed",
            -60,
            obs().listed("alice1", S::Terminating).managed("alice1").listed("alice2", S::Available).managed("alice2"),
            &[ADOPT],
        ),
        ("replacement not managed", -60, obs().listed("alice2", S::Available).tagged("alice2", &[]), &[RELEASE]),
        ("young and replaced: wait", -5, obs().listed("alice2", S::Available).managed("alice2"), &[]),
    ];
    for (what, since, o, expected) in cases {
        let records = [desk("alice").since(since)];
        let d = tick(0, &records, &o);
        assert_eq!(show(&d), strings(expected), "{what}");
        if expected == [ADOPT] {
            let r = written(&d, "alice");
            assert_eq!((r.workspace_since, r.rebuilds, r.version), (t(0), 0, 3), "{what}");
            assert_eq!(r.spec.tags, tags(MANAGED), "{what}: adopted with the tags read");
        }
    }
}

// ---------------------------------------------------------------------------------------
// Sweeps: enrolment and alarm repair
// ---------------------------------------------------------------------------------------

#[test]
fn sweep_enrols_matching_unknown_workspaces() {
    let records = [desk("alice")];
    let o = obs()
        .listed("alice", S::Available)
        .managed("alice")
        .listed("zoe", S::Available) // new, managed
        .managed("zoe")
        .listed("yan", S::Available) // new, not managed
        .tagged("yan", &[("blankslate", "off")])
        .listed("xia", S::Terminating) // new but going
        .managed("xia")
        .listed("wes", S::Pending) // new, managed, still being created
        .managed("wes")
        .listed("val", S::Available); // new, tags not read
    let d = tick(0, &records, &o);
    assert_eq!(show(&d), ["insert wes: active wes + put-alarm wes", "insert zoe: active zoe + put-alarm zoe"]);
    let zoe = written(&d, "zoe");
    assert_eq!((zoe.version, zoe.workspace_since, zoe.rebuilds, &zoe.last_rebuild), (0, t(0), 0, &None));
    assert_eq!(zoe.spec.tags, tags(MANAGED));

    // Alarm-free: enrolled without an alarm.
    let d = tick_with(&cfg_with(|c| c.alarm_mode = AlarmMode::Off), 0, &records, &o);
    assert_eq!(show(&d), ["insert wes: active wes", "insert zoe: active zoe"]);

    // Not a sweep (the fleet was not listed): nothing is enrolled.
    let mut partial = o.clone();
    partial.0.fleet_listed = false;
    assert_eq!(show(&tick(0, &records, &partial)), Vec::<String>::new());
}

#[test]
fn sweep_repairs_alarms() {
    let records = [
        desk("alice"),                          // active, alarm missing
        desk("bob").disconnected(-5),           // alarm present, kept
        desk("carol").terminating(-20, -10, 1), // alarm no longer needed
        desk("dave").creating(1, 30, true),     // no WorkSpace to watch
        desk("erin"),                           // alarm present, kept
    ];
    let base = obs().described("carol", S::Terminating);
    let cases: [(&str, AlarmMode, Obs, &[&str]); 5] = [
        (
            "alarms on",
            AlarmMode::PerWorkspace,
            base.clone().alarms(&["bob", "carol", "erin", "ghost"]),
            &["put-alarm alice + delete-alarm carol + delete-alarm ghost"],
        ),
        ("all in order", AlarmMode::PerWorkspace, base.clone().alarms(&["alice", "bob", "erin"]), &[]),
        (
            "no alarms at all",
            AlarmMode::PerWorkspace,
            base.clone().alarms(&[]),
            &["put-alarm alice + put-alarm bob + put-alarm erin"],
        ),
        ("alarms not listed", AlarmMode::PerWorkspace, base.clone(), &[]),
        (
            "alarm-free: every alarm goes, none is put",
            AlarmMode::Off,
            base.clone().alarms(&["alice", "bob", "carol", "ghost"]),
            &["delete-alarm alice + delete-alarm bob + delete-alarm carol + delete-alarm ghost"],
        ),
    ];
    for (what, mode, o, expected) in cases {
        let d = tick_with(&cfg_with(|c| c.alarm_mode = mode), 0, &records, &o);
        assert_eq!(show(&d), strings(expected), "{what}");
        assert!(d.steps.iter().all(|s| s.write.is_none()), "{what}: alarm repair writes nothing");
    }
}

#[test]
fn sweep_alarm_repair_accounts_for_this_ticks_writes() {
    // zoe is enrolled (its alarm is put by its own step, not twice); bob is due and
    // terminated (its alarm is no longer wanted); alice is adopted onto alice2.
    let records = [desk("alice"), desk("bob").disconnected(-10)];
    let o = obs()
        .listed("zoe", S::Available)
        .managed("zoe")
        .listed("alice2", S::Available)
        .managed("alice2")
        .described("bob", S::Available)
        .managed("bob")
        .conn("bob", C::Disconnected, None)
        .alarms(&["alice", "bob"]);
    let d = tick(0, &records, &o);
    assert_eq!(
        show(&d),
        [
            "update alice: active alice2 + put-alarm alice2 + delete-alarm alice",
            "update bob: terminating bob (disc -10, start 0, req 0, #1) + terminate bob",
            "insert zoe: active zoe + put-alarm zoe",
            // No unconditional repair: desks written this tick look after their own alarms
            // (bob's goes with the TerminateWorkspaces event), and only if the write holds.
        ]
    );
}

fn stack(name: &str) -> Owner {
    Owner::Stack(StackName::new(name).unwrap())
}

#[test]
fn a_stack_repairs_only_its_own_alarms_and_adopts_the_seeds_naming() {
    // Stack "lab" manages alice, bob and carol. Stack "exam" has alarms of its own, on
    // WorkSpaces lab does not manage; the seed's naming is left from before the upgrade.
    let lab = cfg_with(|c| c.stack = Some(StackName::new("lab").unwrap()));
    let records = [desk("alice"), desk("bob"), desk("carol")];
    let o = obs()
        .listed("alice", S::Available)
        .listed("bob", S::Available)
        .listed("carol", S::Available)
        .listed("erin", S::Available)
        .alarms(&["alice", "bob", "ghost"]) // the seed's naming
        .alarms_of(stack("lab"), &["bob", "lost"])
        .alarms_of(stack("exam"), &["erin", "ghost2"]);
    let d = tick_with(&lab, 0, &records, &o);
    assert_eq!(
        show(&d),
        [
            // alice: adopted (lab's own first; the old one goes at a sweep that sees both);
            // carol: missing. lost: lab's orphan. bob: lab's exists, so the old one goes;
            // ghost: the seed's naming on a WorkSpace that is gone. exam's are not lab's.
            "put-alarm alice + put-alarm carol + delete-alarm lost + delete-legacy-alarm bob + delete-legacy-alarm ghost"
        ]
    );
    // Without a stack name the seed's naming is the deployment's own, as before; lab's
    // alarm on bob is then another stack's claim on him.
    let d = tick(0, &records, &o);
    assert_eq!(show(&d), ["update bob: active bob", "put-alarm carol + delete-alarm ghost"]);
    assert_eq!(written(&d, "bob").claimed_by, Some(StackName::new("lab").unwrap()));
}

#[test]
fn a_workspace_two_stacks_claim_is_rebuilt_by_neither_until_one_lets_go() {
    let lab = cfg_with(|c| c.stack = Some(StackName::new("lab").unwrap()));
    let records = [desk("alice"), desk("bob")];
    let sweep = obs()
        .listed("alice", S::Available)
        .listed("bob", S::Available)
        .alarms_of(stack("lab"), &["alice", "bob"])
        .alarms_of(stack("exam"), &["alice"]);
    let d = tick_with(&lab, 0, &records, &sweep);
    assert_eq!(show(&d), ["update alice: active alice"]);
    let claimed = written(&d, "alice").clone();
    assert_eq!(claimed.claimed_by, Some(StackName::new("exam").unwrap()));

    // Due after a disconnect: alice is held (nothing read, nothing terminated), bob goes.
    let disconnected = [
        Record { phase: Phase::Disconnected { workspace_id: ws("alice"), at: t(0) }, ..claimed.clone() },
        desk("bob").disconnected(0),
    ];
    let plan = reconcile::plan_reads(t(30), &lab, &disconnected, false);
    assert_eq!(plan.describe, [ws("bob")], "a held desk costs no call");
    let due = obs()
        .described("alice", S::Available)
        .managed("alice")
        .conn("alice", C::Disconnected, None)
        .described("bob", S::Available)
        .managed("bob")
        .conn("bob", C::Disconnected, None);
    assert_eq!(terminated(&tick_with(&lab, 30, &disconnected, &due)), ["bob".to_owned()].into());

    // exam's selector lets go of alice (its alarm goes): the next sweep frees her.
    let freed = obs().listed("alice", S::Available).alarms_of(stack("lab"), &["alice"]);
    let d = tick_with(&lab, 40, &disconnected[..1], &freed);
    assert_eq!(show(&d), ["update alice: disconnected alice @0"]);
    assert_eq!(written(&d, "alice").claimed_by, None);
}

// ---------------------------------------------------------------------------------------
// Event decisions
// ---------------------------------------------------------------------------------------

#[test]
fn disconnect_alarms_start_the_grace_period_once() {
    // (record, alarm for, alarm time, expected); the handler runs at minute 7.
    let cases: [(&str, Record, &str, i64, &[&str]); 13] = [
        ("active", desk("alice"), "alice", 5, &["update alice: disconnected alice @5"]),
        // The datapoint's period ended before the login: the login answered that disconnect.
        ("alarm whose period ended before the last login", desk("alice").logged_in(6), "alice", 5, &[]),
        ("alarm whose period ended at the last login", desk("alice").logged_in(5), "alice", 5, &[]),
        (
            "alarm whose period ended after the last login",
            desk("alice").logged_in(4),
            "alice",
            5,
            &["update alice: disconnected alice @5"],
        ),
        (
            "newer alarm during grace: came back and left again",
            desk("alice").disconnected(2),
            "alice",
            5,
            &["update alice: disconnected alice @5"],
        ),
        ("alarm at the enrolment instant", desk("alice"), "alice", -60, &["update alice: disconnected alice @-60"]),
        ("alarm older than the WorkSpace's record", desk("alice"), "alice", -61, &[]),
        ("alarm of the replaced WorkSpace", desk("alice"), "alice1", 5, &[]),
        ("repeated alarm", desk("alice").disconnected(5), "alice", 5, &[]),
        ("older alarm", desk("alice").disconnected(5), "alice", 2, &[]),
        ("terminating", desk("alice").terminating(0, 6, 1), "alice", 5, &[]),
        ("creating", desk("alice").creating(1, 20, true), "alice", 5, &[]),
        (
            "late alarm, still newer than the record",
            desk("alice").since(-2),
            "alice",
            -1,
            &["update alice: disconnected alice @-1"],
        ),
    ];
    for (what, record, id, at, expected) in cases {
        let step = reconcile::on_disconnect_alarm(&record, &ws(id), t(at), t(7));
        assert_eq!(show_opt(&step), strings(expected), "{what}");
        if let Some(s) = &step {
            let r = s.write.as_ref().unwrap().record();
            assert_eq!((r.version, r.updated_at), (record.version, t(7)), "{what}");
            assert!(s.actions.is_empty(), "{what}");
        }
    }
}

#[test]
fn logins_end_the_grace_period_only_when_after_the_disconnect() {
    let cases: [(&str, Record, &str, i64, &[&str]); 10] = [
        ("login after the disconnect", desk("alice").disconnected(5), "alice", 7, &["update alice: active alice"]),
        ("a repeated login", desk("alice").disconnected(5).logged_in(7), "alice", 7, &[]),
        ("an older login than the last one", desk("alice").logged_in(9), "alice", 7, &[]),
        ("a login before the WorkSpace existed", desk("alice"), "alice", -61, &[]),
        ("login at the disconnect", desk("alice").disconnected(5), "alice", 5, &["update alice: active alice"]),
        ("stale login before the disconnect", desk("alice").disconnected(5), "alice", 4, &[]),
        ("login to another WorkSpace", desk("alice").disconnected(5), "alice1", 7, &[]),
        // Remembered, so that an alarm arriving after it about an earlier disconnect is stale.
        ("already active: remembered", desk("alice"), "alice", 7, &["update alice: active alice"]),
        ("terminating: too late for a hint", desk("alice").terminating(0, 10, 1), "alice", 11, &[]),
        ("creating", desk("alice").creating(1, 20, true), "alice", 11, &[]),
    ];
    for (what, record, id, at, expected) in cases {
        let step = reconcile::on_login(&record, &ws(id), t(at), t(12));
        assert_eq!(show_opt(&step), strings(expected), "{what}");
        if let Some(s) = &step {
            assert_eq!(s.write.as_ref().unwrap().record().last_login, Some(t(at)), "{what}");
        }
    }
}

/// S1 from the alarm to the terminate: the grace period runs from the end of the
/// datapoint's period, never from before the real disconnect, and a user who came back
/// after the datapoint (before grace ends) is never terminated, whatever the login events
/// said or failed to say: the connection read right before terminating decides.
#[test]
fn s1_a_user_back_after_the_datapoint_is_never_terminated() {
    use blankslate_core::events::{alarm_message, parse_alarm_message, AlarmTime, EmitContext, Event};
    let second = |s: i64| Timestamp::from_millis(t(0).as_millis() + s * 1000);
    let ctx = EmitContext { account: "715757123466".into(), region: "us-east-1".into(), event_id: "e".into() };
    // Bob's session (from minute -30) ends at 0:20; the datapoint is the period from 0:00, the
    // alarm changes state at 1:31.
    let (real_disconnect, datapoint, changed) = (second(20), t(0), second(91));
    let message =
        alarm_message("Workspace_Disconnected_id_ws-bob00000", &ws("bob"), "ALARM", "OK", changed, datapoint, &ctx);
    let Ok(Some(Event::DisconnectAlarm { workspace_id, at, time_from })) = parse_alarm_message(&message) else {
        panic!("not a disconnect: {message}");
    };
    assert_eq!((at, time_from), (t(1), AlarmTime::ReasonText), "the end of the datapoint's period");
    assert!(at >= real_disconnect && at < changed, "grace never shortened, and earlier than before");
    let step = reconcile::on_disconnect_alarm(&desk("bob"), &workspace_id, at, second(92)).expect("grace starts");
    let bob = step.write.unwrap().record().clone();
    assert_eq!(show_phase(&bob.phase), "disconnected bob @1");
    let records = [bob];

    // Nothing is terminated before grace from the recorded time, even once grace from the real
    // disconnect (10:20) has passed.
    let away = due_bob(S::Available, C::Disconnected, Some(-30));
    for now in [second(620), second(659)] {
        assert!(terminated(&reconcile::decide(now, &cfg(), &records, &away.0)).is_empty(), "at {}", m(now));
    }
    // Back after the datapoint, before grace ends: kept (connected), or given a new grace
    // period (came back at 4 and left again), never terminated.
    let cases: [(C, Option<i64>, &str); 5] = [
        (C::Connected, Some(4), "update bob: active bob"),
        (C::Connected, Some(-30), "update bob: active bob"),
        (C::Disconnected, Some(4), "update bob: disconnected bob @11"),
        (C::Disconnected, Some(0), "update bob: disconnected bob @11"),
        (C::Unknown, Some(4), "update bob: disconnected bob @11"),
    ];
    for (conn, last, expected) in cases {
        let d = tick(11, &records, &due_bob(S::Available, conn, last));
        assert_eq!(show(&d), strings(&[expected]), "{conn} last {last:?}");
    }
    // Away since the disconnect: terminated once grace from the recorded time is over.
    let d = tick(11, &records, &away);
    assert_eq!(terminated(&d), BTreeSet::from(["bob".to_owned()]));
}

#[test]
fn foreign_terminations_release_the_desk_ours_change_nothing() {
    const RELEASE: &str = "delete alice + delete-alarm alice";
    let cases: [(&str, Record, &str, &[&str]); 6] = [
        ("admin terminated an active desk", desk("alice"), "alice", &[RELEASE]),
        ("admin terminated a disconnected desk", desk("alice").disconnected(3), "alice", &[RELEASE]),
        ("another WorkSpace", desk("alice"), "alice1", &[]),
        ("our own termination", desk("alice").terminating(0, 10, 1), "alice", &[]),
        ("our own, late event while creating", desk("alice").creating(1, 20, true), "alice", &[]),
        ("the replaced WorkSpace, after the rebuild", desk("alice2"), "alice", &[]),
    ];
    for (what, record, id, expected) in cases {
        let step = reconcile::on_terminated(&record, &ws(id));
        assert_eq!(show_opt(&step), strings(expected), "{what}");
        if let Some(Step { write: Some(w), .. }) = &step {
            assert_eq!(w, &Write::Delete(record.clone()), "{what}: conditional on the version read");
            assert!(!step
                .as_ref()
                .unwrap()
                .actions
                .iter()
                .any(|a| matches!(a, Action::Terminate(_) | Action::Create(_))));
        }
    }
}

#[test]
fn workspace_seen_completes_adopts_or_only_arms_the_alarm() {
    let managed = tags(MANAGED);
    let off = cfg_with(|c| c.alarm_mode = AlarmMode::Off);
    let cases: [(&str, &Config, Record, WorkspaceDescription, &[&str]); 10] = [
        (
            "creating: our create's event",
            &cfg(),
            desk("alice").creating(1, 20, true),
            desc("alice2", S::Pending),
            &["update alice: active alice2 + put-alarm alice2"],
        ),
        ("creating: going WorkSpace", &cfg(), desk("alice").creating(1, 20, true), desc("alice2", S::Terminating), &[]),
        (
            "terminating: someone created the next WorkSpace first",
            &cfg(),
            desk("alice").terminating(0, 10, 1),
            desc("alice2", S::Pending),
            &["update alice: active alice2 + put-alarm alice2"],
        ),
        (
            "active, same WorkSpace: only the alarm",
            &cfg(),
            desk("alice"),
            desc("alice", S::Available),
            &["put-alarm alice"],
        ),
        (
            "disconnected, same WorkSpace",
            &cfg(),
            desk("alice").disconnected(3),
            desc("alice", S::Available),
            &["put-alarm alice"],
        ),
        ("same WorkSpace, alarm-free", &off, desk("alice"), desc("alice", S::Available), &[]),
        ("same WorkSpace, going", &cfg(), desk("alice"), desc("alice", S::Terminating), &[]),
        (
            "active, replaced",
            &cfg(),
            desk("alice"),
            desc("alice2", S::Available),
            &["update alice: active alice2 + put-alarm alice2 + delete-alarm alice"],
        ),
        (
            "disconnected, replaced",
            &cfg(),
            desk("alice").disconnected(3),
            desc("alice2", S::Available),
            &["update alice: active alice2 + put-alarm alice2 + delete-alarm alice"],
        ),
        (
            "replaced, alarm-free",
            &off,
            desk("alice"),
            desc("alice2", S::Available),
            &["update alice: active alice2 + delete-alarm alice"],
        ),
    ];
    for (what, config, record, seen, expected) in cases {
        let step = reconcile::on_workspace_seen(t(12), config, Some(&record), &seen, Some(&managed));
        assert_eq!(show_opt(&step), strings(expected), "{what}");
        if let Some(Step { write: Some(w), .. }) = &step {
            let r = w.record();
            let rebuilt = matches!(record.phase, Phase::Creating { .. } | Phase::Terminating { .. });
            assert_eq!(r.rebuilds, u32::from(rebuilt), "{what}");
            assert_eq!(
                r.last_rebuild.as_ref().map(|s| name(&s.old_workspace_id)),
                rebuilt.then(|| "alice".to_owned()),
                "{what}"
            );
            assert_eq!((r.workspace_since, r.version), (t(12), record.version), "{what}");
        }
        if expected.len() == 1 && expected[0].starts_with("put-alarm") {
            assert!(step.unwrap().write.is_none(), "{what}: no journal write");
        }
    }
}

// ---------------------------------------------------------------------------------------
// batches, wake-ups
// ---------------------------------------------------------------------------------------

#[test]
fn batches_split_into_calls_of_at_most_twenty_five() {
    let cases: [(usize, usize, &[usize]); 10] = [
        (0, 25, &[]),
        (1, 25, &[1]),
        (25, 25, &[25]),
        (26, 25, &[25, 1]),
        (51, 25, &[25, 25, 1]),
        (7, 3, &[3, 3, 1]),
        (3, 0, &[1, 1, 1]),       // clamped up to 1
        (60, 100, &[25, 25, 10]), // clamped down to 25
        (26, 26, &[25, 1]),
        (2, 1, &[1, 1]),
    ];
    for (n, size, expected) in cases {
        let items: Vec<usize> = (0..n).collect();
        let out = batches(items.clone(), size);
        assert_eq!(out.iter().map(Vec::len).collect::<Vec<_>>(), expected, "{n} items by {size}");
        assert_eq!(out.concat(), items, "{n} items by {size}: order kept, nothing lost");
    }
}

#[test]
fn next_wakeup_is_the_earliest_pending_deadline() {
    // (records, now, expected wake-up minute)
    let cases: [(&str, Vec<Record>, i64, Option<i64>); 5] = [
        ("only active desks", vec![desk("alice")], 0, None),
        ("grace ends at 15", vec![desk("alice").disconnected(5)], 6, Some(15)),
        ("retry check at 7", vec![desk("alice").disconnected(5), desk("bob").terminating(0, 4, 1)], 6, Some(7)),
        ("create retry at 9", vec![desk("alice").disconnected(5), desk("bob").creating(1, 9, false)], 6, Some(9)),
        (
            "the earliest of all",
            vec![desk("alice").disconnected(5), desk("bob").terminating(0, 8, 1), desk("carol").creating(1, 12, true)],
            6,
            Some(11),
        ),
    ];
    for (what, records, now, expected) in cases {
        let d = tick(now, &records, &obs());
        assert_eq!(d.next_wakeup, expected.map(t), "{what}");
        assert!(d.steps.is_empty(), "{what}");
    }
}

#[test]
fn next_wakeup_accounts_for_this_ticks_writes() {
    // bob is due at 10 and terminated now: the next deadline is his retry check (10 + 3),
    // not the grace deadline that has just passed.
    let d = tick(10, &[desk("bob").disconnected(0)], &due_bob(S::Available, C::Disconnected, None));
    assert_eq!(show(&d), strings(&[TERM_BOB]));
    assert_eq!(d.next_wakeup, Some(t(13)));
    // A released desk has no deadline left.
    let d = tick(10, &[desk("bob").disconnected(0)], &obs().gone("bob"));
    assert_eq!(d.next_wakeup, None, "{:?}", show(&d));
}

// ---------------------------------------------------------------------------------------
// Idempotence: deciding again on the same observations repeats nothing destructive
// ---------------------------------------------------------------------------------------

#[test]
fn deciding_twice_on_the_same_observations_repeats_no_terminate_or_create() {
    let due5: Vec<Record> =
        ["amy", "ben", "cat", "dan", "eve"].iter().zip(0..).map(|(u, at)| desk(u).disconnected(at)).collect();
    let mut due5_obs = obs();
    for u in ["amy", "ben", "cat", "dan", "eve"] {
        due5_obs = due5_obs.described(u, S::Available).managed(u).conn(u, C::Disconnected, None);
    }
    let capped = cfg_with(|c| c.max_in_flight_rebuilds = 2);
    let alarm_free = cfg_with(|c| c.alarm_mode = AlarmMode::Off);
    // (what, config, now, records, observations, destructive actions of the first decision)
    let cases: Vec<(&str, Config, i64, Vec<Record>, Obs, usize)> = vec![
        (
            "due disconnect terminated",
            cfg(),
            10,
            vec![desk("bob").disconnected(0)],
            due_bob(S::Available, C::Disconnected, None),
            1,
        ),
        ("terminated WorkSpace gone", cfg(), 14, vec![desk("bob").terminating(0, 10, 1)], obs().gone("bob"), 1),
        (
            "lost terminate retried",
            cfg(),
            13,
            vec![desk("bob").terminating(0, 10, 1)],
            due_bob(S::Available, C::Disconnected, None),
            1,
        ),
        (
            "lost terminate, user back",
            cfg(),
            13,
            vec![desk("bob").terminating(0, 10, 1)],
            due_bob(S::Available, C::Connected, None),
            0,
        ),
        (
            "lost create found",
            cfg(),
            10,
            vec![desk("alice").creating(1, 10, true)],
            obs().lookup("alice", Some(desc("alice2", S::Pending))),
            0,
        ),
        ("lost create not found", cfg(), 10, vec![desk("alice").creating(1, 10, true)], obs().lookup("alice", None), 1),
        ("refused create retried", cfg(), 10, vec![desk("alice").creating(1, 10, false)], obs(), 1),
        ("in-flight cap", capped, 15, due5, due5_obs, 2),
        (
            "user came back",
            cfg(),
            10,
            vec![desk("bob").disconnected(0)],
            due_bob(S::Available, C::Disconnected, Some(4)),
            0,
        ),
        (
            "sweep: enrol, adopt, release, missed disconnect, alarms",
            cfg(),
            0,
            vec![desk("alice"), desk("carol"), desk("dave").since(-30)],
            obs()
                .listed("alice2", S::Available)
                .managed("alice2")
                .listed("zoe", S::Available)
                .managed("zoe")
                .listed("dave", S::Available)
                .managed("dave")
                .conn("dave", C::Disconnected, Some(-5))
                .alarms(&["alice", "carol", "ghost"]),
            0,
        ),
        (
            "alarm-free missed disconnect",
            alarm_free,
            0,
            vec![desk("alice")],
            obs().conn("alice", C::Disconnected, Some(-5)),
            0,
        ),
    ];
    for (what, config, now, records, o, destructive) in cases {
        let d1 = tick_with(&config, now, &records, &o);
        assert_eq!(count_destructive(&d1), destructive, "{what}: first decision {:?}", show(&d1));
        assert!(d1.steps.iter().any(|s| s.write.is_some()), "{what}: the first decision writes something");
        let records2 = apply(&records, &d1.steps);
        let d2 = tick_with(&config, now, &records2, &o);
        assert_eq!(count_destructive(&d2), 0, "{what}: second decision {:?}", show(&d2));
        assert!(d2.steps.iter().all(|s| s.write.is_none()), "{what}: second decision writes {:?}", show(&d2));
        // Later ticks, still on the same (now stale) observations, never repeat a terminate
        // before the retry window nor a create before the visibility window.
        let d3 = tick_with(&config, now + 2, &records2, &o);
        assert_eq!(count_destructive(&d3), 0, "{what}: two minutes later {:?}", show(&d3));
    }
}

/// A bulk tag read (GetResources) returns only tagged WorkSpaces: one left out is taken
/// as untagged only when the journal does not know it as tagged; a managed desk recorded
/// with tags is read again through DescribeTags (a lagging index must not strip its tags
/// from the re-create, S3, or release it as unselected, S2).
#[test]
fn what_a_bulk_tag_read_leaves_out() {
    let tagged = desk("alice").disconnected(0);
    let mut untagged = desk("bob").disconnected(0);
    untagged.spec.tags = Tags::default();
    let records = [tagged, untagged, desk("carol")];
    let asked = [ws("alice"), ws("bob"), ws("carol"), ws("dave")];
    let answer: BTreeMap<WorkspaceId, Tags> =
        [(ws("carol"), tags(&[("blankslate", "off")])), (ws("zed"), tags(MANAGED))].into_iter().collect();

    let (known, confirm) = reconcile::settle_bulk_tags(&records, &asked, answer);
    assert_eq!(confirm, [ws("alice")], "recorded with tags, left out: not known yet");
    assert_eq!(known.get(&ws("carol")), Some(&tags(&[("blankslate", "off")])), "what the answer says wins");
    assert_eq!(known.get(&ws("bob")), Some(&Tags::default()), "recorded untagged and left out: untagged");
    assert_eq!(known.get(&ws("dave")), Some(&Tags::default()), "not managed, left out: untagged");
    assert!(!known.contains_key(&ws("alice")), "nothing is decided on alice's tags before DescribeTags");
    assert!(!known.contains_key(&ws("zed")), "an answer for an ID not asked for is dropped");
}
