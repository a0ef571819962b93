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

/// `name()` (a value as Docker's JSON and shoal's flags spell it) and
/// its inverse `from_name()`, for each enum, from one table.
macro_rules! names {
    ($($kind:ident { $($variant:ident => $name:literal),+ $(,)? })*) => {$(
        impl $kind {
            /// As Docker's JSON and the flag of the same name spell it.
            pub fn name(self) -> &'static str {
                match self {
                    $($kind::$variant => $name,)+
                }
            }

            /// The value spelled `name`, as [`Self::name`] spells it.
            pub fn from_name(name: &str) -> Option<$kind> {
                match name {
                    $($name => Some($kind::$variant),)+
                    _ => None,
                }
            }
        }
    )*};
}

names! {
    NodeAvailability { Active => "active", Pause => "pause", Drain => "drain" }
    NodeRole { Worker => "worker", Manager => "manager" }
    MountType { Bind => "bind", Volume => "volume", Tmpfs => "tmpfs" }
    PortProtocol { Tcp => "tcp", Udp => "udp" }
    PublishMode { Ingress => "ingress", Host => "host" }
    EndpointMode { Vip => "vip", Dnsrr => "dnsrr" }
    FailureAction { Pause => "pause", Continue => "continue", Rollback => "rollback" }
    UpdateOrder { StopFirst => "stop-first", StartFirst => "start-first" }
    RestartCondition { Any => "any", OnFailure => "on-failure", None => "none" }
    ScheduleOverlap { Forbid => "forbid", Allow => "allow", Replace => "replace" }
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
