//! A network spec from a client, checked: a name, the overlay driver (the
//! default and the only one), a gateway only with a subnet, an ingress
//! network neither attachable nor internal.

use shoal_proto::NetworkSpec;

use crate::InvalidSpec;
use crate::validate;

/// The only network driver.
pub const OVERLAY: &str = "overlay";
/// Name of the routing mesh's network, made at init.
pub const INGRESS: &str = "ingress";

/// Checks a network spec from a client; the driver defaults to overlay.
pub fn network_spec(mut spec: NetworkSpec) -> std::result::Result<NetworkSpec, InvalidSpec> {
    let annotations = spec.annotations.get_or_insert_with(Default::default);
    if annotations.name.is_empty() {
        return Err(InvalidSpec("name: a network needs a name".into()));
    }
    validate::check_name(&annotations.name)?;
    validate::check_labels("label", annotations.labels.keys())?;
    if spec.driver.is_empty() {
        spec.driver = OVERLAY.into();
    }
    if spec.driver != OVERLAY {
        return Err(InvalidSpec(format!("driver: only {OVERLAY:?} is supported, got {:?}", spec.driver)));
    }
    if !spec.gateway.is_empty() && spec.subnet.is_empty() {
        return Err(InvalidSpec("gateway: needs --subnet too".into()));
    }
    if spec.ingress && spec.attachable {
        return Err(InvalidSpec("an ingress network cannot be attachable".into()));
    }
    if spec.ingress && spec.internal {
        return Err(InvalidSpec("an ingress network cannot be internal".into()));
    }
    validate::check_size("spec", &spec)?;
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use shoal_proto::Annotations;

    use super::*;

    fn spec(name: &str) -> NetworkSpec {
        NetworkSpec { annotations: Some(Annotations { name: name.into(), ..Default::default() }), ..Default::default() }
    }

    #[test]
    fn specs_are_checked_and_default_to_overlay() {
        assert_eq!(network_spec(spec("back")).unwrap().driver, "overlay");
        let err = |s: NetworkSpec| network_spec(s).unwrap_err().to_string();
        assert_eq!(err(spec("")), "name: a network needs a name");
        assert_eq!(
            err(NetworkSpec { driver: "bridge".into(), ..spec("b") }),
            "driver: only \"overlay\" is supported, got \"bridge\""
        );
        assert_eq!(err(NetworkSpec { gateway: "10.1.0.1".into(), ..spec("b") }), "gateway: needs --subnet too");
        assert!(err(spec("bad name")).starts_with("name:"), "{}", err(spec("bad name")));
        assert_eq!(
            err(NetworkSpec { ingress: true, internal: true, ..spec("i") }),
            "an ingress network cannot be internal"
        );
    }
}
