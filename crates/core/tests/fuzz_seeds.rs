//! Every fuzz target's body, run over its seed corpus, in CI and without a fuzzer.
//!
//! The bodies live in `fuzz/src/lib.rs` (included below), so libFuzzer and this test
//! check the same assertions. The corpus is what is committed in `fuzz/seeds/<target>/`
//! plus seeds made here from the emitters and the fixtures in `tests/fixtures/events/`,
//! so a change to an emitter is checked at once. `BLANKSLATE_WRITE_FUZZ_SEEDS=1` writes
//! the made seeds to `fuzz/seeds/` (how the committed corpus was produced). Findings of
//! fuzzing runs are added to `fuzz/seeds/` as regression inputs.

#[path = "../../../fuzz/src/lib.rs"]
mod bodies;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use blankslate_core::events::{
    alarm_message, cloudtrail_create_workspaces, cloudtrail_terminate_workspaces, sns_event, workspaces_access_login,
    EmitContext,
};
use blankslate_core::ids::{BundleId, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{stored, Phase, Record};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_core::Timestamp;

type Body = fn(&[u8]) -> bool;

const TARGETS: [(&str, Body); 5] = [
    ("eventbridge", bodies::eventbridge),
    ("sns", bodies::sns),
    ("alarm", bodies::alarm),
    ("any", bodies::any),
    ("journal", bodies::journal),
];

fn seeds_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/events").join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn ws(id: &str) -> WorkspaceId {
    WorkspaceId::new(id).unwrap()
}

fn dir() -> DirectoryId {
    DirectoryId::new("d-9067083b4b").unwrap()
}

/// Seeds made from the fixtures and the emitters: (target, file name, bytes).
fn made_seeds() -> Vec<(&'static str, String, Vec<u8>)> {
    let c = EmitContext {
        account: "715757123466".into(),
        region: "us-east-1".into(),
        event_id: "0f6a3b1e-2c4d-4e8f-9a0b-1c2d3e4f5a6b".into(),
    };
    let at = Timestamp::parse("2024-03-11T17:00:05.678Z").unwrap();
    let (a, b) = (ws("ws-bfh7rjnt9"), ws("ws-c2mx8p4qd"));
    let pending = |id: &WorkspaceId| (id.clone(), dir(), "tester2".to_owned(), "wsb-vw0mb86zg".to_owned());
    let refused = ("ResourceExists.WorkSpace".to_owned(), "The specified user already has a WorkSpace.".to_owned());
    let datapoint = Timestamp::parse("2024-03-11T16:59:00Z").unwrap();
    let message =
        |state: &str| alarm_message("Workspace_Disconnected_id_ws-bfh7rjnt9", &a, state, "OK", at, datapoint, &c);
    let sns = sns_event(
        &c,
        "arn:aws:sns:us-east-1:715757123466:Workspace_Disconnected_Topic",
        &[("m-1".into(), message("ALARM"), at), ("m-2".into(), message("OK"), at)],
    );
    let mut failed_call = cloudtrail_terminate_workspaces(&c, at, std::slice::from_ref(&a));
    failed_call["detail"]["errorCode"] = "ThrottlingException".into();
    let mut other_source = cloudtrail_terminate_workspaces(&c, at, std::slice::from_ref(&a));
    other_source["source"] = "aws.ec2".into();

    let events: Vec<(&str, Vec<u8>)> = vec![
        ("fixture_create.json", fixture("cloudtrail_create_workspaces.json")),
        ("fixture_terminate.json", fixture("cloudtrail_terminate_workspaces.json")),
        ("fixture_login.json", fixture("workspaces_access_login.json")),
        (
            "emitted_create.json",
            cloudtrail_create_workspaces(&c, at, &[pending(&a), pending(&b)], &[refused]).to_string().into_bytes(),
        ),
        ("emitted_terminate.json", cloudtrail_terminate_workspaces(&c, at, &[a.clone(), b]).to_string().into_bytes()),
        ("emitted_login.json", workspaces_access_login(&c, at, &a, &dir()).to_string().into_bytes()),
        ("failed_call.json", failed_call.to_string().into_bytes()),
        ("other_source.json", other_source.to_string().into_bytes()),
    ];
    let notifications: Vec<(&str, Vec<u8>)> = vec![
        ("fixture_sns.json", fixture("sns_disconnect_alarm.json")),
        ("emitted_sns.json", sns.to_string().into_bytes()),
    ];
    let fixture_message: serde_json::Value = serde_json::from_slice(&fixture("sns_disconnect_alarm.json")).unwrap();
    let alarms: Vec<(&str, Vec<u8>)> = vec![
        ("fixture_message.json", fixture_message["Records"][0]["Sns"]["Message"].as_str().unwrap().as_bytes().to_vec()),
        ("emitted_alarm.json", message("ALARM").into_bytes()),
        ("emitted_ok.json", message("OK").into_bytes()),
    ];

    let mut seeds = Vec::new();
    for (name, bytes) in &events {
        seeds.push(("eventbridge", name.to_string(), bytes.clone()));
        seeds.push(("any", name.to_string(), bytes.clone()));
    }
    for (name, bytes) in &notifications {
        seeds.push(("sns", name.to_string(), bytes.clone()));
        seeds.push(("any", name.to_string(), bytes.clone()));
    }
    for (name, bytes) in alarms {
        seeds.push(("alarm", name.to_string(), bytes));
    }
    for (name, record) in records(at) {
        let text =
            format!("{}\n{}\n{}", stored::desk_key(&record.desk), record.version, stored::encode(&record).unwrap());
        seeds.push(("journal", name.to_owned(), text.into_bytes()));
    }
    seeds
}

/// A record in every phase, one with a full spec.
fn records(at: Timestamp) -> Vec<(&'static str, Record)> {
    let mut spec = WorkspaceSpec::new(
        dir(),
        UserName::new("jane.doe@school.example").unwrap(),
        BundleId::new("wsb-vw0mb86zg").unwrap(),
    );
    spec.tags = Tags::from_pairs([("blankslate", "on"), ("team", "physics")]).unwrap();
    let id = ws("ws-bfh7rjnt9");
    let active = Record { version: 4, ..Record::enrol(spec, id.clone(), at) };
    let later = Timestamp::from_millis(at.as_millis() + 600_000);
    vec![
        ("active", active.clone()),
        ("disconnected", active.with_phase(Phase::Disconnected { workspace_id: id.clone(), at }, at)),
        (
            "terminating",
            active.with_phase(
                Phase::Terminating {
                    workspace_id: id.clone(),
                    disconnected_at: at,
                    started_at: later,
                    requested_at: later,
                    attempts: 1,
                },
                later,
            ),
        ),
        (
            "creating",
            active.with_phase(
                Phase::Creating {
                    replaces: id,
                    disconnected_at: at,
                    started_at: later,
                    attempts: 2,
                    retry_at: later,
                    maybe_created: true,
                },
                later,
            ),
        ),
    ]
}

#[test]
fn every_fuzz_body_holds_on_its_seed_corpus() {
    let made = made_seeds();
    if std::env::var_os("BLANKSLATE_WRITE_FUZZ_SEEDS").is_some() {
        for (target, name, bytes) in &made {
            let dir = seeds_dir().join(target);
            std::fs::create_dir_all(&dir).unwrap();
            std::fs::write(dir.join(name), bytes).unwrap();
        }
    }
    let mut corpus: BTreeMap<&str, Vec<(String, Vec<u8>)>> = BTreeMap::new();
    for (target, name, bytes) in made {
        corpus.entry(target).or_default().push((format!("made/{name}"), bytes));
    }
    for (target, _) in TARGETS {
        let dir = seeds_dir().join(target);
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for entry in entries {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            corpus
                .entry(target)
                .or_default()
                .push((format!("fuzz/seeds/{target}/{name}"), std::fs::read(&path).unwrap()));
        }
    }
    for (target, body) in TARGETS {
        let inputs = &corpus[target];
        let mut accepted = 0;
        for (name, bytes) in inputs {
            let outcome = std::panic::catch_unwind(|| body(bytes));
            match outcome {
                Ok(true) => accepted += 1,
                Ok(false) => {}
                Err(_) => panic!("fuzz body {target} failed on {name}"),
            }
        }
        // The corpus reaches the success paths, where the round-trip assertions are.
        assert!(accepted >= 2, "{target}: only {accepted} of {} seeds accepted", inputs.len());
    }
}

/// The bodies' assertions can fail: a record stored under the wrong key is refused, and
/// an input the dispatcher cannot place is rejected, not misread.
#[test]
fn the_bodies_reject_what_they_should() {
    assert!(!bodies::journal(b"d-9067083b4b/someone\n1\n{}"));
    assert!(!bodies::any(br#"{"hello": "world"}"#));
    assert!(!bodies::eventbridge(b"not json"));
    assert!(!bodies::alarm(b"{\"Trigger\": {}}"));
}
