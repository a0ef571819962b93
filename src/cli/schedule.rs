//! `--schedule`, `--schedule-timezone`, `--schedule-overlap` of `service
//! create` and `service update`: a job that runs each time its schedule
//! says (a cron expression or `@every DURATION`). Checked here so a typo
//! is a usage error naming the flag; the managers check again.

use anyhow::{Result, bail};
use clap::Args;
use shoal_proto::{JobSchedule, ScheduleOverlap};
use shoal_spec::schedule::Schedule;

/// The schedule flags.
#[derive(Args, Debug, Default)]
pub struct ScheduleArgs {
    /// Run the job each time it is due: a cron expression ("*/5 * * * *", "@hourly")
    /// or "@every DURATION" (update: "" runs it once more, unscheduled)
    #[arg(long, value_name = "CRON", value_parser = cron)]
    pub schedule: Option<String>,
    /// Time zone the --schedule's fields are read in, an IANA name [default: UTC]
    #[arg(long, value_name = "TZ", value_parser = time_zone)]
    pub schedule_timezone: Option<String>,
    /// A run due while the last one still runs: forbid (skip it), allow (run both) or
    /// replace (stop the last one) [default: forbid]
    #[arg(long, value_name = "POLICY", value_parser = ["forbid", "allow", "replace"])]
    pub schedule_overlap: Option<String>,
}

fn cron(text: &str) -> Result<String, String> {
    if text.is_empty() {
        return Ok(String::new());
    }
    let schedule = JobSchedule { cron: text.to_string(), ..Default::default() };
    Schedule::parse(&schedule).map(|_| text.to_string()).map_err(|e| e.to_string())
}

fn time_zone(text: &str) -> Result<String, String> {
    let schedule = JobSchedule { cron: "@daily".into(), time_zone: text.to_string(), ..Default::default() };
    Schedule::parse(&schedule).map(|_| text.to_string()).map_err(|e| e.to_string())
}

impl ScheduleArgs {
    /// `service create`'s schedule, if any.
    pub fn spec(&self) -> Result<Option<JobSchedule>> {
        let mut schedule = None;
        self.apply(&mut schedule)?;
        Ok(schedule)
    }

    /// `service update`: the flags given change `schedule` (`--schedule
    /// ""` takes it away).
    pub fn apply(&self, schedule: &mut Option<JobSchedule>) -> Result<()> {
        match self.schedule.as_deref() {
            Some("") => *schedule = None,
            Some(cron) => schedule.get_or_insert_with(Default::default).cron = cron.to_string(),
            None => {}
        }
        let Some(schedule) = schedule.as_mut() else {
            if self.schedule_timezone.is_some() || self.schedule_overlap.is_some() {
                bail!("--schedule-timezone and --schedule-overlap: only with a --schedule");
            }
            return Ok(());
        };
        if let Some(zone) = &self.schedule_timezone {
            schedule.time_zone = zone.clone();
        }
        if let Some(name) = &self.schedule_overlap {
            schedule.set_overlap(ScheduleOverlap::from_name(name).unwrap_or_default());
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(schedule: Option<&str>, zone: Option<&str>, overlap: Option<&str>) -> ScheduleArgs {
        ScheduleArgs {
            schedule: schedule.map(String::from),
            schedule_timezone: zone.map(String::from),
            schedule_overlap: overlap.map(String::from),
        }
    }

    #[test]
    fn flags_make_and_change_the_schedule() {
        let made = args(Some("@every 2s"), Some("Europe/Paris"), Some("replace")).spec().unwrap().unwrap();
        assert_eq!(
            (made.cron.as_str(), made.time_zone.as_str(), made.overlap()),
            ("@every 2s", "Europe/Paris", ScheduleOverlap::Replace)
        );
        assert_eq!(args(None, None, None).spec().unwrap(), None);
        assert!(args(None, Some("UTC"), None).spec().is_err(), "a time zone alone");
        let mut kept = Some(made.clone());
        args(None, None, Some("allow")).apply(&mut kept).unwrap();
        assert_eq!(kept.as_ref().map(|s| (s.cron.as_str(), s.overlap())), Some(("@every 2s", ScheduleOverlap::Allow)));
        args(Some(""), None, None).apply(&mut kept).unwrap();
        assert_eq!(kept, None);
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        assert!(cron("*/5 * * * *").is_ok() && cron("@every 5m").is_ok() && cron("").is_ok());
        let err = cron("@every now").unwrap_err();
        assert!(err.starts_with("\"@every\" takes a duration"), "{err}");
        assert!(cron("99 * * * *").unwrap_err().starts_with("expected a cron expression"));
        assert!(time_zone("Nowhere/City").unwrap_err().starts_with("unknown time zone"));
    }
}
