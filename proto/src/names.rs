//! Display names and ordering helpers on the generated enums, spelled as
//! Docker prints them, and the names of services, networks, secrets and configs.

use crate::v1::{
    Config, DependencyCondition, EndpointMode, FailureAction, JobSchedule, MountType, Network, NodeAvailability,
    NodeRole, NodeState, PortProtocol, PublishMode, RestartCondition, ScheduleOverlap, Secret, Service, Task,
    TaskState, UpdateOrder, UpdateState, service_spec::Mode,
};

impl DependencyCondition {
    /// How a condition reads, as compose writes it.
    pub fn compose_name(self) -> &'static str {
        match self {
            DependencyCondition::Started => "service_started",
            DependencyCondition::Healthy => "service_healthy",
            DependencyCondition::Completed => "service_completed_successfully",
        }
    }
}

/// `name()` of the objects whose spec has annotations: the name, or ""
/// when the spec has none.
macro_rules! annotated_name {
    ($($kind:ty),*) => {$(
        impl $kind {
            pub fn name(&self) -> &str {
                self.spec.as_ref().and_then(|s| s.annotations.as_ref()).map_or("", |a| a.name.as_str())
            }
        }
    )*};
}

annotated_name!(Service, Network, Secret, Config);

impl Task {
    /// The task's current state (NEW before any status).
    pub fn state(&self) -> TaskState {
        self.status.as_ref().map_or(TaskState::New, |s| s.state())
    }

    /// Its name as Docker prints it: `web.3`, `mon.<node id>` for a
    /// global service's task; a task outside services (`shoal run`) is
    /// called by its own name.
    pub fn name(&self) -> String {
        if self.service_id.is_empty() {
            self.service_name.clone()
        } else if self.slot == 0 {
            format!("{}.{}", self.service_name, self.node_id)
        } else {
            format!("{}.{}", self.service_name, self.slot)
        }
    }
}

impl TaskState {
    /// A task in this state will not move any further.
    pub fn is_terminal(self) -> bool {
        self >= TaskState::Complete
    }

    /// Lower-case name as in `docker service ps` ("running", "failed").
    pub fn name(self) -> &'static str {
        match self {
            TaskState::New => "new",
            TaskState::Pending => "pending",
            TaskState::Assigned => "assigned",
            TaskState::Accepted => "accepted",
            TaskState::Preparing => "preparing",
            TaskState::Ready => "ready",
            TaskState::Starting => "starting",
            TaskState::Running => "running",
            TaskState::Complete => "complete",
            TaskState::Shutdown => "shutdown",
            TaskState::Failed => "failed",
            TaskState::Rejected => "rejected",
            TaskState::Remove => "remove",
            TaskState::Orphaned => "orphaned",
        }
    }

    /// Parses a lower-case name as printed by [`TaskState::name`].
    pub fn from_name(name: &str) -> Option<TaskState> {
        TaskState::ALL.into_iter().find(|s| s.name().eq_ignore_ascii_case(name))
    }

    /// Every state, in order.
    pub const ALL: [TaskState; 14] = [
        TaskState::New,
        TaskState::Pending,
        TaskState::Assigned,
        TaskState::Accepted,
        TaskState::Preparing,
        TaskState::Ready,
        TaskState::Starting,
        TaskState::Running,
        TaskState::Complete,
        TaskState::Shutdown,
        TaskState::Failed,
        TaskState::Rejected,
        TaskState::Remove,
        TaskState::Orphaned,
    ];
}

impl NodeState {
    /// As in `docker node ls`: "Ready", "Down".
    pub fn title(self) -> &'static str {
        match self {
            NodeState::Unknown => "Unknown",
            NodeState::Down => "Down",
            NodeState::Ready => "Ready",
            NodeState::Disconnected => "Disconnected",
        }
    }
}

impl NodeAvailability {
    /// As in `docker node ls`: "Active", "Pause", "Drain".
    pub fn title(self) -> &'static str {
        match self {
            NodeAvailability::Active => "Active",
            NodeAvailability::Pause => "Pause",
            NodeAvailability::Drain => "Drain",
        }
    }
}

impl NodeAvailability {
    /// As `--availability` and Docker's JSON name it: "active", "pause", "drain".
    pub fn name(self) -> &'static str {
        match self {
            NodeAvailability::Active => "active",
            NodeAvailability::Pause => "pause",
            NodeAvailability::Drain => "drain",
        }
    }

    /// Parses an `--availability` value.
    pub fn from_name(name: &str) -> Option<NodeAvailability> {
        [NodeAvailability::Active, NodeAvailability::Pause, NodeAvailability::Drain]
            .into_iter()
            .find(|a| a.name() == name)
    }
}

impl NodeRole {
    /// "manager" or "worker".
    pub fn name(self) -> &'static str {
        match self {
            NodeRole::Worker => "worker",
            NodeRole::Manager => "manager",
        }
    }

    /// Parses a `--role` value.
    pub fn from_name(name: &str) -> Option<NodeRole> {
        [NodeRole::Worker, NodeRole::Manager].into_iter().find(|r| r.name() == name)
    }
}

impl MountType {
    /// "bind", "volume" or "tmpfs", as `--mount type=` and Docker's JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            MountType::Bind => "bind",
            MountType::Volume => "volume",
            MountType::Tmpfs => "tmpfs",
        }
    }

    /// Parses a mount type's name.
    pub fn from_name(name: &str) -> Option<MountType> {
        [MountType::Bind, MountType::Volume, MountType::Tmpfs].into_iter().find(|m| m.name() == name)
    }
}

impl PortProtocol {
    /// "tcp" or "udp", as `-p 53:53/udp` and Docker's JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            PortProtocol::Tcp => "tcp",
            PortProtocol::Udp => "udp",
        }
    }

    /// Parses a protocol name.
    pub fn from_name(name: &str) -> Option<PortProtocol> {
        [PortProtocol::Tcp, PortProtocol::Udp].into_iter().find(|p| p.name() == name)
    }
}

impl PublishMode {
    /// "ingress" or "host", as `--publish mode=` and Docker's JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            PublishMode::Ingress => "ingress",
            PublishMode::Host => "host",
        }
    }

    /// Parses a publish mode's name.
    pub fn from_name(name: &str) -> Option<PublishMode> {
        [PublishMode::Ingress, PublishMode::Host].into_iter().find(|m| m.name() == name)
    }
}

impl EndpointMode {
    /// "vip" or "dnsrr", as `--endpoint-mode` and Docker's JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            EndpointMode::Vip => "vip",
            EndpointMode::Dnsrr => "dnsrr",
        }
    }

    /// Parses an `--endpoint-mode` value.
    pub fn from_name(name: &str) -> Option<EndpointMode> {
        [EndpointMode::Vip, EndpointMode::Dnsrr].into_iter().find(|m| m.name() == name)
    }
}

impl FailureAction {
    /// As `--update-failure-action` and Docker's JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            FailureAction::Pause => "pause",
            FailureAction::Continue => "continue",
            FailureAction::Rollback => "rollback",
        }
    }

    /// Parses an `--update-failure-action` value.
    pub fn from_name(name: &str) -> Option<FailureAction> {
        [FailureAction::Pause, FailureAction::Continue, FailureAction::Rollback].into_iter().find(|a| a.name() == name)
    }
}

impl UpdateOrder {
    /// As `--update-order` and Docker's JSON name it.
    pub fn name(self) -> &'static str {
        match self {
            UpdateOrder::StopFirst => "stop-first",
            UpdateOrder::StartFirst => "start-first",
        }
    }

    /// Parses an `--update-order` value.
    pub fn from_name(name: &str) -> Option<UpdateOrder> {
        [UpdateOrder::StopFirst, UpdateOrder::StartFirst].into_iter().find(|o| o.name() == name)
    }
}

impl RestartCondition {
    /// As in `--restart-condition`: "any", "on-failure", "none".
    pub fn name(self) -> &'static str {
        match self {
            RestartCondition::Any => "any",
            RestartCondition::OnFailure => "on-failure",
            RestartCondition::None => "none",
        }
    }

    /// Parses a `--restart-condition` value.
    pub fn from_name(name: &str) -> Option<RestartCondition> {
        [RestartCondition::Any, RestartCondition::OnFailure, RestartCondition::None]
            .into_iter()
            .find(|c| c.name() == name)
    }
}

impl Service {
    /// Its mode as `--mode` names it: "replicated" (also when unset),
    /// "global", "replicated-job", "global-job".
    pub fn mode_name(&self) -> &'static str {
        match self.spec.as_ref().and_then(|s| s.mode.as_ref()) {
            Some(Mode::Replicated(_)) | None => "replicated",
            Some(Mode::Global(_)) => "global",
            Some(Mode::ReplicatedJob(_)) => "replicated-job",
            Some(Mode::GlobalJob(_)) => "global-job",
        }
    }
}

impl JobSchedule {
    /// The time zone its cron fields are read in ("UTC" when unset).
    pub fn zone_name(&self) -> &str {
        if self.time_zone.is_empty() { "UTC" } else { &self.time_zone }
    }
}

impl ScheduleOverlap {
    /// As `--schedule-overlap` takes it: "forbid", "allow", "replace".
    pub fn name(self) -> &'static str {
        match self {
            ScheduleOverlap::Forbid => "forbid",
            ScheduleOverlap::Allow => "allow",
            ScheduleOverlap::Replace => "replace",
        }
    }

    /// Parses a name as printed by [`ScheduleOverlap::name`].
    pub fn from_name(name: &str) -> Option<ScheduleOverlap> {
        [ScheduleOverlap::Forbid, ScheduleOverlap::Allow, ScheduleOverlap::Replace]
            .into_iter()
            .find(|o| o.name() == name)
    }
}

impl UpdateState {
    /// As Docker shows it: "updating", "paused", "rollback_started"...
    pub fn name(self) -> &'static str {
        match self {
            UpdateState::Unknown => "",
            UpdateState::Updating => "updating",
            UpdateState::Paused => "paused",
            UpdateState::Completed => "completed",
            UpdateState::RollbackStarted => "rollback_started",
            UpdateState::RollbackPaused => "rollback_paused",
            UpdateState::RollbackCompleted => "rollback_completed",
        }
    }

    /// A rollback's states.
    pub fn is_rollback(self) -> bool {
        matches!(self, UpdateState::RollbackStarted | UpdateState::RollbackPaused | UpdateState::RollbackCompleted)
    }

    /// Under way: tasks are being replaced.
    pub fn is_active(self) -> bool {
        matches!(self, UpdateState::Updating | UpdateState::RollbackStarted)
    }

    /// Stopped by a failure, until the next change to the service.
    pub fn is_paused(self) -> bool {
        matches!(self, UpdateState::Paused | UpdateState::RollbackPaused)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_states_are_ordered_and_named_uniquely() {
        let all = TaskState::ALL;
        assert!(all.windows(2).all(|w| w[0] < w[1]));
        for s in all {
            assert_eq!(TaskState::from_name(s.name()), Some(s));
        }
        assert!(TaskState::Failed.is_terminal());
        assert!(!TaskState::Running.is_terminal());
    }

    #[test]
    fn names_read_back() {
        for p in [PortProtocol::Tcp, PortProtocol::Udp] {
            assert_eq!(PortProtocol::from_name(p.name()), Some(p));
        }
        for m in [PublishMode::Ingress, PublishMode::Host] {
            assert_eq!(PublishMode::from_name(m.name()), Some(m));
        }
        for m in [MountType::Bind, MountType::Volume, MountType::Tmpfs] {
            assert_eq!(MountType::from_name(m.name()), Some(m));
        }
        for m in [EndpointMode::Vip, EndpointMode::Dnsrr] {
            assert_eq!(EndpointMode::from_name(m.name()), Some(m));
        }
        for r in [NodeRole::Worker, NodeRole::Manager] {
            assert_eq!(NodeRole::from_name(r.name()), Some(r));
        }
        assert_eq!(PortProtocol::from_name("sctp"), None);
    }
}
