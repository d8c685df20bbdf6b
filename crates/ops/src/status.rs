//! `blankslate status`: reads the journal and the fleet, and asks the core what each desk
//! does next (`blankslate_core::status`).

use std::collections::{BTreeMap, BTreeSet};

use blankslate_core::config::MAX_BATCH;
use blankslate_core::ids::WorkspaceId;
use blankslate_core::status::{fleet_status, FleetStatus, StatusInput};
use blankslate_core::Timestamp;
use blankslate_handlers::ports::{Journal, Workspaces};

use crate::{DeployedStack, OpsError};

/// The most DescribeTags calls one `status` makes (one per WorkSpace not in the journal,
/// for a tag selector). The account's WorkSpaces API rate (about 2 requests/s) is shared
/// with the reconciler; beyond this many the rest are reported as unchecked.
pub const MAX_TAG_READS: usize = 100;

/// Reads everything `status` shows: the journal, every WorkSpace (DescribeWorkspaces,
/// pages of 25), the connection states of managed and selectable WorkSpaces (25 per
/// call) and, for a tag selector, the tags of up to [`MAX_TAG_READS`] WorkSpaces not in
/// the journal (one call each). About `fleet / 25 * 2` calls plus the tag reads, shared
/// with the reconciler's budget: fine for an admin's look, not for a tight loop.
pub async fn read(stack: &DeployedStack) -> Result<StatusInput, OpsError> {
    let journal = stack.journal();
    let workspaces = stack.workspaces();
    let records = journal.list().await?;
    let described = workspaces.describe_all().await?;
    let journal_ids: BTreeSet<&WorkspaceId> = records.iter().filter_map(|r| r.workspace_id()).collect();
    let journal_desks: BTreeSet<_> = records.iter().map(|r| r.desk.clone()).collect();
    let selector = &stack.config.selector;
    let mut tags = BTreeMap::new();
    for desc in &described {
        if journal_ids.contains(&desc.id) || journal_desks.contains(&desc.spec.desk()) || desc.state.is_going() {
            continue;
        }
        if selector.needs_tags() && tags.len() < MAX_TAG_READS {
            tags.insert(desc.id.clone(), workspaces.tags(&desc.id).await?);
        }
    }
    // Connection states of the managed WorkSpaces and of those awaiting enrolment; the
    // unmanaged ones are only counted, never read further.
    let selected = |d: &blankslate_core::observe::WorkspaceDescription| {
        let mut spec = d.spec.clone();
        match tags.get(&d.id) {
            Some(t) => spec.tags = t.clone(),
            None if selector.needs_tags() => return false,
            None => {}
        }
        !journal_desks.contains(&d.spec.desk()) && !d.state.is_going() && selector.matches(&spec)
    };
    let wanted: Vec<WorkspaceId> =
        described.iter().filter(|d| journal_ids.contains(&d.id) || selected(d)).map(|d| d.id.clone()).collect();
    let mut connections = BTreeMap::new();
    for chunk in wanted.chunks(MAX_BATCH) {
        for c in workspaces.connection_status(chunk).await? {
            connections.insert(c.id.clone(), c);
        }
    }
    let pacing = journal.pacing().await?;
    Ok(StatusInput { records, workspaces: described, connections, tags, pacing })
}

/// Which desks to show.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this directory.
    pub directory: Option<String>,
    /// Only this user.
    pub user: Option<String>,
    /// Only this phase (`active`, `disconnected`, `terminating`, `creating`, `unenrolled`).
    pub phase: Option<String>,
}

/// The phases `--phase` accepts.
pub const PHASES: &[&str] = &["active", "disconnected", "terminating", "creating", "unenrolled"];

/// Reads and judges the fleet at `now`, keeping the desks `filter` selects (the unmanaged
/// count and the in-flight figures stay fleet-wide).
pub async fn status(stack: &DeployedStack, now: Timestamp, filter: &Filter) -> Result<FleetStatus, OpsError> {
    let input = read(stack).await?;
    let mut status = fleet_status(now, &stack.config, &input);
    status.desks.retain(|d| {
        filter.directory.as_ref().is_none_or(|v| &d.directory == v)
            && filter.user.as_ref().is_none_or(|v| d.user.eq_ignore_ascii_case(v))
            && filter.phase.as_ref().is_none_or(|v| d.phase == v)
    });
    Ok(status)
}
