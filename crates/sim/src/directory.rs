//! The simulated Active Directory (issue 14): one computer object per WorkSpace that
//! ever joined, and the Directory port over it.
//!
//! A WorkSpace's create adds its computer object (the domain join); a terminate leaves it,
//! as WorkSpaces does. The port deletes with the core's own guard
//! (`core::directory::guard`), and every delete is judged against S5: the object must be
//! the computer object of a WorkSpace the policy terminated, and that WorkSpace must be
//! gone. At the end, objects whose WorkSpace no longer exists are counted as stale.

use std::collections::{BTreeMap, BTreeSet};

use blankslate_core::directory::{self, CleanupItem, ComputerName, FoundObject, Outcome, Verdict};
use blankslate_core::ids::WorkspaceId;
use blankslate_core::Timestamp;
use blankslate_handlers::ports::Directory;

use crate::aws::SimAws;
use crate::world::World;

pub use crate::world::computer_name_of;

/// The simulated WorkSpaces OU.
pub const BASE_DN: &str = "OU=WorkSpaces,DC=school,DC=example";

/// One computer object.
#[derive(Clone, Debug)]
pub struct ComputerObject {
    /// The WorkSpace that joined as it.
    pub workspace: WorkspaceId,
    /// Its `whenCreated`.
    pub created: Timestamp,
}

/// The directory's computer objects, by upper-cased name, and the WorkSpaces the policy
/// terminated (what S5 allows to be deleted once they are gone).
#[derive(Clone, Debug, Default)]
pub struct SimDirectory {
    pub(crate) objects: BTreeMap<String, ComputerObject>,
    pub(crate) terminated_by_policy: BTreeSet<WorkspaceId>,
    /// Objects deleted.
    pub deleted: u64,
}

impl SimDirectory {
    /// The domain join of a new WorkSpace.
    pub(crate) fn join(&mut self, id: &WorkspaceId, now: Timestamp) {
        if let Some(name) = crate::world::computer_name_of(id) {
            self.objects
                .insert(name.as_str().to_ascii_uppercase(), ComputerObject { workspace: id.clone(), created: now });
        }
    }

    fn found(&self, name: &ComputerName) -> Vec<FoundObject> {
        self.objects
            .get(&name.as_str().to_ascii_uppercase())
            .map(|o| FoundObject {
                dn: format!("CN={},{BASE_DN}", name.as_str()),
                sam_account_name: name.sam_account_name(),
                when_created: Some(o.created),
            })
            .into_iter()
            .collect()
    }
}

impl World {
    /// One guarded delete, judged against S5.
    pub(crate) fn directory_delete(&mut self, item: &CleanupItem) -> Outcome {
        let found = self.directory.found(&item.computer_name);
        match directory::guard(&item.computer_name, BASE_DN, item.terminated_at, &found) {
            Verdict::Delete { dn } => {
                let key = item.computer_name.as_str().to_ascii_uppercase();
                let Some(object) = self.directory.objects.remove(&key) else { return Outcome::NothingToDelete };
                let ours = self.directory.terminated_by_policy.contains(&object.workspace);
                let gone = !self.workspaces.contains_key(&object.workspace);
                if !ours || !gone {
                    let why = if ours {
                        "whose WorkSpace still exists"
                    } else {
                        "of a WorkSpace the policy did not terminate"
                    };
                    self.violation(
                        "S5",
                        item.desk.user_name.to_string(),
                        Some(object.workspace.clone()),
                        format!("deleted computer object {dn} {why}"),
                    );
                }
                self.directory.deleted += 1;
                Outcome::Deleted { dn }
            }
            Verdict::NotFound => Outcome::NothingToDelete,
            verdict => Outcome::Refused { verdict },
        }
    }

    /// Computer objects whose WorkSpace no longer exists.
    pub fn stale_computer_objects(&self) -> u64 {
        self.directory.objects.values().filter(|o| !self.workspaces.contains_key(&o.workspace)).count() as u64
    }
}

impl Directory for SimAws {
    async fn delete_computers(&self, items: &[CleanupItem]) -> Vec<Outcome> {
        let mut world = self.world();
        items.iter().map(|item| world.directory_delete(item)).collect()
    }
}
