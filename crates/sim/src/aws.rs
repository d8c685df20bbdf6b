//! The simulated account seen through the port traits: what the functions call.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

use blankslate_core::alarm::{Listed, Owner};
use blankslate_core::ids::{DeskKey, WorkspaceId};
use blankslate_core::journal::Record;
use blankslate_core::observe::{ConnectionObservation, WorkspaceDescription};
use blankslate_core::pacing::Pacing;
use blankslate_core::reconcile::{Notice, Write};
use blankslate_core::spec::{Tags, WorkspaceSpec};
use blankslate_handlers::ports::{Alarms, CreateAnswer, FailedItem, Journal, Notifier, PortResult, Workspaces};

use crate::world::World;

/// The simulated AWS account. Implements every port; each call takes the lock briefly.
pub struct SimAws {
    world: Mutex<World>,
}

impl SimAws {
    pub(crate) fn new(world: World) -> Self {
        Self { world: Mutex::new(world) }
    }

    /// The world, for the event loop and for inspection after a run.
    pub fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock is a bug in the simulator itself; its state is
        // still the best evidence there is, so keep using it.
        self.world.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn into_world(self) -> World {
        self.world.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Workspaces for SimAws {
    async fn describe(&self, ids: &[WorkspaceId]) -> PortResult<Vec<WorkspaceDescription>> {
        self.world().api_describe(ids)
    }
    async fn describe_all(&self) -> PortResult<Vec<WorkspaceDescription>> {
        self.world().api_describe_all()
    }
    async fn describe_desk(&self, desk: &DeskKey) -> PortResult<Option<WorkspaceDescription>> {
        self.world().api_describe_desk(desk)
    }
    async fn connection_status(&self, ids: &[WorkspaceId]) -> PortResult<Vec<ConnectionObservation>> {
        self.world().api_connection_status(ids)
    }
    async fn tags(&self, id: &WorkspaceId) -> PortResult<Tags> {
        self.world().api_tags(id)
    }
    async fn tags_in_bulk(&self, ids: &[WorkspaceId]) -> PortResult<BTreeMap<WorkspaceId, Tags>> {
        self.world().api_tags_in_bulk(ids)
    }
    async fn terminate(&self, ids: &[WorkspaceId]) -> PortResult<Vec<FailedItem<WorkspaceId>>> {
        self.world().api_terminate(ids)
    }
    async fn create(&self, specs: &[WorkspaceSpec]) -> PortResult<CreateAnswer> {
        self.world().api_create(specs)
    }
}

impl Alarms for SimAws {
    async fn put_disconnect_alarm(&self, id: &WorkspaceId) -> PortResult<()> {
        self.world().api_put_alarm(id)
    }
    async fn delete_disconnect_alarms(&self, ids: &[WorkspaceId]) -> PortResult<()> {
        self.world().api_delete_alarms(ids)
    }
    async fn delete_legacy_alarms(&self, ids: &[WorkspaceId]) -> PortResult<()> {
        // The simulated account holds one owner's alarms, the scenario's deployment: the
        // seed's naming exists in it only when that owner is the seed's naming itself.
        let mut world = self.world();
        if world.scenario.config.alarm_owner() == Owner::Legacy {
            world.api_delete_alarms(ids)
        } else {
            world.api_delete_alarms(&[])
        }
    }
    async fn list_disconnect_alarms(&self) -> PortResult<Vec<WorkspaceId>> {
        self.world().api_list_alarms()
    }
    async fn list_alarm_family(&self) -> PortResult<Vec<Listed>> {
        let mut world = self.world();
        let owner = world.scenario.config.alarm_owner();
        let ids = world.api_list_alarms()?;
        Ok(ids.into_iter().map(|workspace| Listed { workspace, owner: owner.clone() }).collect())
    }
}

impl Journal for SimAws {
    async fn list(&self) -> PortResult<Vec<Record>> {
        self.world().journal_list()
    }
    async fn get(&self, desk: &DeskKey) -> PortResult<Option<Record>> {
        self.world().journal_get(desk)
    }
    async fn find_by_workspace(&self, id: &WorkspaceId) -> PortResult<Option<Record>> {
        self.world().journal_find(id)
    }
    async fn write(&self, write: &Write) -> PortResult<Option<Record>> {
        self.world().journal_write(write)
    }
    async fn pacing(&self) -> PortResult<Option<Pacing>> {
        self.world().journal_pacing()
    }
    async fn store_pacing(&self, pacing: &Pacing) -> PortResult<()> {
        self.world().journal_store_pacing(pacing)
    }
}

impl Notifier for SimAws {
    async fn notify(&self, notice: &Notice) -> PortResult<()> {
        self.world().publish_notice(notice)
    }
}
