//! The bodies of blankslate's fuzz targets, one function per target.
//!
//! Each body takes the fuzzer's bytes, runs one parser or decoder of `blankslate-core`
//! on them, and asserts what must hold for *every* input, not only that nothing panics:
//! errors have a message; an accepted event, written back by the matching emitter, parses
//! to the same event (times to the precision the emitted shape carries); the dispatching
//! parser agrees with the specific one; a decoded journal record re-encodes to itself,
//! sits under its own key, and the reconciler can decide on it.
//!
//! The functions are shared: `fuzz_targets/*.rs` call them under libFuzzer, and
//! `crates/core/tests/fuzz_seeds.rs` includes this file (`#[path]`) and runs every body
//! over the committed seed corpora in `fuzz/seeds/`, so CI checks the same assertions
//! without a fuzzer or a nightly compiler. Each body returns whether the input was
//! accepted, so that test can also check that the seeds reach the parsers' success paths.

use blankslate_core::config::{AlarmMode, Config};
use blankslate_core::events::{
    alarm_message, cloudtrail_create_workspaces, cloudtrail_terminate_workspaces, parse_alarm_message, parse_any,
    parse_eventbridge, parse_sns, sns_event, workspaces_access_login, AlarmTime, EmitContext, Event, EventError,
};
use blankslate_core::ids::{DirectoryId, WorkspaceId};
use blankslate_core::journal::stored;
use blankslate_core::reconcile::{self, Observations};
use blankslate_core::Timestamp;
use serde_json::Value;

/// The directory a login event is written with when the parsed one had none.
const SOME_DIRECTORY: &str = "d-9067083b4b";
const TOPIC: &str = "arn:aws:sns:us-east-1:715757123466:Workspace_Disconnected_Topic";

fn ctx() -> EmitContext {
    EmitContext {
        account: "715757123466".into(),
        region: "us-east-1".into(),
        event_id: "0f6a3b1e-2c4d-4e8f-9a0b-1c2d3e4f5a6b".into(),
    }
}

/// `at` as CloudTrail and EventBridge write it: whole seconds.
fn to_second(at: Timestamp) -> Timestamp {
    Timestamp::from_millis(at.as_millis().div_euclid(1000) * 1000)
}

/// A rejection must say what was wrong.
fn rejected(error: &EventError) -> bool {
    assert!(!error.to_string().is_empty(), "an empty error message: {error:?}");
    false
}

/// `event` written back in its own shape and parsed again, as the parser should read it.
fn round_trip(event: &Event) {
    let c = ctx();
    let (emitted, expected) = match event {
        Event::WorkspacesCreated { ids, at } => {
            let pending: Vec<_> = ids
                .iter()
                .map(|id| (id.clone(), DirectoryId::new(SOME_DIRECTORY).unwrap(), "u".into(), "wsb-vw0mb86zg".into()))
                .collect();
            let value = cloudtrail_create_workspaces(&c, *at, &pending, &[]);
            (value, Event::WorkspacesCreated { ids: ids.clone(), at: to_second(*at) })
        }
        Event::WorkspacesTerminated { ids, at } => {
            let value = cloudtrail_terminate_workspaces(&c, *at, ids);
            (value, Event::WorkspacesTerminated { ids: ids.clone(), at: to_second(*at) })
        }
        Event::UserLoggedIn { workspace_id, directory_id, at } => {
            let directory = directory_id.clone().unwrap_or_else(|| DirectoryId::new(SOME_DIRECTORY).unwrap());
            let value = workspaces_access_login(&c, *at, workspace_id, &directory);
            let expected = Event::UserLoggedIn {
                workspace_id: workspace_id.clone(),
                directory_id: Some(directory),
                at: to_second(*at),
            };
            (value, expected)
        }
        Event::DisconnectAlarm { workspace_id, at, .. } => {
            // Written back as a datapoint a period before `at`, quoted to the second, with
            // the state change a period after: read back as the end of that period.
            let minute = std::time::Duration::from_secs(60);
            let message =
                alarm_message("Workspace_Disconnected", workspace_id, "ALARM", "OK", *at + minute, *at - minute, &c);
            let expected = Event::DisconnectAlarm {
                workspace_id: workspace_id.clone(),
                at: to_second(*at - minute) + minute,
                time_from: AlarmTime::ReasonText,
            };
            assert_eq!(parse_alarm_message(&message), Ok(Some(expected.clone())), "alarm round trip: {message}");
            let value = sns_event(&c, TOPIC, &[("m-1".into(), message, *at)]);
            assert_eq!(parse_sns(&value), Ok(vec![expected]), "SNS round trip: {value}");
            return;
        }
    };
    assert_eq!(parse_eventbridge(&emitted), Ok(Some(expected)), "round trip of {event:?}: {emitted}");
}

/// A batch event lists each WorkSpace once.
fn distinct_ids(event: &Event) {
    if let Event::WorkspacesCreated { ids, .. } | Event::WorkspacesTerminated { ids, .. } = event {
        assert!(!ids.is_empty(), "an event about no WorkSpace: {event:?}");
        let mut sorted: Vec<&WorkspaceId> = ids.iter().collect();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), ids.len(), "a repeated ID in {event:?}");
    }
}

/// `parse_eventbridge` on JSON bytes.
pub fn eventbridge(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return false };
    let parsed = parse_eventbridge(&value);
    if value.get("Records").is_none() {
        // The dispatcher sends anything without "Records" but with "detail-type" here.
        if value.get("detail-type").is_some() {
            assert_eq!(parse_any(&value).ok(), parsed.clone().ok().map(|e| e.into_iter().collect::<Vec<_>>()));
        }
    }
    match parsed {
        Err(e) => rejected(&e),
        Ok(None) => true,
        Ok(Some(event)) => {
            assert!(!matches!(event, Event::DisconnectAlarm { .. }), "an alarm from EventBridge: {event:?}");
            distinct_ids(&event);
            round_trip(&event);
            true
        }
    }
}

/// `parse_sns` on JSON bytes.
pub fn sns(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return false };
    match parse_sns(&value) {
        Err(e) => rejected(&e),
        Ok(events) => {
            if value.is_object() {
                assert_eq!(parse_any(&value).as_ref(), Ok(&events), "parse_any disagrees with parse_sns");
            }
            // Each record is one message: never more events than records.
            let records = value["Records"].as_array().map_or(0, Vec::len);
            assert!(events.len() <= records, "{} events from {records} records", events.len());
            for event in &events {
                assert!(matches!(event, Event::DisconnectAlarm { .. }), "not an alarm from SNS: {event:?}");
                round_trip(event);
            }
            true
        }
    }
}

/// `parse_alarm_message` on text (the SNS `Message`).
pub fn alarm(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    match parse_alarm_message(text) {
        Err(e) => rejected(&e),
        Ok(None) => true,
        Ok(Some(event)) => {
            assert!(matches!(event, Event::DisconnectAlarm { .. }), "not an alarm: {event:?}");
            round_trip(&event);
            true
        }
    }
}

/// `parse_any` on JSON bytes: it must agree with the parser it dispatches to.
pub fn any(data: &[u8]) -> bool {
    let Ok(value) = serde_json::from_slice::<Value>(data) else { return false };
    let parsed = parse_any(&value);
    let direct = if value.get("Records").is_some() {
        Some(parse_sns(&value))
    } else if value.get("detail-type").is_some() {
        Some(parse_eventbridge(&value).map(|e| e.into_iter().collect()))
    } else {
        None
    };
    match (&parsed, direct) {
        (_, Some(direct)) => assert_eq!(parsed, direct, "parse_any disagrees with the parser it picks"),
        (Ok(events), None) => panic!("parse_any read {events:?} from neither an SNS nor an EventBridge event"),
        (Err(_), None) => {}
    }
    match parsed {
        Err(e) => rejected(&e),
        Ok(events) => {
            events.iter().for_each(distinct_ids);
            true
        }
    }
}

/// The journal item decoder on `key\nversion\nrecord JSON`: an accepted record sits
/// under its own key, re-encodes to itself, and the reconciler can plan and decide on it
/// (a damaged record must be refused here, not crash the reconciler later).
pub fn journal(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else { return false };
    let mut parts = text.splitn(3, '\n');
    let (Some(key), Some(version), Some(json)) = (parts.next(), parts.next(), parts.next()) else { return false };
    let record = match stored::decode(key, version, json) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            return false;
        }
        Ok(record) => record,
    };
    assert_eq!(stored::desk_key(&record.desk), key);
    assert_eq!(Ok(record.version), version.parse::<u64>());
    let encoded = stored::encode(&record).expect("a decoded record encodes");
    assert_eq!(stored::decode(key, version, &encoded), Ok(record.clone()), "re-encoding changed the record");

    // The reconciler on this record, at times around it, in both alarm modes.
    for alarm_mode in [AlarmMode::PerWorkspace, AlarmMode::Off] {
        let config = Config { alarm_mode, ..Config::new("all".parse().unwrap()) };
        let records = std::slice::from_ref(&record);
        for now in [record.updated_at, Timestamp::from_millis(0), Timestamp::from_millis(i64::MAX)] {
            let _ = reconcile::plan_reads(now, &config, records, true);
            let listed = Observations { fleet_listed: true, ..Observations::default() };
            let _ = reconcile::decide(now, &config, records, &listed);
            let _ = reconcile::decide(now, &config, records, &Observations::default());
        }
    }
    true
}
