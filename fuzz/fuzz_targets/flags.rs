//! The values of the CLI's flags and of compose's short syntaxes: the
//! first byte picks the parser, the rest is the text. Each answers a
//! value or an error; none may panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_proto::JobSchedule;
use shoal_spec::text::{duration, file_ref, mount, publish, units};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let text = text.as_ref();
    match pick % 14 {
        0 => drop(duration::parse(text)),
        1 => drop(units::memory_bytes(text)),
        2 => drop(units::nano_cpus(text)),
        3 => drop(publish::parse(text)),
        4 => drop(mount::parse(text)),
        5 => drop(file_ref::parse(text)),
        6 => drop(shoal_scheduler::Constraint::parse(text)),
        7 => drop(shoal_scheduler::Spread::parse(text)),
        8 => drop(shoal_spec::engine_opts::host(text)),
        9 => drop(shoal_spec::engine_opts::ulimit(text)),
        10 => drop(shoal_spec::engine_opts::nameserver(text)),
        11 => {
            let (cron, zone) = text.split_once('|').unwrap_or((text, ""));
            let spec = JobSchedule { cron: cron.into(), time_zone: zone.into(), ..Default::default() };
            if let Ok(schedule) = shoal_spec::schedule::Schedule::parse(&spec) {
                let _ = schedule.next_after(0);
                let _ = schedule.latest_due(0, i64::MAX / 2);
            }
        }
        12 => drop(shoal_dockerapi::filters::task(text)),
        _ => drop(shoal_dockerapi::filters::node(text)),
    }
});
