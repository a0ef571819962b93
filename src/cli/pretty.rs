//! `service inspect --pretty`: a service as a person reads it, laid out
//! as `docker service inspect --pretty` does.

use shoal_proto::{Service, service_spec::Mode};

use super::inspect;
use shoal_spec::text::duration;

/// `service inspect --pretty`.
pub fn print(s: &Service) {
    let spec = s.spec.clone().unwrap_or_default();
    let annotations = spec.annotations.clone().unwrap_or_default();
    let task = spec.task.clone().unwrap_or_default();
    let c = task.container.clone().unwrap_or_default();
    let restart = task.restart.unwrap_or_default();
    outln!("\nID:\t\t{}\nName:\t\t{}", s.id, annotations.name);
    if !annotations.labels.is_empty() {
        outln!("Labels:");
        let mut labels: Vec<_> = annotations.labels.iter().collect();
        labels.sort();
        labels.iter().for_each(|(k, v)| outln!(" {k}={v}"));
    }
    match spec.mode {
        Some(Mode::Global(_)) => outln!("Service Mode:\tGlobal"),
        Some(Mode::GlobalJob(_)) => outln!("Service Mode:\tGlobal Job"),
        Some(Mode::ReplicatedJob(j)) => outln!(
            "Service Mode:\tReplicated Job\n Max Concurrent:\t{}\n Total Completions:\t{}",
            j.max_concurrent,
            j.total_completions
        ),
        _ => outln!("Service Mode:\tReplicated\n Replicas:\t{}", super::service::replicas(s)),
    }
    if spec.rebalance_on_join {
        outln!("Rebalance on join:\ttrue");
    }
    if let Some(schedule) = &spec.schedule {
        let (cron, zone, overlap) = (&schedule.cron, schedule.zone_name(), schedule.overlap().name());
        outln!("Schedule:\t{cron} ({zone}, overlap {overlap})");
        if let Some(j) = s.job_status.as_ref().filter(|j| j.iteration > 0) {
            outln!(" Runs:\t\t{} (last {})", j.iteration, super::human::ago(j.last_execution));
        }
        if let Some(skipped) = s.job_status.as_ref().map(|j| j.skipped).filter(|n| *n > 0) {
            outln!(" Skipped:\t{skipped} (the last run still went)");
        }
    }
    if let Some(u) = &s.update_status {
        outln!("UpdateStatus:\n State:\t\t{}", u.state().name());
        if u.started_at > 0 {
            outln!(" Started:\t{}", super::human::ago(u.started_at));
        }
        if u.completed_at > 0 {
            outln!(" Completed:\t{}", super::human::ago(u.completed_at));
        }
        outln!(" Message:\t{}", u.message);
    }
    if !spec.depends_on.is_empty() {
        outln!("Depends on:");
        for d in &spec.depends_on {
            outln!(" {}:\t{}", d.service, d.condition().compose_name());
        }
    }
    let placement = task.placement.clone().unwrap_or_default();
    if !placement.constraints.is_empty() || !placement.preferences.is_empty() || placement.max_replicas > 0 {
        outln!("Placement:");
        if !placement.constraints.is_empty() {
            outln!(" Constraints:\t[{}]", placement.constraints.join(" "));
        }
        if !placement.preferences.is_empty() {
            let prefs: Vec<String> =
                placement.preferences.iter().map(|p| format!("spread={}", p.spread_descriptor)).collect();
            outln!(" Preferences:\t[{}]", prefs.join(" "));
        }
        if placement.max_replicas > 0 {
            outln!(" Max Replicas Per Node:\t{}", placement.max_replicas);
        }
    }
    let resources = task.resources.unwrap_or_default();
    let pids_limit = c.pids_limit;
    for (what, r, pids) in [("Reservations", resources.reservations, 0), ("Limits", resources.limits, pids_limit)] {
        let r = r.unwrap_or_default();
        if r.nano_cpus > 0 || r.memory_bytes > 0 || pids > 0 {
            outln!("Resources:\n {what}:");
            if r.nano_cpus > 0 {
                outln!("  CPU:\t\t{}", r.nano_cpus as f64 / 1e9);
            }
            if r.memory_bytes > 0 {
                outln!("  Memory:\t{}", super::human::bytes(r.memory_bytes));
            }
            if pids > 0 {
                outln!("  PIDs:\t\t{pids}");
            }
        }
    }
    let condition = shoal_proto::RestartCondition::try_from(restart.condition).unwrap_or_default();
    outln!(
        "RestartPolicy:\n Condition:\t{}\n Delay:\t\t{}\n Max attempts:\t{}",
        condition.name(),
        duration::format(restart.delay_ns.unwrap_or(0)),
        restart.max_attempts
    );
    if restart.window_ns > 0 {
        outln!(" Window:\t{}", duration::format(restart.window_ns));
    }
    for (what, u) in [("UpdateConfig", &spec.update), ("RollbackConfig", &spec.rollback)] {
        let u = (*u).unwrap_or_default();
        outln!(
            "{what}:\n Parallelism:\t{}\n On failure:\t{}\n Monitoring Period: {}\n Max failure ratio: {}\n Update order:      {}",
            u.parallelism,
            inspect::spec(s.spec.as_ref())[what]["FailureAction"].as_str().unwrap_or_default(),
            duration::format(u.monitor_ns),
            u.max_failure_ratio,
            inspect::spec(s.spec.as_ref())[what]["Order"].as_str().unwrap_or_default(),
        );
    }
    outln!("ContainerSpec:\n Image:\t\t{}", c.image);
    if !c.args.is_empty() {
        outln!(" Args:\t\t{}", c.args.join(" "));
    }
    if !c.env.is_empty() {
        outln!(" Env:\t\t{}", c.env.join(" "));
    }
    if !c.dir.is_empty() {
        outln!(" Dir:\t\t{}", c.dir);
    }
    if !c.user.is_empty() {
        outln!(" User:\t\t{}", c.user);
    }
    if let Some(grace) = c.stop_grace_period_ns {
        outln!(" StopGracePeriod: {}", duration::format(grace));
    }
    if !c.stop_signal.is_empty() {
        outln!(" StopSignal:\t{}", c.stop_signal);
    }
    if let Some(init) = c.init {
        outln!(" Init:\t\t{init}");
    }
    // As Docker lays them out (not indented under ContainerSpec).
    if !c.capability_add.is_empty() || !c.capability_drop.is_empty() {
        outln!("Capabilities:");
        if !c.capability_add.is_empty() {
            outln!(" Add: {}", c.capability_add.join(", "));
        }
        if !c.capability_drop.is_empty() {
            outln!(" Drop: {}", c.capability_drop.join(", "));
        }
    }
    if !c.sysctls.is_empty() {
        outln!("SysCtls:");
        let mut sysctls: Vec<_> = c.sysctls.iter().collect();
        sysctls.sort();
        for (key, value) in sysctls {
            if value.is_empty() { outln!(" {key}") } else { outln!(" {key}: {value}") }
        }
    }
    if !c.ulimits.is_empty() {
        outln!("Ulimits:");
        c.ulimits.iter().for_each(|u| outln!(" {}: {}:{}", u.name, u.soft, u.hard));
    }
    outln!("Runtime:\t{}", task.runtime);
    outln!("Endpoint Mode:\tvip");
}
