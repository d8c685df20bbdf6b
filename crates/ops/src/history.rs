//! `blankslate history`: the rebuilds the journal remembers (`blankslate_core::history`).

use blankslate_core::history::{history as entries, HistoryEntry};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::Journal;

use crate::{DeployedStack, OpsError};

/// The rebuilds started at or after `since`, oldest first: completed ones (the last
/// `HISTORY_LIMIT` per desk) and those under way. One journal scan; no WorkSpaces call.
pub async fn history(stack: &DeployedStack, since: Option<Timestamp>) -> Result<Vec<HistoryEntry>, OpsError> {
    let records = stack.journal().list().await?;
    Ok(entries(&records, since))
}
