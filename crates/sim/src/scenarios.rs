//! Built-in scenarios: the demo's small fleet, and a generated office day of any size.

use std::time::Duration;

use blankslate_core::ids::{BundleId, DirectoryId, UserName};
use blankslate_core::selector::Selector;
use blankslate_core::spec::{ComputeType, Protocol, RunningMode, Tags, VolumeEncryption, WorkspaceSpec};
use blankslate_core::{Timestamp, ValidationError};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::scenario::{DeskPlan, Scenario, Session};

/// The opt-in tag both built-in scenarios manage by.
pub const OPT_IN: &str = "tag:blankslate";

const fn minutes(m: u64) -> Duration {
    Duration::from_secs(m * 60)
}

/// `hh:mm` after the scenario's 07:30 start.
fn at(hh: u64, mm: u64) -> Duration {
    minutes(hh * 60 + mm).saturating_sub(minutes(7 * 60 + 30))
}

fn monday_0730() -> Result<Timestamp, ValidationError> {
    Timestamp::parse("2026-11-23T07:30:00Z")
}

struct DeskSketch {
    user: &'static str,
    note: &'static str,
    managed: bool,
    sessions: &'static [(u64, u64, u64)],
}

fn spec(
    directory: &DirectoryId,
    user: &str,
    managed: bool,
    extra: &[(&str, &str)],
) -> Result<WorkspaceSpec, ValidationError> {
    let mut spec = WorkspaceSpec::new(directory.clone(), UserName::new(user)?, BundleId::new("wsb-clj85qzj1")?);
    let mut tags: Vec<(&str, &str)> = vec![("team", "library")];
    if managed {
        tags.push(("blankslate", "on"));
    }
    tags.extend_from_slice(extra);
    spec.tags = Tags::from_pairs(tags)?;
    spec.properties.running_mode = Some(RunningMode::AlwaysOn);
    spec.properties.compute_type = Some(ComputeType::new("STANDARD")?);
    spec.properties.root_volume_size_gib = Some(80);
    spec.properties.user_volume_size_gib = Some(50);
    spec.properties.protocols = vec![Protocol::Wsp];
    Ok(spec)
}

/// The demo: eight desks through a working day, each showing one case.
///
/// - alice: encrypted, auto-stop, two sessions: rebuilt twice with the same spec. Her
///   WorkSpaces terminate in 2 minutes, quick enough for the seed to re-create them
///   (and lose their encryption and tags).
/// - bob: leaves, comes back 5 minutes later (within grace): kept; rebuilt after his last session.
/// - carol: performance bundle with a cost-centre tag.
/// - dave: his WorkSpaces take 30 minutes to terminate (the seed gives up after 4).
/// - erin: no opt-in tag: blankslate never touches her desktop.
/// - frank: his WorkSpace existed before the deploy: enrolled by the reconciler's sweep.
/// - grace: the CloudTrail event of her creation is lost: enrolled by the sweep too.
/// - heidi: never logs in: her desktop is never rebuilt.
pub fn demo() -> Result<Scenario, ValidationError> {
    let mut scenario = Scenario::new("demo", monday_0730()?, minutes(11 * 60), OPT_IN.parse::<Selector>()?);
    let directory = DirectoryId::new("d-9067083b4b")?;
    let sketches = [
        DeskSketch {
            user: "alice",
            note: "encrypted, auto-stop; two sessions, two rebuilds with the same spec",
            managed: true,
            sessions: &[(8, 30, 120), (13, 0, 60)],
        },
        DeskSketch {
            user: "bob",
            note: "leaves at 10:00 and is back at 10:05: kept; rebuilt after his last session",
            managed: true,
            sessions: &[(9, 0, 60), (10, 5, 55), (14, 0, 30)],
        },
        DeskSketch {
            user: "carol",
            note: "performance bundle, cost-centre tag",
            managed: true,
            sessions: &[(8, 45, 90), (12, 0, 120)],
        },
        DeskSketch {
            user: "dave",
            note: "his WorkSpaces take 30 minutes to terminate",
            managed: true,
            sessions: &[(9, 15, 60), (15, 0, 60)],
        },
        DeskSketch {
            user: "erin",
            note: "no opt-in tag: never touched",
            managed: false,
            sessions: &[(8, 30, 180), (14, 0, 60)],
        },
        DeskSketch {
            user: "frank",
            note: "existed before the deploy: found by the sweep",
            managed: true,
            sessions: &[(10, 0, 60), (16, 0, 30)],
        },
        DeskSketch {
            user: "grace",
            note: "the CloudTrail event of her creation is lost: found by the sweep",
            managed: true,
            sessions: &[(9, 30, 45), (11, 0, 45), (13, 30, 30)],
        },
        DeskSketch { user: "heidi", note: "never logs in: never rebuilt", managed: true, sessions: &[] },
    ];
    for sketch in sketches {
        let mut spec = spec(&directory, sketch.user, sketch.managed, &[])?;
        let mut plan = DeskPlan {
            spec: spec.clone(),
            created_at: Some(Duration::ZERO),
            sessions: sketch
                .sessions
                .iter()
                .map(|&(h, m, len)| Session { start: at(h, m), length: minutes(len) })
                .collect(),
            terminate_override: None,
            lose_create_event: false,
            note: sketch.note.into(),
        };
        match sketch.user {
            "alice" => {
                spec.encryption = VolumeEncryption::from_request_fields(
                    Some("arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"),
                    true,
                    true,
                )?;
                spec.properties.running_mode = Some(RunningMode::from_api("AUTO_STOP", Some(60))?);
                plan.terminate_override = Some(minutes(2));
            }
            "carol" => {
                spec.properties.compute_type = Some(ComputeType::new("PERFORMANCE")?);
                spec.tags = Tags::from_pairs([("blankslate", "on"), ("team", "design"), ("cost-centre", "cc-4711")])?;
            }
            "dave" => plan.terminate_override = Some(minutes(30)),
            "frank" => plan.created_at = None,
            "grace" => plan.lose_create_event = true,
            _ => {}
        }
        plan.spec = spec;
        scenario.desks.push(plan);
    }
    Ok(scenario)
}

/// A generated office day: `desks` users, about 90% opted in, each with one to three
/// sessions between 08:00 and 17:30; some come back within the grace period. Half the
/// fleet exists before the deploy. The same `seed` generates the same fleet.
pub fn office_day(desks: usize, seed: u64) -> Result<Scenario, ValidationError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x000f_f1ce);
    let mut scenario = Scenario::new("office-day", monday_0730()?, minutes(11 * 60), OPT_IN.parse::<Selector>()?);
    let directories = [DirectoryId::new("d-9067083b4b")?, DirectoryId::new("d-90670a1c2e")?];
    for n in 0..desks {
        let managed = rng.random_bool(0.9);
        let user = format!("user{n:05}");
        let directory = &directories[n % directories.len()];
        let mut spec = spec(directory, &user, managed, &[])?;
        if rng.random_bool(0.3) {
            spec.encryption = VolumeEncryption::from_request_fields(Some("alias/workspaces"), true, true)?;
        }
        if rng.random_bool(0.5) {
            spec.properties.running_mode =
                Some(RunningMode::from_api("AUTO_STOP", Some(60 * rng.random_range(1..=3)))?);
        }
        let mut sessions = Vec::new();
        let mut clock = at(8, 0) + minutes(rng.random_range(0..120));
        for _ in 0..rng.random_range(1..=3) {
            let length = minutes(rng.random_range(15..=150));
            sessions.push(Session { start: clock, length });
            // One gap in five is shorter than the grace period: the user comes back.
            let gap = if rng.random_bool(0.2) {
                minutes(rng.random_range(1..=8))
            } else {
                minutes(rng.random_range(20..=120))
            };
            clock += length + gap;
            if clock > at(17, 30) {
                break;
            }
        }
        scenario.desks.push(DeskPlan {
            spec,
            created_at: if n % 2 == 0 { None } else { Some(minutes(rng.random_range(0..20))) },
            sessions,
            terminate_override: None,
            lose_create_event: false,
            note: String::new(),
        });
    }
    Ok(scenario)
}

/// How the fleet-scale scenarios split `hours`: users keep coming for all but the last
/// two hours, which let every rebuild finish (L1) with no new sessions.
fn span(scenario: &mut Scenario, hours: u64) {
    let total = minutes(60 * hours.max(3));
    scenario.settle = minutes(120);
    scenario.duration = total - scenario.settle;
}

fn day_start(day: u64) -> Duration {
    minutes(24 * 60 * day)
}

/// The fleet-scale scenarios' desks: all opted in, existing (and enrolled) before the run.
fn fleet_desk(directory: &DirectoryId, n: usize, sessions: Vec<Session>) -> Result<DeskPlan, ValidationError> {
    Ok(DeskPlan {
        spec: spec(directory, &format!("user{n:05}"), true, &[])?,
        created_at: None,
        sessions,
        terminate_override: None,
        lose_create_event: false,
        note: String::new(),
    })
}

/// Keeps the sessions that start while users keep coming.
fn within(scenario: &Scenario, sessions: Vec<Session>) -> Vec<Session> {
    sessions.into_iter().filter(|s| s.start < scenario.duration).collect()
}

fn base(name: &str, start: &str, workspaces: usize, hours: u64) -> Result<Scenario, ValidationError> {
    let mut scenario = Scenario::new(name, Timestamp::parse(start)?, minutes(60), OPT_IN.parse::<Selector>()?);
    span(&mut scenario, hours);
    scenario.enrolled_at_start = true;
    // Sized to the fleet: a rush must not queue behind the default cap of 500.
    scenario.config.max_in_flight_rebuilds = workspaces.max(1);
    Ok(scenario)
}

/// The school-day rush: `workspaces` pupils arrive between 07:45 and 08:30, one in ten
/// steps away for a few minutes (within grace) in the morning, and nine in ten leave
/// between 15:30 and 15:40 (the rest by 17:00), every day of the run. Starts 06:00.
pub fn school_rush(workspaces: usize, hours: u64, seed: u64) -> Result<Scenario, ValidationError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x005c_4001);
    let mut scenario = base("school-rush", "2026-11-23T06:00:00Z", workspaces, hours)?;
    let directory = DirectoryId::new("d-9067083b4b")?;
    let days = scenario.duration.as_secs().div_ceil(86_400);
    for n in 0..workspaces {
        let mut sessions = Vec::new();
        for day in 0..days {
            let d = day_start(day);
            let arrive = d + minutes(105) + Duration::from_secs(rng.random_range(0..45 * 60));
            let leave = if rng.random_bool(0.9) {
                d + minutes(9 * 60 + 30) + Duration::from_secs(rng.random_range(0..10 * 60))
            } else {
                d + minutes(9 * 60 + 40) + Duration::from_secs(rng.random_range(0..80 * 60))
            };
            if rng.random_bool(0.1) {
                let away = d + minutes(4 * 60) + Duration::from_secs(rng.random_range(0..60 * 60));
                let back = away + minutes(rng.random_range(2..=8));
                sessions.push(Session { start: arrive, length: away - arrive });
                sessions.push(Session { start: back, length: leave - back });
            } else {
                sessions.push(Session { start: arrive, length: leave - arrive });
            }
        }
        let sessions = within(&scenario, sessions);
        scenario.desks.push(fleet_desk(&directory, n, sessions)?);
    }
    Ok(scenario)
}

/// Call-centre shifts, 24/7: three eight-hour shifts that overlap by 30 minutes (06:00,
/// 13:30, 21:00), a third of the agents on each. Agents take two short breaks and a
/// 30-minute meal break, all within the centre's 40-minute grace period, and leave at
/// the end of their shift (±10 minutes). Starts 00:00.
pub fn call_centre(workspaces: usize, hours: u64, seed: u64) -> Result<Scenario, ValidationError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x00ca_11ce);
    let mut scenario = base("call-centre", "2026-11-23T00:00:00Z", workspaces, hours)?;
    scenario.config.grace = minutes(40);
    let directory = DirectoryId::new("d-90670a1c2e")?;
    let days = scenario.duration.as_secs().div_ceil(86_400) + 1;
    let shift_starts = [minutes(6 * 60), minutes(13 * 60 + 30), minutes(21 * 60)];
    for n in 0..workspaces {
        let shift = shift_starts[n % 3];
        let mut sessions = Vec::new();
        for day in 0..days {
            let jitter = |rng: &mut ChaCha8Rng| Duration::from_secs(rng.random_range(0..=20 * 60));
            let mut clock = (day_start(day) + shift + jitter(&mut rng)).saturating_sub(minutes(10));
            let end = day_start(day) + shift + minutes(8 * 60) + jitter(&mut rng);
            let end = end.saturating_sub(minutes(10));
            // Work, short break, work, meal, work, short break, work.
            let breaks = [rng.random_range(5..=10), 30, rng.random_range(5..=10)];
            let part = (end.saturating_sub(clock)).saturating_sub(minutes(breaks.iter().sum())) / 4;
            for (k, pause) in breaks.iter().map(|&b| Some(b)).chain([None]).enumerate() {
                let _ = k;
                sessions.push(Session { start: clock, length: part });
                clock += part;
                if let Some(pause) = pause {
                    clock += minutes(pause);
                }
            }
        }
        let sessions = within(&scenario, sessions);
        scenario.desks.push(fleet_desk(&directory, n, sessions)?);
    }
    Ok(scenario)
}

/// Kiosks: short, frequent sessions (5 to 20 minutes, 15 to 90 minutes apart) from 08:00
/// to 20:00, so most desktops are rebuilt several times a day. Starts 06:00.
pub fn kiosk(workspaces: usize, hours: u64, seed: u64) -> Result<Scenario, ValidationError> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x000c_105c);
    let mut scenario = base("kiosk", "2026-11-23T06:00:00Z", workspaces, hours)?;
    let directory = DirectoryId::new("d-9067083b4b")?;
    let days = scenario.duration.as_secs().div_ceil(86_400);
    for n in 0..workspaces {
        let mut sessions = Vec::new();
        for day in 0..days {
            let mut clock = day_start(day) + minutes(120) + minutes(rng.random_range(0..60));
            let close = day_start(day) + minutes(14 * 60);
            while clock < close {
                let length = minutes(rng.random_range(5..=20));
                sessions.push(Session { start: clock, length });
                clock += length + minutes(rng.random_range(15..=90));
            }
        }
        let sessions = within(&scenario, sessions);
        scenario.desks.push(fleet_desk(&directory, n, sessions)?);
    }
    Ok(scenario)
}

/// The built-in scenarios by name, for the command line.
pub const BUILT_IN: [&str; 5] = ["school-rush", "call-centre", "kiosk", "office-day", "demo"];

/// A built-in scenario by name, sized to `workspaces` desks and `hours` simulated hours
/// (`office-day` and `demo` have their own length; `demo` its own fleet).
pub fn built_in(name: &str, workspaces: usize, hours: u64, seed: u64) -> Result<Option<Scenario>, ValidationError> {
    Ok(Some(match name {
        "school-rush" => school_rush(workspaces, hours, seed)?,
        "call-centre" => call_centre(workspaces, hours, seed)?,
        "kiosk" => kiosk(workspaces, hours, seed)?,
        "office-day" => office_day(workspaces, seed)?,
        "demo" => demo()?,
        _ => return Ok(None),
    }))
}
