//! The per-WorkSpace SessionDisconnect alarm's name, shared by every function that
//! creates, finds or deletes one.

use crate::ids::WorkspaceId;

/// The prefix of every alarm blankslate owns; the seed's own naming, so alarms from a
/// seed installation are recognised (and cleaned up) too.
pub const ALARM_PREFIX: &str = "Workspace_Disconnected_id_";

/// The alarm watching `id`.
pub fn alarm_name(id: &WorkspaceId) -> String {
    format!("{ALARM_PREFIX}{id}")
}

/// The WorkSpace an alarm of ours watches; `None` for an alarm that is not ours.
pub fn workspace_of_alarm(name: &str) -> Option<WorkspaceId> {
    name.strip_prefix(ALARM_PREFIX).and_then(|id| WorkspaceId::new(id).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_foreign_alarms_are_ignored() {
        let id = WorkspaceId::new("ws-bfh7rjnt9").unwrap();
        assert_eq!(alarm_name(&id), "Workspace_Disconnected_id_ws-bfh7rjnt9");
        assert_eq!(workspace_of_alarm(&alarm_name(&id)), Some(id));
        assert_eq!(workspace_of_alarm("CPUHigh"), None);
        assert_eq!(workspace_of_alarm("Workspace_Disconnected_id_garbage"), None);
    }
}
