//! `blankslate enrol` and `release`: put the deployment's opt-in tag on chosen WorkSpaces,
//! or take it off.
//!
//! Three steps, the middle one pure:
//! 1. [`resolve`] reads what the admin chose (by ID, directory, user: every given filter
//!    must hold), each WorkSpace's tags, and for a release the journal.
//! 2. [`plan`] decides, per WorkSpace, the tag before and after, or why it is left alone.
//!    This is what `--dry-run` prints, and exactly what [`apply`] then does.
//! 3. [`apply`] makes one CreateTags or DeleteTags call per changed WorkSpace (tags are
//!    per resource in WorkSpaces; there is no batch call), reporting each outcome.
//!
//! Only a `tag:` selector can be steered this way: for `directory:`, `bundle:` or `all`
//! what is managed follows from where a WorkSpace lives, so [`OptInTag::from_selector`]
//! refuses with the way to change it instead.
//!
//! **What happens after the tag changes** (the reconciler's rules, not new ones):
//! - enrol: the reconciler's next sweep (every `sweep_period`) sees the tag and enrols the
//!   WorkSpace (journal record, alarm). Only connections after that make it due for a
//!   rebuild, so enrolling never wipes a desktop in use.
//! - release: the reconciler re-reads a managed desk's tags right before it would
//!   terminate it (S2); finding the tag gone, it releases the desk (journal record and
//!   alarm deleted) instead of rebuilding it. Until then the record stays, harmlessly.
//!   A desk in the middle of a rebuild (terminating or creating) is refused: its
//!   re-created WorkSpace carries the tags read before the termination, opt-in tag
//!   included, so a release now would not last; release it once the rebuild is done.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use blankslate_aws::{AwsWorkspaces, DynamoJournal};
use blankslate_core::config::MAX_BATCH;
use blankslate_core::ids::{DeskKey, DirectoryId, UserName, WorkspaceId};
use blankslate_core::journal::{Phase, Record};
use blankslate_core::observe::{WorkspaceDescription, WorkspaceState};
use blankslate_core::selector::Selector;
use blankslate_core::spec::{TagKey, TagValue, Tags};
use blankslate_handlers::ports::{Journal, Workspaces};
use serde::Serialize;

use crate::OpsError;

/// The value `enrol` gives the tag when the selector names only a key (`tag:KEY`, any
/// value matches): the README's own example, `tag:blankslate=on`.
pub const DEFAULT_TAG_VALUE: &str = "on";

/// Put the opt-in tag on, or take it off.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Direction {
    /// `blankslate enrol`.
    Enrol,
    /// `blankslate release`.
    Release,
}

/// The deployment's opt-in tag: the key, and the value the selector demands (if any).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OptInTag {
    /// The tag key.
    pub key: TagKey,
    /// The value a `tag:KEY=VALUE` selector demands; `None` for `tag:KEY`.
    pub value: Option<TagValue>,
}

impl OptInTag {
    /// The opt-in tag of a `tag:` selector; any other selector is refused with how to
    /// change what it manages.
    pub fn from_selector(selector: &Selector) -> Result<Self, OpsError> {
        match selector {
            Selector::Tag { key, value } => Ok(Self { key: key.clone(), value: value.clone() }),
            other => Err(OpsError::Usage(format!(
                "the stack's selector is {other}: it manages WorkSpaces by {}, not by a tag, so enrol and release \
                 cannot change what it manages. Redeploy with `blankslate deploy --selector tag:KEY[=VALUE]` to \
                 opt WorkSpaces in one by one, or with another --selector list",
                match other {
                    Selector::Directories(_) => "directory",
                    Selector::Bundles(_) => "bundle",
                    _ => "being in the Region (all)",
                }
            ))),
        }
    }

    /// The value `enrol` writes.
    pub fn enrol_value(&self) -> TagValue {
        self.value.clone().unwrap_or_else(|| TagValue::new(DEFAULT_TAG_VALUE).expect("a valid constant"))
    }

    /// Whether `tags` make a WorkSpace managed (the selector's own rule).
    pub fn matches(&self, tags: &Tags) -> bool {
        match (tags.get(&self.key), &self.value) {
            (Some(found), Some(wanted)) => found == wanted,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }
}

impl fmt::Display for OptInTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            Some(v) => write!(f, "{}={v}", self.key),
            None => write!(f, "{}", self.key),
        }
    }
}

/// Which WorkSpaces the admin chose: every given filter must hold; at least one is needed.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Selection {
    /// `--workspace-id`, repeatable.
    pub ids: Vec<WorkspaceId>,
    /// `--directory`.
    pub directory: Option<DirectoryId>,
    /// `--user` (user names compare without regard to ASCII case, as directories do).
    pub user: Option<UserName>,
}

impl Selection {
    /// Refuses an empty selection: enrolling "everything" must go through the selector.
    pub fn check(&self) -> Result<(), OpsError> {
        if self.ids.is_empty() && self.directory.is_none() && self.user.is_none() {
            return Err(OpsError::Usage(
                "choose the WorkSpaces: --workspace-id ID (repeatable), --directory ID and/or --user NAME".into(),
            ));
        }
        Ok(())
    }

    /// Whether `desc` passes every filter.
    pub fn matches(&self, desc: &WorkspaceDescription) -> bool {
        (self.ids.is_empty() || self.ids.contains(&desc.id))
            && self.directory.as_ref().is_none_or(|d| *d == desc.spec.directory_id)
            && self.user.as_ref().is_none_or(|u| u.as_str().eq_ignore_ascii_case(desc.spec.user_name.as_str()))
    }

    /// What was asked for, for messages.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.ids.is_empty() {
            parts.push(self.ids.iter().map(|i| i.as_str()).collect::<Vec<_>>().join(", "));
        }
        if let Some(d) = &self.directory {
            parts.push(format!("directory {d}"));
        }
        if let Some(u) = &self.user {
            parts.push(format!("user {u}"));
        }
        parts.join(" and ")
    }
}

/// One chosen WorkSpace as read: its description, its tags, its desk's journal phase.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Candidate {
    /// From DescribeWorkspaces.
    pub description: WorkspaceDescription,
    /// From DescribeTags.
    pub tags: Tags,
    /// The journal phase of its desk, when the journal was read and has the desk.
    pub phase: Option<&'static str>,
    /// True when that phase is mid-rebuild (terminating or creating).
    pub rebuilding: bool,
}

/// What will happen to one WorkSpace.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Outcome {
    /// The tag changes from `before` to `after` (`None`: absent).
    Change,
    /// Nothing to do; why.
    Unchanged {
        /// Why nothing changes.
        reason: String,
    },
    /// Refused; why, and what to do.
    Refused {
        /// Why, and what to do.
        reason: String,
    },
}

/// One line of the plan.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Planned {
    /// The WorkSpace.
    pub workspace_id: WorkspaceId,
    /// Its user.
    pub user: UserName,
    /// Its directory.
    pub directory: DirectoryId,
    /// Its state.
    pub state: WorkspaceState,
    /// The journal phase of its desk, if the journal was read and has it.
    pub phase: Option<&'static str>,
    /// The opt-in tag's value before (`None`: absent).
    pub before: Option<TagValue>,
    /// Its value after (`None`: absent).
    pub after: Option<TagValue>,
    /// What happens.
    #[serde(flatten)]
    pub outcome: Outcome,
}

/// Decides, per candidate, the tag before and after. Pure: `--dry-run` prints this, and
/// [`apply`] does exactly the `Change` lines.
pub fn plan(direction: Direction, tag: &OptInTag, candidates: &[Candidate]) -> Vec<Planned> {
    candidates
        .iter()
        .map(|c| {
            let d = &c.description;
            let before = c.tags.get(&tag.key).cloned();
            let managed = tag.matches(&c.tags);
            let (after, outcome) = if d.state.is_going() {
                (before.clone(), refused(format!("it is {} and will not come back", d.state)))
            } else {
                match direction {
                    Direction::Enrol if managed => {
                        (before.clone(), unchanged(format!("already has {}", shown(tag, &before))))
                    }
                    Direction::Enrol => (Some(tag.enrol_value()), Outcome::Change),
                    Direction::Release if c.rebuilding => (
                        before.clone(),
                        refused(format!(
                            "its desk is being rebuilt ({}): the new WorkSpace copies the old one's tags, so release \
                             it once `blankslate status` shows it active",
                            c.phase.unwrap_or("rebuilding")
                        )),
                    ),
                    Direction::Release if managed => (None, Outcome::Change),
                    Direction::Release => (
                        before.clone(),
                        unchanged(match &before {
                            Some(v) => format!("its {}={v} does not match the selector: not enrolled", tag.key),
                            None => format!("has no {} tag: not enrolled", tag.key),
                        }),
                    ),
                }
            };
            Planned {
                workspace_id: d.id.clone(),
                user: d.spec.user_name.clone(),
                directory: d.spec.directory_id.clone(),
                state: d.state,
                phase: c.phase,
                before,
                after,
                outcome,
            }
        })
        .collect()
}

fn shown(tag: &OptInTag, value: &Option<TagValue>) -> String {
    match value {
        Some(v) => format!("{}={v}", tag.key),
        None => format!("no {}", tag.key),
    }
}

fn unchanged(reason: String) -> Outcome {
    Outcome::Unchanged { reason }
}

fn refused(reason: String) -> Outcome {
    Outcome::Refused { reason }
}

/// Reads the chosen WorkSpaces (DescribeWorkspaces: by ID in batches of 25, by directory
/// or directory and user with the API's filters, by user alone over the whole fleet), then
/// each one's tags (DescribeTags, one call each: `progress` is told after each), and, when
/// `journal` is given, the journal's records (one Scan) to find desks mid-rebuild.
///
/// An ID that names no WorkSpace in the Region is an error naming it: a typo must not
/// silently shrink the selection. A selection that matches nothing is an error too.
pub async fn resolve(
    workspaces: &AwsWorkspaces,
    journal: Option<&DynamoJournal>,
    selection: &Selection,
    region: &str,
    mut progress: impl FnMut(usize, usize),
) -> Result<Vec<Candidate>, OpsError> {
    selection.check()?;
    let mut found: BTreeMap<WorkspaceId, WorkspaceDescription> = BTreeMap::new();
    if !selection.ids.is_empty() {
        let unique: BTreeSet<&WorkspaceId> = selection.ids.iter().collect();
        let unique: Vec<WorkspaceId> = unique.into_iter().cloned().collect();
        for chunk in unique.chunks(MAX_BATCH) {
            found.extend(workspaces.describe(chunk).await?.into_iter().map(|d| (d.id.clone(), d)));
        }
        let missing: Vec<&str> = unique.iter().filter(|id| !found.contains_key(*id)).map(|id| id.as_str()).collect();
        if !missing.is_empty() {
            return Err(OpsError::Usage(format!(
                "no WorkSpace {} in {region} (terminated, or in another Region: pass --region)",
                missing.join(", ")
            )));
        }
    } else if let Some(directory) = &selection.directory {
        let user = selection.user.as_ref();
        found.extend(workspaces.describe_directory(directory, user).await?.into_iter().map(|d| (d.id.clone(), d)));
    } else {
        found.extend(workspaces.describe_all().await?.into_iter().map(|d| (d.id.clone(), d)));
    }
    let chosen: Vec<WorkspaceDescription> = found.into_values().filter(|d| selection.matches(d)).collect();
    if chosen.is_empty() {
        return Err(OpsError::Usage(format!("no WorkSpace in {region} matches {}", selection.describe())));
    }
    let records: BTreeMap<DeskKey, Record> = match journal {
        Some(journal) => journal.list().await?.into_iter().map(|r| (r.desk.clone(), r)).collect(),
        None => BTreeMap::new(),
    };
    let mut candidates = Vec::with_capacity(chosen.len());
    let total = chosen.len();
    for (done, description) in chosen.into_iter().enumerate() {
        let tags = workspaces.tags(&description.id).await?;
        let record = records.get(&description.spec.desk());
        candidates.push(Candidate {
            phase: record.map(|r| r.phase.name()),
            rebuilding: record.is_some_and(|r| matches!(r.phase, Phase::Terminating { .. } | Phase::Creating { .. })),
            description,
            tags,
        });
        progress(done + 1, total);
    }
    Ok(candidates)
}

/// What one applied change came to.
#[derive(Clone, PartialEq, Eq, Debug, Serialize)]
pub struct Applied {
    /// The WorkSpace.
    pub workspace_id: WorkspaceId,
    /// `None` when the call succeeded; AWS's error otherwise.
    pub error: Option<String>,
}

/// Makes the plan's changes: CreateTags or DeleteTags, one call per WorkSpace. A failed
/// call is recorded and the rest go on; `progress` is told after each.
pub async fn apply(
    workspaces: &AwsWorkspaces,
    direction: Direction,
    tag: &OptInTag,
    plan: &[Planned],
    mut progress: impl FnMut(usize, usize),
) -> Vec<Applied> {
    let changes: Vec<&Planned> = plan.iter().filter(|p| p.outcome == Outcome::Change).collect();
    let mut applied = Vec::with_capacity(changes.len());
    for (done, p) in changes.iter().enumerate() {
        let result = match direction {
            Direction::Enrol => workspaces.set_tag(&p.workspace_id, &tag.key, &tag.enrol_value()).await,
            Direction::Release => workspaces.remove_tag(&p.workspace_id, &tag.key).await,
        };
        applied.push(Applied { workspace_id: p.workspace_id.clone(), error: result.err().map(|e| e.to_string()) });
        progress(done + 1, changes.len());
    }
    applied
}

#[cfg(test)]
mod tests {
    use blankslate_core::ids::BundleId;
    use blankslate_core::spec::WorkspaceSpec;

    use super::*;

    fn candidate(
        id: &str,
        user: &str,
        state: WorkspaceState,
        tags: &[(&str, &str)],
        phase: Option<&Phase>,
    ) -> Candidate {
        let spec = WorkspaceSpec::new(
            DirectoryId::new("d-9067083b4b").unwrap(),
            UserName::new(user).unwrap(),
            BundleId::new("wsb-clj85qzj1").unwrap(),
        );
        Candidate {
            description: WorkspaceDescription { id: WorkspaceId::new(id).unwrap(), state, spec, computer_name: None },
            tags: Tags::from_pairs(tags.iter().copied()).unwrap(),
            phase: phase.map(Phase::name),
            rebuilding: phase.is_some_and(Phase::is_rebuilding),
        }
    }

    fn tag(selector: &str) -> OptInTag {
        OptInTag::from_selector(&selector.parse().unwrap()).unwrap()
    }

    fn summary(plan: &[Planned]) -> Vec<(String, Option<String>, Option<String>, &'static str)> {
        plan.iter()
            .map(|p| {
                (
                    p.workspace_id.to_string(),
                    p.before.as_ref().map(|v| v.to_string()),
                    p.after.as_ref().map(|v| v.to_string()),
                    match p.outcome {
                        Outcome::Change => "change",
                        Outcome::Unchanged { .. } => "unchanged",
                        Outcome::Refused { .. } => "refused",
                    },
                )
            })
            .collect()
    }

    fn row(
        id: &str,
        before: Option<&str>,
        after: Option<&str>,
        outcome: &'static str,
    ) -> (String, Option<String>, Option<String>, &'static str) {
        (id.into(), before.map(Into::into), after.map(Into::into), outcome)
    }

    #[test]
    fn only_tag_selectors_can_be_steered_and_the_refusal_says_how() {
        for (selector, named) in
            [("directory:d-9067083b4b", "directory"), ("bundle:wsb-clj85qzj1", "bundle"), ("all", "all")]
        {
            let err = OptInTag::from_selector(&selector.parse().unwrap()).unwrap_err().to_string();
            assert!(err.contains(named) && err.contains("--selector tag:KEY"), "{selector}: {err}");
        }
        assert_eq!(tag("tag:blankslate").enrol_value().as_str(), DEFAULT_TAG_VALUE);
        assert_eq!(tag("tag:lab=kiosk").enrol_value().as_str(), "kiosk");
    }

    #[test]
    fn enrol_plans_by_selector_and_current_tags() {
        let available = WorkspaceState::Available;
        let candidates = [
            candidate("ws-aaaaaaaa1", "alice", available, &[("team", "x")], None),
            candidate("ws-aaaaaaaa2", "bob", available, &[("blankslate", "on")], None),
            candidate("ws-aaaaaaaa3", "carol", available, &[("blankslate", "off")], None),
            candidate("ws-aaaaaaaa4", "dan", WorkspaceState::Terminating, &[], None),
        ];
        // tag:KEY: any value is enrolled already; an absent tag gets the default value.
        assert_eq!(
            summary(&plan(Direction::Enrol, &tag("tag:blankslate"), &candidates)),
            [
                row("ws-aaaaaaaa1", None, Some("on"), "change"),
                row("ws-aaaaaaaa2", Some("on"), Some("on"), "unchanged"),
                row("ws-aaaaaaaa3", Some("off"), Some("off"), "unchanged"),
                row("ws-aaaaaaaa4", None, None, "refused"),
            ]
        );
        // tag:KEY=VALUE: a different value is overwritten.
        assert_eq!(
            summary(&plan(Direction::Enrol, &tag("tag:blankslate=on"), &candidates)),
            [
                row("ws-aaaaaaaa1", None, Some("on"), "change"),
                row("ws-aaaaaaaa2", Some("on"), Some("on"), "unchanged"),
                row("ws-aaaaaaaa3", Some("off"), Some("on"), "change"),
                row("ws-aaaaaaaa4", None, None, "refused"),
            ]
        );
    }

    #[test]
    fn release_removes_only_a_matching_tag_and_refuses_desks_mid_rebuild() {
        let available = WorkspaceState::Available;
        let id = WorkspaceId::new("ws-aaaaaaaa5").unwrap();
        let terminating = Phase::Terminating {
            workspace_id: id.clone(),
            disconnected_at: blankslate_core::Timestamp::from_millis(0),
            started_at: blankslate_core::Timestamp::from_millis(0),
            requested_at: blankslate_core::Timestamp::from_millis(0),
            attempts: 1,
        };
        let active = Phase::Active { workspace_id: id };
        let candidates = [
            candidate("ws-aaaaaaaa1", "alice", available, &[("team", "x")], None),
            candidate("ws-aaaaaaaa2", "bob", available, &[("blankslate", "on")], Some(&active)),
            candidate("ws-aaaaaaaa3", "carol", available, &[("blankslate", "off")], None),
            candidate("ws-aaaaaaaa5", "erin", available, &[("blankslate", "on")], Some(&terminating)),
        ];
        let planned = plan(Direction::Release, &tag("tag:blankslate=on"), &candidates);
        assert_eq!(
            summary(&planned),
            [
                row("ws-aaaaaaaa1", None, None, "unchanged"),
                row("ws-aaaaaaaa2", Some("on"), None, "change"),
                row("ws-aaaaaaaa3", Some("off"), Some("off"), "unchanged"),
                row("ws-aaaaaaaa5", Some("on"), Some("on"), "refused"),
            ]
        );
        let Outcome::Refused { reason } = &planned[3].outcome else { unreachable!() };
        assert!(reason.contains("terminating") && reason.contains("blankslate status"), "{reason}");
        // Under tag:KEY any value is managed, so any value is removed.
        let planned = plan(Direction::Release, &tag("tag:blankslate"), &candidates[2..3]);
        assert_eq!(summary(&planned), [row("ws-aaaaaaaa3", Some("off"), None, "change")]);
    }

    #[test]
    fn a_selection_needs_a_filter_and_every_filter_must_hold() {
        assert!(Selection::default().check().unwrap_err().to_string().contains("--workspace-id"));
        let c = candidate("ws-aaaaaaaa1", "Alice", WorkspaceState::Available, &[], None).description;
        let by = |ids: &[&str], directory: Option<&str>, user: Option<&str>| Selection {
            ids: ids.iter().map(|i| WorkspaceId::new(*i).unwrap()).collect(),
            directory: directory.map(|d| DirectoryId::new(d).unwrap()),
            user: user.map(|u| UserName::new(u).unwrap()),
        };
        assert!(by(&["ws-aaaaaaaa1"], None, None).matches(&c));
        assert!(by(&[], Some("d-9067083b4b"), Some("alice")).matches(&c));
        assert!(!by(&[], Some("d-9067083b4b"), Some("bob")).matches(&c));
        assert!(!by(&["ws-aaaaaaaa1"], Some("d-0000000000"), None).matches(&c));
        assert_eq!(by(&["ws-aaaaaaaa1"], None, Some("bob")).describe(), "ws-aaaaaaaa1 and user bob");
    }
}
