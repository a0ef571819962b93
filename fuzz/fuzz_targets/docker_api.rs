//! A ServiceSpec as the Docker Engine API receives it (JSON from the
//! docker CLI or any tool): parsed into shoal's spec, alone (a create)
//! and over a current spec (an update), then validated.
#![no_main]

use libfuzzer_sys::fuzz_target;
use shoal_dockerapi::parse::service_spec;

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    if let Ok((spec, _)) = service_spec(value.clone(), None) {
        let _ = shoal_spec::validate::service_spec(spec.clone());
        let _ = service_spec(value, Some(&spec));
    }
});
