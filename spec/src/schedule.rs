//! A job's schedule (`--schedule`): a cron expression (standard 5 fields,
//! an optional leading seconds field, `@hourly`-style nicknames) read in
//! a time zone, or `@every DURATION` counted from the last due time.
//! Checked by the CLI and the managers alike; the leader's schedule loop
//! asks it when a job is next due.

use std::str::FromStr;
use std::time::Duration;

use croner::Cron;
use jiff::tz::TimeZone;
use jiff::{Timestamp, Zoned};
use shoal_proto::JobSchedule;

/// The shortest `@every`: a run a second is already a busy job.
pub const MIN_EVERY: Duration = Duration::from_secs(1);

/// A schedule that cannot be read.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("expected a cron expression (\"*/5 * * * *\") or \"@every DURATION\", got {0:?}: {1}")]
    Cron(String, String),
    #[error("\"@every\" takes a duration of at least 1s (\"@every 5m\"), got {0:?}")]
    Every(String),
    #[error("unknown time zone {0:?} (an IANA name such as \"Europe/Paris\")")]
    TimeZone(String),
}

impl ScheduleError {
    /// The flag at fault.
    pub fn flag(&self) -> &'static str {
        match self {
            ScheduleError::Cron(..) | ScheduleError::Every(_) => "--schedule",
            ScheduleError::TimeZone(_) => "--schedule-timezone",
        }
    }
}

/// When a job is due.
#[derive(Debug, Clone)]
pub struct Schedule {
    kind: Kind,
    zone: TimeZone,
}

#[derive(Debug, Clone)]
enum Kind {
    Every(i64),
    Cron(Box<Cron>),
}

impl Schedule {
    /// Reads `spec` (its cron expression and time zone).
    pub fn parse(spec: &JobSchedule) -> Result<Schedule, ScheduleError> {
        let text = spec.cron.trim();
        let kind = match text.strip_prefix("@every") {
            Some(rest) => {
                let every = humantime::parse_duration(rest.trim())
                    .ok()
                    .filter(|d| *d >= MIN_EVERY)
                    .ok_or_else(|| ScheduleError::Every(text.to_string()))?;
                Kind::Every(i64::try_from(every.as_nanos()).unwrap_or(i64::MAX))
            }
            None => {
                // A field that lists nothing (`,`) matches no time: croner
                // takes it, then searches years second by second for a run.
                if let Some(field) = text.split_whitespace().find(|f| f.split(',').all(str::is_empty)) {
                    return Err(ScheduleError::Cron(text.to_string(), format!("the field {field:?} lists no value")));
                }
                let cron = Cron::from_str(text).map_err(|e| ScheduleError::Cron(text.to_string(), e.to_string()))?;
                Kind::Cron(Box::new(cron))
            }
        };
        let zone = match spec.time_zone.as_str() {
            "" | "UTC" => TimeZone::UTC,
            name => TimeZone::get(name).map_err(|_| ScheduleError::TimeZone(name.to_string()))?,
        };
        Ok(Schedule { kind, zone })
    }

    /// The first due time after `after` (unix ns), if there is one.
    pub fn next_after(&self, after: i64) -> Option<i64> {
        match &self.kind {
            Kind::Every(every) => after.checked_add(*every),
            Kind::Cron(cron) => {
                let from = self.zoned(after)?;
                let next = cron.find_next_occurrence(&from, false).ok()?;
                i64::try_from(next.timestamp().as_nanosecond()).ok()
            }
        }
    }

    /// The latest due time after `after` and at or before `now`, if any:
    /// the one run that stands for every run missed since `after`.
    pub fn latest_due(&self, after: i64, now: i64) -> Option<i64> {
        let latest = match &self.kind {
            Kind::Every(every) => after + (now.saturating_sub(after) / every) * every,
            Kind::Cron(cron) => {
                let previous = cron.find_previous_occurrence(&self.zoned(now)?, true).ok()?;
                i64::try_from(previous.timestamp().as_nanosecond()).ok()?
            }
        };
        (latest > after && latest <= now).then_some(latest)
    }

    fn zoned(&self, nanos: i64) -> Option<Zoned> {
        Some(Timestamp::from_nanosecond(i128::from(nanos)).ok()?.to_zoned(self.zone.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: i64 = 1_000_000_000;

    fn schedule(cron: &str, zone: &str) -> Result<Schedule, ScheduleError> {
        Schedule::parse(&JobSchedule { cron: cron.into(), time_zone: zone.into(), overlap: 0 })
    }

    /// Unix ns of a civil time in `zone`.
    fn at(civil: &str, zone: &str) -> i64 {
        let zoned = civil.parse::<jiff::civil::DateTime>().unwrap().in_tz(zone).unwrap();
        zoned.timestamp().as_nanosecond() as i64
    }

    #[test]
    fn every_counts_from_the_last_due_time() {
        let every = schedule("@every 2s", "").unwrap();
        assert_eq!(every.next_after(10 * S), Some(12 * S));
        assert_eq!(every.latest_due(10 * S, 11 * S), None, "not due yet");
        assert_eq!(every.latest_due(10 * S, 12 * S), Some(12 * S));
        // Five runs missed: one stands for them, the latest.
        assert_eq!(every.latest_due(10 * S, 21 * S), Some(20 * S));
    }

    #[test]
    fn cron_fields_are_read_in_the_time_zone() {
        let daily = schedule("30 2 * * *", "Europe/Paris").unwrap();
        let after = at("2026-12-07T00:00", "Europe/Paris");
        assert_eq!(daily.next_after(after), Some(at("2026-12-07T02:30", "Europe/Paris")));
        assert_eq!(daily.next_after(after), Some(at("2026-12-07T01:30", "UTC")));
        let utc = schedule("*/15 * * * *", "").unwrap();
        let now = at("2026-12-07T10:47", "UTC");
        assert_eq!(utc.next_after(now), Some(at("2026-12-07T11:00", "UTC")));
        assert_eq!(utc.latest_due(at("2026-12-07T10:00", "UTC"), now), Some(at("2026-12-07T10:45", "UTC")));
        assert_eq!(utc.latest_due(at("2026-12-07T10:45", "UTC"), now), None);
        assert!(schedule("@hourly", "").is_ok());
    }

    #[test]
    fn bad_schedules_are_named() {
        assert!(matches!(schedule("61 * * * *", ""), Err(ScheduleError::Cron(..))));
        assert!(matches!(schedule("every day", ""), Err(ScheduleError::Cron(..))));
        assert_eq!(schedule("@every 10ms", "").unwrap_err(), ScheduleError::Every("@every 10ms".into()));
        assert_eq!(schedule("@every soon", "").unwrap_err(), ScheduleError::Every("@every soon".into()));
        assert_eq!(schedule("@daily", "Mars/Olympus").unwrap_err(), ScheduleError::TimeZone("Mars/Olympus".into()));
    }

    /// Found by fuzzing (fuzz/ flags): a seconds field of a lone comma
    /// was taken, and each look for the next run then took over a minute.
    #[test]
    fn a_field_that_lists_nothing_is_refused() {
        let err = schedule(", * * * * *", "").unwrap_err();
        assert_eq!(err, ScheduleError::Cron(", * * * * *".into(), "the field \",\" lists no value".into()));
        assert!(schedule("1,, * * * *", "").is_ok(), "an empty item beside a value is as croner reads it");
    }
}
