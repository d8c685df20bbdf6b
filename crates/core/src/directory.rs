//! Directory clean-up: which Active Directory computer object may be deleted (S5).
//!
//! Every WorkSpace joins its directory as a computer object named by its
//! `ComputerName` (DescribeWorkspaces), and terminating the WorkSpace leaves that
//! object behind. blankslate deletes the object of each WorkSpace it terminated, once
//! the WorkSpace's ID has vanished. Which object that is, and whether it may go, is
//! decided here from what an LDAP search returned ([`guard`]), so the rule that keeps
//! S5 ("never delete or change a directory object that is not the computer object of
//! a WorkSpace blankslate terminated") is one plain function, tested with tables and
//! used by every shell: the LDAP adapter, the simulator, `blankslate directory orphans`.
//!
//! A clean-up never waits for anything and nothing waits for it: it is queued on the
//! desk's journal record when the old WorkSpace is gone ([`Cleanup::queue`]) and carried
//! out after the tick's creates, with back-off while the directory cannot be reached
//! ([`Cleanup::after_failure`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::ids::{DeskKey, WorkspaceId};
use crate::journal::Record;
use crate::reconcile::{Notice, Step, Write};
use crate::time::Timestamp;
use crate::validated::validated_string;
use crate::ValidationError;

pub mod acl;
pub mod function;

validated_string!(
    /// A WorkSpace's `ComputerName`, which is its computer object's NetBIOS name: 1 to 15
    /// letters, digits or hyphens (e.g. `WSAMZN-1A2B3C4D`). The alphabet leaves no LDAP
    /// filter metacharacter to escape, so a name can go into a filter as it is.
    ComputerName,
    "ComputerName",
    |v| {
        let len = v.chars().count();
        if !(1..=15).contains(&len) {
            return Err(format!("a NetBIOS computer name has 1 to 15 characters, found {len}"));
        }
        if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("may only contain letters, digits and hyphens".into());
        }
        Ok(())
    }
);

impl ComputerName {
    /// The computer account's `sAMAccountName`: the name followed by `$`.
    pub fn sam_account_name(&self) -> String {
        format!("{}$", self.as_str())
    }

    /// The LDAP filter that finds this computer object and nothing else of another class.
    pub fn search_filter(&self) -> String {
        format!("(&(objectClass=computer)(sAMAccountName={}))", self.sam_account_name())
    }

    /// Equal as Active Directory compares names: ignoring ASCII case.
    pub fn same_as(&self, other: &str) -> bool {
        self.as_str().eq_ignore_ascii_case(other)
    }
}

/// One computer object as an LDAP search returned it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct FoundObject {
    /// Its distinguished name.
    pub dn: String,
    /// Its `sAMAccountName`, as stored (`NAME$`).
    pub sam_account_name: String,
    /// Its `whenCreated`, if the directory returned one.
    pub when_created: Option<Timestamp>,
}

impl FoundObject {
    /// The computer name: the `sAMAccountName` without its trailing `$`.
    pub fn computer_name(&self) -> &str {
        self.sam_account_name.strip_suffix('$').unwrap_or(&self.sam_account_name)
    }
}

/// What [`guard`] decided about one computer object.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Verdict {
    /// Exactly the object of the terminated WorkSpace: delete this DN.
    Delete {
        /// The object to delete.
        dn: String,
    },
    /// Nothing matched: nothing to do. Either it was deleted already (by us on an earlier
    /// try, by an admin) or the directory type removes it itself on termination.
    NotFound,
    /// More than one object matched; deleting any of them could hit the wrong one.
    Ambiguous {
        /// How many matched.
        count: usize,
    },
    /// The one match does not carry exactly the `sAMAccountName` searched for.
    NameMismatch {
        /// What it carried.
        found: String,
    },
    /// The one match lies outside the configured base DN (the WorkSpaces OU).
    OutsideBase {
        /// Its DN.
        dn: String,
    },
    /// The one match was created after the WorkSpace was terminated: a new machine has
    /// taken the name since, and it is not ours to delete.
    TooNew {
        /// Its DN.
        dn: String,
        /// Its `whenCreated`.
        created: Timestamp,
    },
}

impl Verdict {
    /// The DN to delete, when the verdict allows a delete.
    pub fn deletable(&self) -> Option<&str> {
        match self {
            Self::Delete { dn } => Some(dn),
            _ => None,
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Delete { dn } => write!(f, "delete {dn}"),
            Self::NotFound => {
                f.write_str("no such computer object: nothing to delete (already gone, or the directory removed it)")
            }
            Self::Ambiguous { count } => write!(f, "{count} objects match: none deleted"),
            Self::NameMismatch { found } => write!(f, "the match is named {found:?}: not deleted"),
            Self::OutsideBase { dn } => write!(f, "{dn} is outside the base DN: not deleted"),
            Self::TooNew { dn, created } => {
                write!(f, "{dn} was created at {created}, after the WorkSpace was terminated: not deleted")
            }
        }
    }
}

/// Parses an LDAP GeneralizedTime as AD writes `whenCreated` (`20261202170733.0Z`);
/// `None` for anything else, so an unreadable time counts as unknown, never as old.
pub fn parse_generalized_time(text: &str) -> Option<Timestamp> {
    let (digits, fraction) = match text.strip_suffix('Z')?.split_once(['.', ',']) {
        Some((d, f)) => (d, f),
        None => (text.strip_suffix('Z')?, ""),
    };
    if digits.len() != 14
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !fraction.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let time = chrono::NaiveDateTime::parse_from_str(digits, "%Y%m%d%H%M%S").ok()?;
    let millis: i64 = format!("{fraction:0<3}")[..3].parse().ok()?;
    Some(Timestamp::from_millis(time.and_utc().timestamp_millis() + millis))
}

/// The S5 guard. Given what a search under `base_dn` for [`ComputerName::search_filter`]
/// returned, decides whether the one computer object of the WorkSpace terminated at
/// `terminated_at` may be deleted: only if exactly one object matched, its
/// `sAMAccountName` is exactly `NAME$` (ignoring case, as AD does), it lies below
/// `base_dn`, and, where its `whenCreated` is known, it is older than the termination.
pub fn guard(name: &ComputerName, base_dn: &str, terminated_at: Timestamp, found: &[FoundObject]) -> Verdict {
    let object = match found {
        [] => return Verdict::NotFound,
        [one] => one,
        many => return Verdict::Ambiguous { count: many.len() },
    };
    if !object.sam_account_name.eq_ignore_ascii_case(&name.sam_account_name()) {
        return Verdict::NameMismatch { found: object.sam_account_name.clone() };
    }
    if !dn_is_below(&object.dn, base_dn) {
        return Verdict::OutsideBase { dn: object.dn.clone() };
    }
    if let Some(created) = object.when_created {
        if created >= terminated_at {
            return Verdict::TooNew { dn: object.dn.clone(), created };
        }
    }
    Verdict::Delete { dn: object.dn.clone() }
}

/// True when `dn` names an object strictly below `base` (compared RDN by RDN, ignoring
/// ASCII case and the spaces around `,` and `=` that LDAP allows). A DN that cannot be
/// split (an unbalanced escape) is never below anything.
pub fn dn_is_below(dn: &str, base: &str) -> bool {
    let (Some(dn), Some(base)) = (rdns(dn), rdns(base)) else { return false };
    if base.is_empty() || dn.len() <= base.len() {
        return false;
    }
    dn[dn.len() - base.len()..] == base[..]
}

/// The RDNs of a DN, normalised for comparison; `None` if it ends inside an escape.
fn rdns(dn: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = dn.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                current.push(c);
                current.push(chars.next()?);
            }
            ',' => out.push(normalise_rdn(&std::mem::take(&mut current))),
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() || !out.is_empty() {
        out.push(normalise_rdn(&current));
    }
    if out.iter().any(|r| r.is_empty()) {
        return None;
    }
    Some(out)
}

fn normalise_rdn(rdn: &str) -> String {
    match rdn.split_once('=') {
        Some((attr, value)) => format!("{}={}", attr.trim(), value.trim()).to_ascii_lowercase(),
        None => rdn.trim().to_ascii_lowercase(),
    }
}

/// The default prefix of the computer names WorkSpaces gives (`WSAMZN-1A2B3C4D`).
pub const WORKSPACES_PREFIX: &str = "WSAMZN-";

/// The orphan rule of `blankslate directory orphans`: the objects among `objects` (all
/// below the base DN) whose name starts with `prefix` (ignoring case) and is the
/// `ComputerName` of none of the `existing` WorkSpaces. Objects that do not look like
/// WorkSpaces are never orphans, whatever their name.
pub fn orphans<'a>(objects: &'a [FoundObject], existing: &[ComputerName], prefix: &str) -> Vec<&'a FoundObject> {
    let existing: BTreeSet<String> = existing.iter().map(|n| n.as_str().to_ascii_uppercase()).collect();
    let prefix = prefix.to_ascii_uppercase();
    objects
        .iter()
        .filter(|o| o.sam_account_name.ends_with('$'))
        .filter(|o| {
            let name = o.computer_name().to_ascii_uppercase();
            name.starts_with(&prefix) && !existing.contains(&name)
        })
        .collect()
}

/// [`orphans`] against the fleet as DescribeWorkspaces shows it. While some WorkSpace
/// shows no name yet (PENDING), an object of unknown age could be its object, so only
/// objects whose age is known are listed (deleting them is guarded by that age).
pub fn fleet_orphans<'a>(
    objects: &'a [FoundObject],
    fleet: &[crate::observe::WorkspaceDescription],
    prefix: &str,
) -> Vec<&'a FoundObject> {
    let existing: Vec<ComputerName> = fleet.iter().filter_map(|d| d.computer_name.clone()).collect();
    let some_unnamed = fleet.iter().any(|d| d.computer_name.is_none() && !d.state.is_going());
    orphans(objects, &existing, prefix).into_iter().filter(|o| !some_unnamed || o.when_created.is_some()).collect()
}

/// One computer object to delete: the desk, the WorkSpace blankslate terminated, its
/// computer name, and when the termination was confirmed (the ID had vanished).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct CleanupItem {
    /// The desk the WorkSpace belonged to.
    pub desk: DeskKey,
    /// The terminated WorkSpace.
    pub workspace_id: WorkspaceId,
    /// Its `ComputerName`.
    pub computer_name: ComputerName,
    /// When its ID was seen to have vanished. An object created later is not its object.
    pub terminated_at: Timestamp,
}

/// How a delete went, as the directory port reports it per item.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    /// The guard allowed it and the directory deleted the object.
    Deleted {
        /// The deleted object.
        dn: String,
    },
    /// The guard found no object (see [`Verdict::NotFound`]).
    NothingToDelete,
    /// The guard refused: the verdict says why. Final; an admin is told.
    Refused {
        /// Why.
        verdict: Verdict,
    },
    /// The directory could not be asked or refused the operation.
    Failed {
        /// Which kind of failure.
        kind: FailureKind,
        /// What the directory (or the transport) said.
        message: String,
    },
}

/// Why a clean-up failed.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// No directory server answered (every URL tried).
    Unreachable,
    /// The server's certificate is not trusted.
    CertificateNotTrusted,
    /// The bind user or password was refused (LDAP `invalidCredentials`, 49).
    BadCredentials,
    /// The bind account may not do this (LDAP `insufficientAccessRights`, 50).
    NoPermission,
    /// Anything else the server answered.
    Other,
}

impl FailureKind {
    /// A short name for displays.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::CertificateNotTrusted => "certificate not trusted",
            Self::BadCredentials => "bad credentials",
            Self::NoPermission => "no permission",
            Self::Other => "directory error",
        }
    }
}

/// Where a clean-up is.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum CleanupState {
    /// Not done yet: due at `due_at`.
    Pending {
        /// Failed attempts so far.
        attempts: u32,
        /// Not before this instant is it tried (again).
        due_at: Timestamp,
        /// The last failure, shown by history and named in the notice.
        last_error: Option<String>,
    },
    /// Done, for good or ill: the outcome is final.
    Done {
        /// When.
        at: Timestamp,
        /// How it ended.
        outcome: Outcome,
    },
}

/// A clean-up on a desk's journal record.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Cleanup {
    /// What to delete.
    pub item: CleanupItem,
    /// Where it is.
    pub state: CleanupState,
}

/// After this many failed attempts a clean-up is given up, and the admins are told (they
/// were told at [`NOTIFY_AT_ATTEMPT`] already). At the capped back-off that is about four
/// days of retries.
pub const MAX_ATTEMPTS: u32 = 200;

/// At this failed attempt the admins are notified (the object and the error).
pub const NOTIFY_AT_ATTEMPT: u32 = 3;

/// How many finished clean-ups a record keeps (like its rebuild history).
pub const KEEP_DONE: usize = 20;

/// What to do after a failed attempt.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AfterFailure {
    /// The clean-up's new state.
    pub state: CleanupState,
    /// Tell the admins now.
    pub notify: bool,
}

impl Cleanup {
    /// A clean-up queued when the terminated WorkSpace's ID has vanished, due at once.
    pub fn queue(item: CleanupItem) -> Self {
        let due_at = item.terminated_at;
        Self { item, state: CleanupState::Pending { attempts: 0, due_at, last_error: None } }
    }

    /// True while pending and due at `now`.
    pub fn is_due(&self, now: Timestamp) -> bool {
        matches!(self.state, CleanupState::Pending { due_at, .. } if due_at <= now)
    }

    /// True while not done.
    pub fn is_pending(&self) -> bool {
        matches!(self.state, CleanupState::Pending { .. })
    }

    /// The state after the port's `outcome` at `now`, and whether to notify the admins.
    /// Successes and refusals are final (a refusal is notified: the admin must look);
    /// failures are retried with back-off (1, 2, 4 ... 30 minutes), notified at the
    /// [`NOTIFY_AT_ATTEMPT`]th and given up, notified, at the [`MAX_ATTEMPTS`]th.
    pub fn after(&self, outcome: Outcome, now: Timestamp) -> AfterFailure {
        let attempts = match &self.state {
            CleanupState::Pending { attempts, .. } => *attempts,
            CleanupState::Done { .. } => 0,
        };
        match outcome {
            Outcome::Failed { kind, message } => {
                let attempts = attempts + 1;
                if attempts >= MAX_ATTEMPTS {
                    return AfterFailure {
                        state: CleanupState::Done { at: now, outcome: Outcome::Failed { kind, message } },
                        notify: true,
                    };
                }
                AfterFailure {
                    state: CleanupState::Pending {
                        attempts,
                        due_at: now + backoff(attempts),
                        last_error: Some(format!("{}: {message}", kind.name())),
                    },
                    notify: attempts == NOTIFY_AT_ATTEMPT,
                }
            }
            outcome @ Outcome::Refused { .. } => {
                AfterFailure { state: CleanupState::Done { at: now, outcome }, notify: true }
            }
            outcome => AfterFailure { state: CleanupState::Done { at: now, outcome }, notify: false },
        }
    }

    /// One line for history and notices.
    pub fn describe(&self) -> String {
        let name = &self.item.computer_name;
        match &self.state {
            CleanupState::Pending { attempts: 0, .. } => format!("computer object {name}: pending"),
            CleanupState::Pending { attempts, last_error, .. } => format!(
                "computer object {name}: retrying after {attempts} failure(s){}",
                last_error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default()
            ),
            CleanupState::Done { outcome: Outcome::Deleted { dn }, .. } => format!("computer object {dn} deleted"),
            CleanupState::Done { outcome: Outcome::NothingToDelete, .. } => {
                format!("computer object {name}: none found, nothing to delete")
            }
            CleanupState::Done { outcome: Outcome::Refused { verdict }, .. } => {
                format!("computer object {name}: {verdict}")
            }
            CleanupState::Done { outcome: Outcome::Failed { kind, message }, .. } => {
                format!("computer object {name}: gave up ({}: {message})", kind.name())
            }
        }
    }
}

/// The wait before attempt `attempts + 1`: 1, 2, 4 ... minutes, at most 30.
pub fn backoff(attempts: u32) -> Duration {
    let minutes = 1u64 << attempts.saturating_sub(1).min(5);
    Duration::from_secs(60 * minutes.min(30))
}

/// Keeps every pending clean-up and the last [`KEEP_DONE`] finished ones, oldest dropped.
pub fn trim(cleanups: &mut Vec<Cleanup>) {
    let done = cleanups.iter().filter(|c| !c.is_pending()).count();
    let mut excess = done.saturating_sub(KEEP_DONE);
    cleanups.retain(|c| {
        if excess > 0 && !c.is_pending() {
            excess -= 1;
            return false;
        }
        true
    });
}

/// The directory clean-up setting: off when absent from [`crate::config::Config`].
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DirectorySettings {
    /// The base DN searched (the WorkSpaces OU), e.g. `OU=WorkSpaces,DC=corp,DC=example`.
    pub base_dn: String,
    /// The computer-name prefix that marks an object as a WorkSpace's (orphan listing).
    pub prefix: String,
}

impl DirectorySettings {
    /// Validates a base DN (at least one `attr=value` RDN) and a prefix (1-15 name characters).
    pub fn new(base_dn: &str, prefix: &str) -> Result<Self, ValidationError> {
        match rdns(base_dn) {
            Some(r) if !r.is_empty() && r.iter().all(|rdn| rdn.contains('=')) => {}
            _ => {
                return Err(ValidationError::new(
                    "base DN",
                    base_dn,
                    "expected a DN like OU=WorkSpaces,DC=corp,DC=example",
                ))
            }
        }
        ComputerName::new(prefix).map_err(|e| ValidationError::new("computer-name prefix", prefix, e.reason))?;
        Ok(Self { base_dn: base_dn.to_string(), prefix: prefix.to_string() })
    }
}

/// The reconciler's hook at `Terminating -> Creating`: the terminated WorkSpace `gone`'s ID
/// has vanished, so its computer object (named in the record at the terminate intent) is
/// queued for clean-up on `record`, due at once. Nothing when clean-up is off or the name
/// was never known.
pub fn queue_on_gone(config: &Config, record: &Record, gone: &WorkspaceId, now: Timestamp) -> Record {
    let mut next = record.clone();
    if config.directory.is_none() {
        return next;
    }
    if let Some(computer_name) = next.computer_name.take() {
        let item =
            CleanupItem { desk: next.desk.clone(), workspace_id: gone.clone(), computer_name, terminated_at: now };
        next.cleanups.push(Cleanup::queue(item));
        trim(&mut next.cleanups);
    }
    next
}

/// The clean-ups due at `now`, from the records as this tick's `steps` leave them (a
/// clean-up queued by this tick is due in it). Empty when clean-up is off.
pub fn due(now: Timestamp, config: &Config, records: &[Record], steps: &[Step]) -> Vec<CleanupItem> {
    if config.directory.is_none() {
        return Vec::new();
    }
    let written: BTreeMap<&DeskKey, Option<&Record>> = steps
        .iter()
        .filter_map(|s| s.write.as_ref())
        .map(|w| (&w.record().desk, if matches!(w, Write::Delete(_)) { None } else { Some(w.record()) }))
        .collect();
    let known: BTreeSet<&DeskKey> = records.iter().map(|r| &r.desk).collect();
    let after = records.iter().filter_map(|r| written.get(&r.desk).copied().unwrap_or(Some(r)));
    let inserted = written.values().flatten().filter(|r| !known.contains(&r.desk)).copied();
    after.chain(inserted).flat_map(|r| r.cleanups.iter().filter(|c| c.is_due(now)).map(|c| c.item.clone())).collect()
}

/// The directory port's `outcome` for `item`, applied to the desk's current `record`: the
/// record to write (conditionally, as every write) and a notice for the admins when the
/// outcome calls for one. `None` when the record no longer holds that clean-up pending.
pub fn on_cleanup_result(
    record: &Record,
    item: &CleanupItem,
    outcome: Outcome,
    now: Timestamp,
) -> Option<(Record, Option<Notice>)> {
    let index = record.cleanups.iter().position(|c| c.is_pending() && c.item.workspace_id == item.workspace_id)?;
    let mut next = record.clone();
    next.updated_at = now;
    let after = next.cleanups[index].after(outcome, now);
    next.cleanups[index].state = after.state;
    let cleanup = &next.cleanups[index];
    let notice = after.notify.then(|| Notice {
        desk: record.desk.clone(),
        subject: format!("blankslate: computer object {} of {} not cleaned up", item.computer_name, item.workspace_id),
        message: format!(
            "{} (WorkSpace {} of {}, terminated at {}). Check the directory settings and the bind account's rights, or delete the object by hand.",
            cleanup.describe(),
            item.workspace_id,
            record.desk,
            item.terminated_at
        ),
    });
    trim(&mut next.cleanups);
    Some((next, notice))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str) -> ComputerName {
        ComputerName::new(n).unwrap()
    }

    fn obj(dn: &str, sam: &str, created: Option<i64>) -> FoundObject {
        FoundObject { dn: dn.into(), sam_account_name: sam.into(), when_created: created.map(Timestamp::from_millis) }
    }

    const BASE: &str = "OU=WorkSpaces,DC=corp,DC=example";

    #[test]
    fn computer_names_are_netbios_names() {
        for ok in ["WSAMZN-1A2B3C4D", "A", "IP-C6120A41", "abcdefghijklmno"] {
            assert!(ComputerName::new(ok).is_ok(), "{ok}");
        }
        for (bad, rule) in [
            ("", "1 to 15"),
            ("abcdefghijklmnop", "found 16"),
            ("WS AMZN", "letters, digits and hyphens"),
            ("WS*)(cn=*", "letters, digits and hyphens"),
            ("WSAMZN-1$", "letters, digits and hyphens"),
        ] {
            let err = ComputerName::new(bad).unwrap_err().to_string();
            assert!(err.contains("ComputerName") && err.contains(rule), "{bad}: {err}");
        }
        let n = name("WSAMZN-1A2B3C4D");
        assert_eq!(n.search_filter(), "(&(objectClass=computer)(sAMAccountName=WSAMZN-1A2B3C4D$))");
        assert!(n.same_as("wsamzn-1a2b3c4d"));
    }

    #[test]
    fn the_guard_deletes_exactly_the_one_old_object_below_the_base() {
        let n = name("WSAMZN-1A2B3C4D");
        let at = 1_000_000;
        let ours = "CN=WSAMZN-1A2B3C4D,OU=WorkSpaces,DC=corp,DC=example";
        let cases: Vec<(&str, Vec<FoundObject>, Verdict)> = vec![
            ("none", vec![], Verdict::NotFound),
            ("one, old", vec![obj(ours, "WSAMZN-1A2B3C4D$", Some(at - 1))], Verdict::Delete { dn: ours.into() }),
            ("one, age unknown", vec![obj(ours, "WSAMZN-1A2B3C4D$", None)], Verdict::Delete { dn: ours.into() }),
            (
                "case differs, as AD allows",
                vec![obj("cn=wsamzn-1a2b3c4d, ou=workspaces, dc=CORP,dc=example", "wsamzn-1a2b3c4d$", None)],
                Verdict::Delete { dn: "cn=wsamzn-1a2b3c4d, ou=workspaces, dc=CORP,dc=example".into() },
            ),
            (
                "nested OU below the base",
                vec![obj("CN=WSAMZN-1A2B3C4D,OU=Lab,OU=WorkSpaces,DC=corp,DC=example", "WSAMZN-1A2B3C4D$", None)],
                Verdict::Delete { dn: "CN=WSAMZN-1A2B3C4D,OU=Lab,OU=WorkSpaces,DC=corp,DC=example".into() },
            ),
            (
                "two",
                vec![
                    obj(ours, "WSAMZN-1A2B3C4D$", None),
                    obj("CN=X,OU=WorkSpaces,DC=corp,DC=example", "WSAMZN-1A2B3C4D$", None),
                ],
                Verdict::Ambiguous { count: 2 },
            ),
            (
                "user account without $",
                vec![obj(ours, "WSAMZN-1A2B3C4D", None)],
                Verdict::NameMismatch { found: "WSAMZN-1A2B3C4D".into() },
            ),
            (
                "another name",
                vec![obj(ours, "WSAMZN-1A2B3C4E$", None)],
                Verdict::NameMismatch { found: "WSAMZN-1A2B3C4E$".into() },
            ),
            (
                "outside the base",
                vec![obj("CN=WSAMZN-1A2B3C4D,CN=Computers,DC=corp,DC=example", "WSAMZN-1A2B3C4D$", None)],
                Verdict::OutsideBase { dn: "CN=WSAMZN-1A2B3C4D,CN=Computers,DC=corp,DC=example".into() },
            ),
            (
                "a suffix that is not an RDN boundary",
                vec![obj("CN=WSAMZN-1A2B3C4D,OU=OldWorkSpaces,DC=corp,DC=example", "WSAMZN-1A2B3C4D$", None)],
                Verdict::OutsideBase { dn: "CN=WSAMZN-1A2B3C4D,OU=OldWorkSpaces,DC=corp,DC=example".into() },
            ),
            ("the base itself", vec![obj(BASE, "WSAMZN-1A2B3C4D$", None)], Verdict::OutsideBase { dn: BASE.into() }),
            (
                "created at the termination",
                vec![obj(ours, "WSAMZN-1A2B3C4D$", Some(at))],
                Verdict::TooNew { dn: ours.into(), created: Timestamp::from_millis(at) },
            ),
            (
                "created after",
                vec![obj(ours, "WSAMZN-1A2B3C4D$", Some(at + 60_000))],
                Verdict::TooNew { dn: ours.into(), created: Timestamp::from_millis(at + 60_000) },
            ),
        ];
        for (what, found, expected) in cases {
            assert_eq!(guard(&n, BASE, Timestamp::from_millis(at), &found), expected, "{what}");
        }
    }

    #[test]
    fn when_created_reads_as_ad_writes_it() {
        let t = |s| parse_generalized_time(s).map(|t| t.to_rfc3339());
        assert_eq!(t("20261202170733.0Z").as_deref(), Some("2026-12-02T17:07:33.000Z"));
        assert_eq!(t("20261202170733Z").as_deref(), Some("2026-12-02T17:07:33.000Z"));
        assert_eq!(t("20261202170733.25Z").as_deref(), Some("2026-12-02T17:07:33.250Z"));
        for bad in ["", "2026-12-02", "20261302170733.0Z", "20261202170733.0", "2026120217073Z", "20261202170733.xZ"] {
            assert_eq!(t(bad), None, "{bad}");
        }
    }

    #[test]
    fn dns_compare_by_rdn() {
        for (dn, base, below) in [
            ("CN=a,OU=W,DC=x", "OU=W,DC=x", true),
            ("CN=a , OU = w ,dc=X", "ou=W,DC=x", true),
            ("CN=a\\,OU=W,DC=x", "OU=W,DC=x", false),
            ("CN=a\\,b,OU=W,DC=x", "OU=W,DC=x", true),
            ("OU=W,DC=x", "OU=W,DC=x", false),
            ("CN=a,OU=W,DC=y", "OU=W,DC=x", false),
            ("CN=a,OU=W,DC=x\\", "OU=W,DC=x", false),
            ("CN=a,,OU=W,DC=x", "OU=W,DC=x", false),
            ("CN=a,OU=W,DC=x", "", false),
        ] {
            assert_eq!(dn_is_below(dn, base), below, "{dn} below {base}");
        }
    }

    #[test]
    fn orphans_look_like_workspaces_and_match_none() {
        let objects = vec![
            obj("CN=WSAMZN-AAAA0001,OU=W,DC=x", "WSAMZN-AAAA0001$", None),
            obj("CN=WSAMZN-AAAA0002,OU=W,DC=x", "WSAMZN-AAAA0002$", None),
            obj("CN=wsamzn-aaaa0003,OU=W,DC=x", "wsamzn-aaaa0003$", None),
            obj("CN=PRINTSRV,OU=W,DC=x", "PRINTSRV$", None),
            obj("CN=WSAMZN-USER,OU=W,DC=x", "WSAMZN-USER", None),
        ];
        let existing = vec![name("wsamzn-aaaa0001")];
        let found: Vec<&str> =
            orphans(&objects, &existing, WORKSPACES_PREFIX).iter().map(|o| o.computer_name()).collect();
        assert_eq!(found, ["WSAMZN-AAAA0002", "wsamzn-aaaa0003"]);
        let found: Vec<&str> = orphans(&objects, &[], "PRINT").iter().map(|o| o.computer_name()).collect();
        assert_eq!(found, ["PRINTSRV"]);
    }

    fn item() -> CleanupItem {
        CleanupItem {
            desk: DeskKey {
                directory_id: crate::ids::DirectoryId::new("d-1234567890").unwrap(),
                user_name: crate::ids::UserName::new("alice").unwrap(),
            },
            workspace_id: WorkspaceId::new("ws-abcdefgh1").unwrap(),
            computer_name: name("WSAMZN-1A2B3C4D"),
            terminated_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn failures_back_off_notify_once_and_give_up() {
        let mut c = Cleanup::queue(item());
        assert!(c.is_due(Timestamp::from_millis(0)));
        let fail = || Outcome::Failed { kind: FailureKind::Unreachable, message: "connection refused".into() };
        let mut now = Timestamp::from_millis(0);
        let mut notified = Vec::new();
        let mut waits = Vec::new();
        for attempt in 1..=MAX_ATTEMPTS {
            let next = c.after(fail(), now);
            if next.notify {
                notified.push(attempt);
            }
            c.state = next.state;
            if let CleanupState::Pending { due_at, .. } = c.state {
                waits.push(due_at.since(now).as_secs() / 60);
                now = due_at;
            }
        }
        assert_eq!(&waits[..7], [1, 2, 4, 8, 16, 30, 30]);
        assert_eq!(notified, [NOTIFY_AT_ATTEMPT, MAX_ATTEMPTS]);
        assert!(!c.is_pending());
        assert!(c.describe().contains("gave up (unreachable: connection refused)"), "{}", c.describe());
    }

    #[test]
    fn outcomes_other_than_failures_are_final() {
        let c = Cleanup::queue(item());
        let now = Timestamp::from_millis(5);
        for (outcome, notify, says) in [
            (
                Outcome::Deleted { dn: "CN=WSAMZN-1A2B3C4D,OU=W,DC=x".into() },
                false,
                "CN=WSAMZN-1A2B3C4D,OU=W,DC=x deleted",
            ),
            (Outcome::NothingToDelete, false, "nothing to delete"),
            (Outcome::Refused { verdict: Verdict::Ambiguous { count: 2 } }, true, "2 objects match"),
        ] {
            let next = c.after(outcome.clone(), now);
            assert_eq!(next.notify, notify, "{outcome:?}");
            assert_eq!(next.state, CleanupState::Done { at: now, outcome });
            let done = Cleanup { state: next.state, ..c.clone() };
            assert!(done.describe().contains(says), "{}", done.describe());
        }
    }

    #[test]
    fn trim_keeps_pending_and_the_last_done() {
        let done = |at| Cleanup {
            item: item(),
            state: CleanupState::Done { at: Timestamp::from_millis(at), outcome: Outcome::NothingToDelete },
        };
        let mut list: Vec<Cleanup> = (0..25).map(done).collect();
        list.insert(3, Cleanup::queue(item()));
        trim(&mut list);
        assert_eq!(list.len(), KEEP_DONE + 1);
        assert!(list.iter().any(Cleanup::is_pending));
        assert_eq!(list.iter().filter(|c| !c.is_pending()).count(), KEEP_DONE);
        assert!(
            matches!(list.last().unwrap().state, CleanupState::Done { at, .. } if at == Timestamp::from_millis(24))
        );
    }

    #[test]
    fn settings_name_what_is_wrong() {
        assert!(DirectorySettings::new(BASE, WORKSPACES_PREFIX).is_ok());
        let err = DirectorySettings::new("WorkSpaces", WORKSPACES_PREFIX).unwrap_err().to_string();
        assert!(err.contains("base DN") && err.contains("OU=WorkSpaces"), "{err}");
        let err = DirectorySettings::new(BASE, "WS AMZN").unwrap_err().to_string();
        assert!(err.contains("prefix"), "{err}");
    }
}
