//! Control API requests as a manager receives them (protobuf from any
//! admin or a peer manager forwarding): decoded, then checked as the
//! control API checks them before anything is written.
#![no_main]

use libfuzzer_sys::fuzz_target;
use prost::Message;
use shoal_proto::{
    CreateConfigRequest, CreateNetworkRequest, CreateSecretRequest, CreateServiceRequest, UpdateClusterRequest,
    UpdateNodeRequest, UpdateServiceRequest,
};

fuzz_target!(|data: &[u8]| {
    let Some((&pick, bytes)) = data.split_first() else { return };
    match pick % 7 {
        0 => {
            if let Ok(req) = CreateServiceRequest::decode(bytes) {
                let _ = shoal_spec::validate::service_spec(req.spec.unwrap_or_default());
            }
        }
        1 => {
            if let Ok(req) = UpdateServiceRequest::decode(bytes) {
                let _ = shoal_spec::validate::service_spec(req.spec.unwrap_or_default());
            }
        }
        2 => {
            if let Ok(req) = CreateNetworkRequest::decode(bytes) {
                let _ = shoal_spec::network::network_spec(req.spec.unwrap_or_default());
            }
        }
        3 => {
            if let Ok(req) = CreateSecretRequest::decode(bytes) {
                let _ = shoal_spec::files::secret_spec(&req.spec.unwrap_or_default());
            }
        }
        4 => {
            if let Ok(req) = CreateConfigRequest::decode(bytes) {
                let _ = shoal_spec::files::config_spec(&req.spec.unwrap_or_default());
            }
        }
        5 => drop(UpdateNodeRequest::decode(bytes)),
        _ => drop(UpdateClusterRequest::decode(bytes)),
    }
});
