//! The pure side of `blankslate status`, `history` and `rebuild`: next actions forecast
//! with the reconciler's rules, the bounded history, and admin rebuild requests going
//! through the reconciler's path with S1 intact.
//!
//! Time is in whole minutes after `BASE` (a multiple of the 15-minute sweep period);
//! default configuration (grace 10 min) with the selector `tag:blankslate=on`.

#![allow(clippy::type_complexity)]

use std::collections::BTreeMap;

use blankslate_core::config::{AlarmMode, Config};
use blankslate_core::history::{history, Outcome};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, RebuildReason, RebuildSummary, Record, HISTORY_LIMIT};
use blankslate_core::observe::{
    ConnectionObservation, ConnectionState as C, WorkspaceDescription, WorkspaceState as S,
};
use blankslate_core::pacing::Pacing;
use blankslate_core::reconcile::{self, Action, Observations, Refusal, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::status::{fleet_status, next_action, parse_since, NextKind, StatusInput};
use blankslate_core::Timestamp;

const BASE: i64 = 1_767_225_600_000;
const MINUTE: i64 = 60_000;
const DIR: &str = "d-9067083b4b";

fn t(minute: i64) -> Timestamp {
    Timestamp::from_millis(BASE + minute * MINUTE)
}

fn ws(name: &str) -> WorkspaceId {
    WorkspaceId::new(format!("ws-{name:0<8}")).unwrap()
}

fn tags(pairs: &[(&str, &str)]) -> Tags {
    Tags::from_pairs(pairs.iter().copied()).unwrap()
}

fn spec(user: &str) -> WorkspaceSpec {
    let mut s = WorkspaceSpec::new(
        DirectoryId::new(DIR).unwrap(),
        UserName::new(user).unwrap(),
        BundleId::new("wsb-vw0mb86zg").unwrap(),
    );
    s.tags = tags(&[("blankslate", "on")]);
    s
}

fn desc(user: &str, state: S) -> WorkspaceDescription {
    let mut s = spec(user);
    s.tags = Tags::default();
    WorkspaceDescription { id: ws(user), state, spec: s, computer_name: None }
}

fn conn(user: &str, state: C, last: Option<i64>) -> ConnectionObservation {
    ConnectionObservation { id: ws(user), state, checked_at: None, last_user_connection: last.map(t) }
}

fn cfg() -> Config {
    Config::new("tag:blankslate=on".parse().unwrap())
}

/// `user`'s desk, enrolled at minute -60, in `phase`.
fn record(user: &str, phase: Phase) -> Record {
    let mut r = Record::enrol(spec(user), ws(user), t(-60));
    r.phase = phase;
    r.version = 3;
    r
}

fn active(user: &str) -> Phase {
    Phase::Active { workspace_id: ws(user) }
}

fn disconnected(user: &str, at: i64) -> Phase {
    Phase::Disconnected { workspace_id: ws(user), at: t(at) }
}

// ---------------------------------------------------------------------------------------
// status: the next action
// ---------------------------------------------------------------------------------------

#[test]
fn next_actions_follow_the_reconcilers_rules() {
    let alarm_free = Config { alarm_mode: AlarmMode::Off, ..cfg() };
    let terminating = Phase::Terminating {
        workspace_id: ws("a"),
        disconnected_at: t(0),
        started_at: t(10),
        requested_at: t(10),
        attempts: 1,
    };
    let creating = |retry: i64, maybe: bool| Phase::Creating {
        replaces: ws("a"),
        disconnected_at: t(0),
        started_at: t(10),
        attempts: 2,
        retry_at: t(retry),
        maybe_created: maybe,
    };
    // (case, config, now, phase, state, connection (state, last connect), admitted, kind, at, text contains)
    let cases: &[(
        &str,
        &Config,
        i64,
        Phase,
        Option<S>,
        Option<(C, Option<i64>)>,
        bool,
        NextKind,
        Option<i64>,
        &str,
    )] = &[
        (
            "connected",
            &cfg(),
            7,
            active("a"),
            Some(S::Available),
            Some((C::Connected, Some(5))),
            true,
            NextKind::AwaitDisconnect,
            None,
            "leaves for 10m",
        ),
        (
            "never used since enrolment",
            &cfg(),
            7,
            active("a"),
            Some(S::Available),
            Some((C::Disconnected, Some(-90))),
            true,
            NextKind::AwaitDisconnect,
            None,
            "leaves",
        ),
        (
            "missed disconnect: next sweep",
            &cfg(),
            7,
            active("a"),
            Some(S::Available),
            Some((C::Disconnected, Some(5))),
            true,
            NextKind::RecordDisconnect,
            Some(15),
            "in 8m00s",
        ),
        (
            "missed disconnect, alarm-free: next run",
            &alarm_free,
            7,
            active("a"),
            Some(S::Available),
            Some((C::Disconnected, Some(5))),
            true,
            NextKind::RecordDisconnect,
            Some(7),
            "next run",
        ),
        (
            "in grace",
            &cfg(),
            6,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Disconnected, Some(-10))),
            true,
            NextKind::Terminate,
            Some(10),
            "terminates in 4m00s (at 00:10:00) unless the user reconnects",
        ),
        (
            "in grace, back",
            &cfg(),
            6,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Connected, Some(4))),
            true,
            NextKind::Keep,
            Some(10),
            "kept when the grace period ends in 4m00s",
        ),
        (
            "in grace, came back and left",
            &cfg(),
            6,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Disconnected, Some(4))),
            true,
            NextKind::RestartGrace,
            Some(10),
            "restarts in 4m00s",
        ),
        (
            "due, came back (within the alarm lag) and left",
            &cfg(),
            11,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Disconnected, Some(-2))),
            true,
            NextKind::RestartGrace,
            None,
            "next run",
        ),
        (
            "due, WorkSpace not found",
            &cfg(),
            11,
            disconnected("a", 0),
            None,
            None,
            true,
            NextKind::WaitForState,
            None,
            "not found",
        ),
        (
            "due",
            &cfg(),
            10,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Disconnected, Some(-10))),
            true,
            NextKind::Terminate,
            None,
            "next run",
        ),
        (
            "due but back",
            &cfg(),
            11,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Connected, Some(11))),
            true,
            NextKind::Keep,
            None,
            "connected",
        ),
        (
            "due, cap reached",
            &cfg(),
            11,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Disconnected, Some(-10))),
            false,
            NextKind::WaitForSlot,
            None,
            "at most 500",
        ),
        (
            "due, suspended",
            &cfg(),
            11,
            disconnected("a", 0),
            Some(S::Suspended),
            Some((C::Disconnected, Some(-10))),
            true,
            NextKind::WaitForState,
            None,
            "SUSPENDED",
        ),
        (
            "due, unknown and running",
            &cfg(),
            11,
            disconnected("a", 0),
            Some(S::Available),
            Some((C::Unknown, None)),
            true,
            NextKind::WaitForState,
            None,
            "UNKNOWN",
        ),
        (
            "due, unknown but stopped",
            &cfg(),
            11,
            disconnected("a", 0),
            Some(S::Stopped),
            Some((C::Unknown, None)),
            true,
            NextKind::Terminate,
            None,
            "next run",
        ),
        (
            "terminate sent",
            &cfg(),
            11,
            terminating.clone(),
            Some(S::Available),
            None,
            true,
            NextKind::ConfirmTerminated,
            Some(13),
            "re-sent in 2m00s",
        ),
        (
            "terminating",
            &cfg(),
            11,
            terminating.clone(),
            Some(S::Terminating),
            None,
            true,
            NextKind::ConfirmTerminated,
            None,
            "once it is gone",
        ),
        ("terminated", &cfg(), 15, terminating, None, None, true, NextKind::Create, None, "created at the next run"),
        (
            "create backing off",
            &cfg(),
            15,
            creating(18, false),
            None,
            None,
            true,
            NextKind::Create,
            Some(18),
            "in 3m00s",
        ),
        (
            "create answer lost",
            &cfg(),
            15,
            creating(14, true),
            None,
            None,
            true,
            NextKind::LookUp,
            None,
            "looked up at the next run",
        ),
    ];
    for (case, config, now, phase, state, connection, admitted, kind, at, text) in cases {
        let r = record("a", phase.clone());
        let d = state.map(|s| desc("a", s));
        let c = connection.map(|(s, last)| conn("a", s, last));
        let next = next_action(t(*now), config, &r, d.as_ref(), c.as_ref(), *admitted);
        assert_eq!(next.kind, *kind, "{case}: {next:?}");
        assert_eq!(next.at, at.map(t), "{case}: {next:?}");
        assert!(next.text.contains(text), "{case}: {:?} lacks {text:?}", next.text);
    }
}

#[test]
fn an_admin_request_is_due_at_once_and_says_so() {
    let r = reconcile::request_rebuild(
        t(3),
        &cfg(),
        &record("a", active("a")),
        &desc("a", S::Available),
        &spec("a"),
        &conn("a", C::Disconnected, Some(1)),
        false,
    )
    .unwrap();
    let next =
        next_action(t(3), &cfg(), &r, Some(&desc("a", S::Available)), Some(&conn("a", C::Disconnected, Some(1))), true);
    assert_eq!(next.kind, NextKind::Terminate);
    assert!(next.text.contains("next run") && next.text.contains("admin request"), "{next:?}");
}

#[test]
fn the_fleet_view_counts_unmanaged_lists_unenrolled_and_honours_the_in_flight_cap() {
    let config = Config { max_in_flight_rebuilds: 2, ..cfg() };
    let terminating = |u: &str| Phase::Terminating {
        workspace_id: ws(u),
        disconnected_at: t(0),
        started_at: t(10),
        requested_at: t(10),
        attempts: 1,
    };
    let mut other = desc("zed", S::Available);
    other.spec.directory_id = DirectoryId::new("d-1111111111").unwrap();
    let input = StatusInput {
        records: vec![
            record("busy", terminating("busy")),
            record("early", disconnected("early", 0)),
            record("late", disconnected("late", 1)),
            record("alice", active("alice")),
        ],
        workspaces: vec![
            desc("busy", S::Terminating),
            desc("early", S::Available),
            desc("late", S::Available),
            desc("alice", S::Available),
            desc("newbie", S::Available),
            desc("outsider", S::Available),
            other,
        ],
        connections: [
            conn("early", C::Disconnected, Some(-5)),
            conn("late", C::Disconnected, Some(-5)),
            conn("alice", C::Connected, Some(20)),
        ]
        .into_iter()
        .map(|c| (c.id.clone(), c))
        .collect(),
        tags: BTreeMap::from([(ws("newbie"), tags(&[("blankslate", "on")])), (ws("outsider"), tags(&[("team", "x")]))]),
        pacing: Some(Pacing { throttled_ticks: 2, ..Pacing::at(1.5, t(5)) }),
    };
    let status = fleet_status(t(20), &config, &input);
    let rows: Vec<(String, &str, NextKind)> =
        status.desks.iter().map(|d| (d.user.clone(), d.phase, d.next.kind)).collect();
    assert_eq!(
        rows,
        vec![
            ("alice".into(), "active", NextKind::AwaitDisconnect),
            ("busy".into(), "terminating", NextKind::ConfirmTerminated),
            ("early".into(), "disconnected", NextKind::Terminate),
            ("late".into(), "disconnected", NextKind::WaitForSlot),
            ("newbie".into(), "unenrolled", NextKind::Enrol),
        ]
    );
    // outsider's tag does not match; zed's tags were not read, so it cannot be judged.
    assert_eq!((status.unmanaged, status.unchecked, status.in_flight, status.next_sweep), (1, 1, 1, t(30)));
    // The learned rate over the 1-minute tick, and what a stack that has learned none plans.
    let rate = status.api_rate;
    assert_eq!((rate.calls_per_tick, rate.ceiling, rate.updated_at, rate.throttled_ticks), (90, 600, Some(t(5)), 2));
    let fresh = fleet_status(t(20), &config, &StatusInput { pacing: None, ..input.clone() }).api_rate;
    assert_eq!((fresh.calls_per_tick, fresh.updated_at), (30, None));
}

#[test]
fn since_takes_an_instant_or_a_duration_back() {
    assert_eq!(parse_since("2026-01-01T00:10:00Z", t(60)).unwrap(), t(10));
    assert_eq!(parse_since("90m", t(100)).unwrap(), t(10));
    assert_eq!(parse_since("7d", t(7 * 1440)).unwrap(), t(0));
    for bad in ["", "7", "d7", "7 days", "yesterday"] {
        let err = parse_since(bad, t(0)).unwrap_err().to_string();
        assert!(err.contains("RFC 3339") && err.contains("7d"), "{bad}: {err}");
    }
}

// ---------------------------------------------------------------------------------------
// rebuild: the request, and the reconciler honouring it
// ---------------------------------------------------------------------------------------

fn request(now: i64, phase: Phase, state: S, c: (C, Option<i64>), force: bool) -> Result<Record, Refusal> {
    reconcile::request_rebuild(
        t(now),
        &cfg(),
        &record("a", phase),
        &desc("a", state),
        &spec("a"),
        &conn("a", c.0, c.1),
        force,
    )
}

#[test]
fn rebuild_requests_are_refused_as_the_reconciler_would_refuse_them() {
    let rebuilding = Phase::Creating {
        replaces: ws("a"),
        disconnected_at: t(0),
        started_at: t(1),
        attempts: 1,
        retry_at: t(2),
        maybe_created: true,
    };
    let cases: &[(&str, Phase, S, (C, Option<i64>), bool, Option<Refusal>)] = &[
        ("connected", active("a"), S::Available, (C::Connected, Some(1)), false, Some(Refusal::Connected)),
        ("connected, forced", active("a"), S::Available, (C::Connected, Some(1)), true, None),
        ("unknown", active("a"), S::Available, (C::Unknown, None), false, Some(Refusal::ConnectionUnknown)),
        ("unknown, stopped", active("a"), S::Stopped, (C::Unknown, None), false, None),
        (
            "suspended",
            active("a"),
            S::Suspended,
            (C::Disconnected, None),
            true,
            Some(Refusal::NotTerminable(S::Suspended)),
        ),
        (
            "mid-rebuild",
            rebuilding,
            S::Available,
            (C::Disconnected, None),
            true,
            Some(Refusal::AlreadyRebuilding("creating")),
        ),
        ("disconnected", disconnected("a", 2), S::Available, (C::Disconnected, Some(1)), false, None),
    ];
    for (case, phase, state, c, force, refusal) in cases {
        let got = request(5, phase.clone(), *state, *c, *force);
        match refusal {
            Some(r) => assert_eq!(got.as_ref().err(), Some(r), "{case}"),
            None => {
                let r = got.unwrap_or_else(|e| panic!("{case}: refused: {e}"));
                assert_eq!(r.phase, disconnected("a", -5), "{case}: grace already over");
                let req = r.request.as_ref().unwrap();
                assert_eq!((req.requested_at, req.force), (t(5), *force), "{case}");
                assert!(r.live_request().is_some(), "{case}");
            }
        }
    }
    let mut untagged = spec("a");
    untagged.tags = Tags::default();
    let got = reconcile::request_rebuild(
        t(5),
        &cfg(),
        &record("a", active("a")),
        &desc("a", S::Available),
        &untagged,
        &conn("a", C::Disconnected, None),
        true,
    );
    assert_eq!(got.unwrap_err(), Refusal::NotSelected);
}

/// What the reconciler reads for a requested desk: description, connection, tags.
fn observed(state: S, c: (C, Option<i64>), tag: &[(&str, &str)]) -> Observations {
    let mut o = Observations::default();
    let d = desc("a", state);
    o.described.insert(d.id.clone());
    o.workspaces.insert(d.id.clone(), d);
    o.connections.insert(ws("a"), conn("a", c.0, c.1));
    o.tags.insert(ws("a"), tags(tag));
    o
}

fn show(d: &reconcile::Decision) -> Vec<String> {
    d.steps
        .iter()
        .map(|s| {
            let w = s.write.as_ref().map(|w| match w {
                Write::Delete(_) => "delete".to_owned(),
                _ => format!("{} {}", w.record().phase.name(), w.record().request.is_some()),
            });
            let a: Vec<String> = s
                .actions
                .iter()
                .map(|a| match a {
                    Action::Terminate(_) => "terminate".to_owned(),
                    Action::DeleteAlarm(_) => "DeleteAlarm".to_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            format!("{} | {}", w.unwrap_or_default(), a.join(","))
        })
        .collect()
}

#[test]
fn the_reconciler_honours_a_request_at_once_and_keeps_s1_unless_forced() {
    let on = &[("blankslate", "on")][..];
    let requested = |c: (C, Option<i64>), force: bool| {
        request(5, active("a"), S::Available, (C::Disconnected, Some(1)), force).map(|r| (r, c)).unwrap()
    };
    // (case, connection at the reconciler's read, force, tags, now, expected steps)
    let cases: &[(&str, (C, Option<i64>), bool, &[(&str, &str)], i64, &[&str])] = &[
        (
            "away: terminated at once, no grace",
            (C::Disconnected, Some(1)),
            false,
            on,
            5,
            &["terminating true | terminate"],
        ),
        ("connected since: cancelled (S1)", (C::Connected, Some(6)), false, on, 7, &["active false | "]),
        ("came and went since: ordinary grace", (C::Disconnected, Some(6)), false, on, 7, &["disconnected false | "]),
        ("unknown: wait", (C::Unknown, None), false, on, 7, &[]),
        ("forced: terminated even connected", (C::Connected, Some(6)), true, on, 7, &["terminating true | terminate"]),
        (
            "opted out since: released, not terminated (S2)",
            (C::Disconnected, Some(1)),
            true,
            &[("x", "y")],
            7,
            &["delete | DeleteAlarm"],
        ),
    ];
    for (case, c, force, tag, now, expected) in cases {
        let (r, c) = requested(*c, *force);
        let r = Record { version: 4, ..r };
        let d = reconcile::decide(t(*now), &cfg(), std::slice::from_ref(&r), &observed(S::Available, c, tag));
        let got = show(&d);
        assert_eq!(got, expected.iter().map(|s| s.to_string()).collect::<Vec<_>>(), "{case}");
    }
}

#[test]
fn without_a_request_the_same_desk_waits_out_its_grace() {
    // The same disconnected desk, no request: nothing before grace ends (S1 for automatic rebuilds).
    let r = record("a", disconnected("a", 3));
    let d = reconcile::decide(
        t(5),
        &cfg(),
        std::slice::from_ref(&r),
        &observed(S::Available, (C::Disconnected, Some(1)), &[("blankslate", "on")]),
    );
    assert!(d.steps.is_empty(), "{:?}", show(&d));
    // A stale request (for an earlier disconnect) does not shorten a later grace period.
    let mut stale = r;
    stale.request =
        Some(blankslate_core::journal::RebuildRequest { workspace_id: ws("a"), requested_at: t(2), force: true });
    assert!(stale.live_request().is_none());
    let d = reconcile::decide(
        t(5),
        &cfg(),
        &[stale],
        &observed(S::Available, (C::Connected, Some(1)), &[("blankslate", "on")]),
    );
    assert!(d.steps.is_empty(), "{:?}", show(&d));
}

// ---------------------------------------------------------------------------------------
// history
// ---------------------------------------------------------------------------------------

/// Rebuild `n`: disconnect at minute 100n, started 10 later, done 6 after that; an admin
/// request is timed at the start (its disconnect is the request minus grace).
fn summary(n: i64, admin: bool) -> RebuildSummary {
    let reason = if admin {
        RebuildReason::Admin { force: false, requested_at: t(n * 100 + 10) }
    } else {
        RebuildReason::Disconnect
    };
    RebuildSummary {
        old_workspace_id: ws(&format!("a{n}")),
        new_workspace_id: ws(&format!("a{}", n + 1)),
        disconnected_at: t(n * 100),
        started_at: t(n * 100 + 10),
        finished_at: t(n * 100 + 16),
        reason,
    }
}

#[test]
fn history_is_bounded_and_completed_rebuilds_carry_their_reason_and_durations() {
    let mut r = record("a", active("a"));
    for n in 0..(HISTORY_LIMIT as i64 + 5) {
        r.push_rebuild(summary(n, n % 2 == 1));
    }
    assert_eq!(r.history.len(), HISTORY_LIMIT);
    assert_eq!(r.history[0], summary(5, true), "the oldest are dropped");
    assert_eq!(r.last_rebuild.as_ref(), r.history.last());
    let entries = history(&[r], Some(t(2300)));
    assert_eq!(entries.len(), 2, "since filters on the start");
    // Rebuild 23, by an admin: its wait is counted from the request; rebuild 24's from the disconnect.
    let (admin, disconnect) = (&entries[0], &entries[1]);
    assert_eq!(admin.reason, RebuildReason::Admin { force: false, requested_at: t(2310) });
    assert_eq!((admin.since, admin.rebuild_seconds, admin.total_seconds), (t(2310), Some(360), Some(360)));
    assert_eq!((disconnect.reason, disconnect.since), (RebuildReason::Disconnect, t(2400)));
    assert_eq!((disconnect.rebuild_seconds, disconnect.total_seconds), (Some(360), Some(960)));
    assert_eq!(disconnect.outcome, Outcome::Completed);
}

#[test]
fn history_shows_rebuilds_under_way_and_old_records_last_rebuild() {
    let mut failing = record(
        "b",
        Phase::Creating {
            replaces: ws("b"),
            disconnected_at: t(0),
            started_at: t(10),
            attempts: 3,
            retry_at: t(20),
            maybe_created: false,
        },
    );
    failing.last_error = Some("CreateWorkspaces: InvalidResourceState: bundle gone".into());
    let mut old = record("c", active("c"));
    old.last_rebuild = Some(summary(0, false));
    let entries = history(&[failing, old], None);
    assert_eq!(entries.len(), 2);
    // Same start (minute 10): ordered by desk.
    assert_eq!((entries[0].user.as_str(), entries[1].user.as_str()), ("b", "c"));
    assert!(
        matches!(&entries[0].outcome, Outcome::Failing { phase: "creating", error } if error.contains("bundle gone"))
    );
    assert_eq!(entries[0].new_workspace_id, None);
    assert_eq!(entries[1].outcome, Outcome::Completed);
}

#[test]
fn records_written_before_history_existed_still_decode() {
    let r = record("a", active("a"));
    let mut json = serde_json::to_value(&r).unwrap();
    let obj = json.as_object_mut().unwrap();
    obj.remove("history");
    obj.remove("request");
    obj.insert(
        "last_rebuild".into(),
        serde_json::json!({"old_workspace_id":"ws-a0000000","new_workspace_id":"ws-a1000000",
            "disconnected_at":1,"started_at":2,"finished_at":3}),
    );
    let back: Record = serde_json::from_value(json).unwrap();
    assert!(back.history.is_empty() && back.request.is_none());
    assert_eq!(back.last_rebuild.unwrap().reason, RebuildReason::Disconnect);
}

#[test]
fn a_completed_admin_rebuild_is_recorded_as_such_and_clears_the_request() {
    let r = request(5, active("a"), S::Available, (C::Disconnected, Some(1)), true).unwrap();
    let d = reconcile::decide(
        t(5),
        &cfg(),
        &[Record { version: 4, ..r }],
        &observed(S::Available, (C::Connected, Some(4)), &[("blankslate", "on")]),
    );
    let Some(Write::Update(terminating)) = d.steps[0].write.clone() else { panic!("{:?}", show(&d)) };
    // Gone, then created: the reconciler's own path.
    let mut gone = Observations::default();
    gone.described.insert(ws("a"));
    let d = reconcile::decide(t(8), &cfg(), &[terminating], &gone);
    let Some(Write::Update(creating)) = d.steps[0].write.clone() else { panic!("{:?}", show(&d)) };
    let step = reconcile::on_create_result(&creating, &reconcile::Outcome::Accepted(ws("a2")), t(12), &cfg()).unwrap();
    let done = step.write.unwrap().record().clone();
    assert_eq!(done.last_rebuild.as_ref().unwrap().reason, RebuildReason::Admin { force: true, requested_at: t(5) });
    assert_eq!((done.request, done.history.len()), (None, 1));
}

#[test]
fn a_late_alarm_does_not_push_an_admin_request_back_but_a_later_one_voids_it() {
    let requested = request(5, active("a"), S::Available, (C::Disconnected, Some(1)), false).unwrap();
    // The alarm for the disconnect at minute 2 arrives after the request: nothing changes.
    assert_eq!(reconcile::on_disconnect_alarm(&requested, &ws("a"), t(2), t(6)), None);
    // A disconnect after the request means the user was back in between: an ordinary
    // grace period starts, and the request no longer applies.
    let step = reconcile::on_disconnect_alarm(&requested, &ws("a"), t(7), t(8)).expect("grace restarts");
    let after = step.write.expect("a write").record().clone();
    assert_eq!(after.phase, disconnected("a", 7));
    assert!(after.live_request().is_none());
    // Logins likewise: one from before the request changes nothing, a later one ends it.
    assert_eq!(reconcile::on_login(&requested, &ws("a"), t(2), t(6)), None);
    let step = reconcile::on_login(&requested, &ws("a"), t(6), t(6)).expect("back");
    assert_eq!(step.write.expect("a write").record().phase, active("a"));
}

/// `status` and the reconciler, on the same journal and the same reads, must agree: a desk
/// status says terminates "at the next run" is terminated by `decide`, one it says is kept
/// goes back to active, one whose grace restarts is disconnected anew, and every other
/// desk is left alone this run.
#[test]
fn status_forecasts_what_the_reconciler_decides() {
    let config = Config { max_in_flight_rebuilds: 3, ..cfg() };
    let now = 30;
    let busy = Phase::Terminating {
        workspace_id: ws("busy"),
        disconnected_at: t(0),
        started_at: t(10),
        requested_at: t(29),
        attempts: 1,
    };
    // (user, phase, state, connection, last connection)
    let desks: &[(&str, Phase, S, C, Option<i64>)] = &[
        ("busy", busy, S::Terminating, C::Disconnected, Some(-30)),
        ("ann", disconnected("ann", 0), S::Available, C::Disconnected, Some(-30)),
        ("ben", disconnected("ben", 1), S::Stopped, C::Unknown, Some(-30)),
        ("cat", disconnected("cat", 2), S::Available, C::Connected, Some(25)),
        ("dan", disconnected("dan", 3), S::Available, C::Disconnected, Some(25)),
        ("eve", disconnected("eve", 4), S::Suspended, C::Disconnected, Some(-30)),
        ("fay", disconnected("fay", 5), S::Available, C::Unknown, None),
        ("gus", disconnected("gus", 6), S::Available, C::Disconnected, Some(-30)),
        ("hal", disconnected("hal", 7), S::Available, C::Disconnected, Some(-30)), // over the cap
        ("ivy", disconnected("ivy", 25), S::Available, C::Disconnected, Some(-30)), // in grace
        ("jon", active("jon"), S::Available, C::Connected, Some(29)),
    ];
    let records: Vec<Record> = desks.iter().map(|(u, p, ..)| record(u, p.clone())).collect();
    let mut obs = Observations::default();
    let mut input = StatusInput { records: records.clone(), ..StatusInput::default() };
    for (u, _, state, c, last) in desks {
        let d = desc(u, *state);
        obs.described.insert(d.id.clone());
        obs.workspaces.insert(d.id.clone(), d.clone());
        obs.connections.insert(ws(u), conn(u, *c, *last));
        obs.tags.insert(ws(u), tags(&[("blankslate", "on")]));
        input.workspaces.push(d);
        input.connections.insert(ws(u), conn(u, *c, *last));
    }
    let decision = reconcile::decide(t(now), &config, &records, &obs);
    let status = fleet_status(t(now), &config, &input);
    let mut seen = Vec::new();
    for row in &status.desks {
        let id = row.workspace_id.clone().unwrap();
        let steps: Vec<&reconcile::Step> = decision
            .steps
            .iter()
            .filter(|s| s.write.as_ref().is_some_and(|w| w.record().desk.user_name.as_str() == row.user))
            .collect();
        let terminated = steps.iter().any(|s| s.actions.contains(&Action::Terminate(id.clone())));
        let written = steps.first().and_then(|s| s.write.as_ref()).map(|w| w.record().phase.clone());
        let decided = match (terminated, written) {
            (true, _) => "terminate",
            (false, Some(Phase::Active { .. })) => "keep",
            (false, Some(Phase::Disconnected { at, .. })) if at == t(now) => "restart",
            (false, None) => "nothing",
            (false, Some(other)) => panic!("{}: unexpected write {other:?}", row.user),
        };
        let forecast = match (row.next.kind, row.next.at) {
            (NextKind::Terminate, None) => "terminate",
            (NextKind::Keep, None) => "keep",
            (NextKind::RestartGrace, None) => "restart",
            _ => "nothing",
        };
        assert_eq!(forecast, decided, "{}: status said {:?}", row.user, row.next);
        seen.push(format!("{} {decided}", row.user));
    }
    assert_eq!(
        seen,
        [
            "ann terminate",
            "ben terminate",
            "busy nothing",
            "cat keep",
            "dan restart",
            "eve nothing",
            "fay nothing",
            "gus nothing",
            "hal nothing",
            "ivy nothing",
            "jon nothing"
        ],
        "cap 3: busy, ann and ben; gus and hal wait for a slot"
    );
}
