//! When the disconnect behind a SessionDisconnect alarm happened, read from the datapoint
//! the alarm evaluated rather than from the alarm's own state change.
//!
//! The alarm changes state a minute or two after the disconnect (a one-minute datapoint,
//! CloudWatch's publishing delay, evaluation on the minute), so `StateChangeTime` counts the
//! grace period from too late. The datapoint's timestamp is the START of its period, and
//! the disconnect happened somewhere in `[start, start + period)`; we record the END of
//! that period, the latest instant the disconnect can have happened, so a grace period
//! counted from it is never shorter than the one the user was promised. `StateChangeTime`
//! is a bound too (the datapoint existed when the alarm evaluated it), so the earlier of
//! the two is kept, and `StateChangeTime` alone when no datapoint can be read: a garbled
//! reason costs the ~90 s the time was late before, never an error.

use std::time::Duration;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Node;
use crate::time::Timestamp;

/// Where a disconnect alarm's time came from, so the shell can log a fallback.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub enum AlarmTime {
    /// The end of the latest period in the structured reason data
    /// (`NewStateReasonData.evaluatedDatapoints[].timestamp`).
    ReasonData,
    /// The end of the latest period quoted in `NewStateReason` (`[1.0 (02/12/26 15:31:00)]`).
    ReasonText,
    /// `StateChangeTime`, because it came before the datapoint's period ended.
    #[default]
    StateChange,
    /// `StateChangeTime`, because no datapoint could be read; says why.
    Fallback(String),
}

/// How `NewStateReason` writes a datapoint's time: `dd/MM/yy HH:mm:ss`, UTC.
pub(super) const REASON_TIME: &str = "%d/%m/%y %H:%M:%S";
/// Its length, parentheses excluded.
const REASON_TIME_LEN: usize = "02/12/26 15:31:00".len();
/// The longest period CloudWatch allows a metric alarm (one day); a longer one is garbage.
const MAX_PERIOD_SECONDS: u64 = 86_400;

/// The latest instant the disconnect can have happened, and where it came from. Never
/// later than `changed` (the alarm's `StateChangeTime`), and never an error.
pub(super) fn disconnect_time(root: &Node<'_>, trigger: &Node<'_>, changed: Timestamp) -> (Timestamp, AlarmTime) {
    let mut why = Vec::new();
    let sources = [
        (AlarmTime::ReasonData, reason_data(root)),
        (AlarmTime::ReasonText, reason_text(root).map(|start| (start, None))),
    ];
    for (source, found) in sources {
        let (start, period) = match found {
            Ok(found) => found,
            Err(e) => {
                why.push(e);
                continue;
            }
        };
        let Some(period) = period.or_else(|| trigger_period(trigger)) else {
            why.push("no valid Trigger.Period".to_owned());
            break;
        };
        if start > changed {
            why.push(format!("datapoint {start} is later than StateChangeTime {changed}"));
            continue;
        }
        let end = start + period;
        return if end < changed { (end, source) } else { (changed, AlarmTime::StateChange) };
    }
    (changed, AlarmTime::Fallback(why.join("; ")))
}

/// The start of the latest evaluated datapoint in `NewStateReasonData` (a JSON text, or an
/// object as CloudWatch's Log Alarm notifications show it), with the data's own period.
fn reason_data(root: &Node<'_>) -> Result<(Timestamp, Option<Duration>), String> {
    const KEY: &str = "NewStateReasonData";
    let node = root.get_opt(KEY).map_err(|e| e.to_string())?.ok_or_else(|| format!("no {KEY}"))?;
    let parsed;
    let data = match node.value {
        Value::String(text) => {
            parsed = serde_json::from_str::<Value>(text).map_err(|e| format!("{KEY} is not JSON: {e}"))?;
            &parsed
        }
        Value::Object(_) => node.value,
        _ => return Err(format!("{KEY} is neither JSON text nor an object")),
    };
    let datapoints = data
        .get("evaluatedDatapoints")
        .and_then(Value::as_array)
        .ok_or_else(|| format!("{KEY} has no evaluatedDatapoints array"))?;
    let latest = datapoints
        .iter()
        .map(|point| point.get("timestamp").and_then(Value::as_str).map(Timestamp::parse))
        .map(|parsed| parsed.and_then(Result::ok))
        .collect::<Option<Vec<_>>>()
        .ok_or_else(|| format!("{KEY}.evaluatedDatapoints has an item without a valid timestamp"))?
        .into_iter()
        .max()
        .ok_or_else(|| format!("{KEY}.evaluatedDatapoints is empty"))?;
    Ok((latest, data.get("period").and_then(Value::as_u64).and_then(period)))
}

/// The start of the latest datapoint quoted in `NewStateReason`, e.g. `15:31:00` in
/// `... [1.0 (02/12/26 15:31:00)] was greater than or equal to the threshold (1.0) ...`.
fn reason_text(root: &Node<'_>) -> Result<Timestamp, String> {
    let node = root.get("NewStateReason").map_err(|e| e.to_string())?;
    let reason = node.str().map_err(|e| e.to_string())?;
    reason
        .match_indices('(')
        .filter_map(|(i, _)| {
            let rest = reason.get(i + 1..)?;
            let inner = rest.get(..REASON_TIME_LEN)?;
            (rest.as_bytes().get(REASON_TIME_LEN) == Some(&b')')).then_some(())?;
            NaiveDateTime::parse_from_str(inner, REASON_TIME).ok()
        })
        .map(|t| Timestamp::from_millis(t.and_utc().timestamp_millis()))
        .max()
        .ok_or_else(|| "NewStateReason quotes no datapoint time (dd/MM/yy HH:mm:ss)".to_owned())
}

/// The alarm's `Trigger.Period`, which every notification carries.
fn trigger_period(trigger: &Node<'_>) -> Option<Duration> {
    trigger.get_opt("Period").ok()??.value.as_u64().and_then(period)
}

fn period(seconds: u64) -> Option<Duration> {
    (1..=MAX_PERIOD_SECONDS).contains(&seconds).then(|| Duration::from_secs(seconds))
}
