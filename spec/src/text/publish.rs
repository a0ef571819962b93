//! `--publish` as the Docker CLI takes it, and ports as its tables show
//! them (`*:8080->80/tcp`).
//!
//! Short form: `[PUBLISHED:]TARGET[/PROTOCOL]`, either side a range
//! (`8080-8081:80-81`); long form: `published=P,target=T[,protocol=tcp|udp][,mode=ingress|host]`.

use shoal_proto::{PortConfig, PortProtocol, PublishMode};

/// Parses one `--publish` value into the ports it publishes.
pub fn parse(text: &str) -> Result<Vec<PortConfig>, String> {
    if text.contains('=') { long(text).map(|p| vec![p]) } else { short(text) }
}

fn long(text: &str) -> Result<PortConfig, String> {
    let mut port = PortConfig::default();
    for field in text.split(',').filter(|f| !f.is_empty()) {
        let Some((key, value)) = field.split_once('=') else {
            return Err(format!("expected KEY=VALUE, got {field:?} in {text:?}"));
        };
        match key.trim() {
            "published" => port.published_port = number("published", value)?,
            "target" => port.target_port = number("target", value)?,
            "protocol" => port.protocol = protocol(value)? as i32,
            "mode" => {
                port.publish_mode = PublishMode::from_name(value)
                    .ok_or_else(|| format!("mode: expected ingress or host, got {value:?}"))?
                    as i32
            }
            other => {
                return Err(format!("unknown field {other:?} (expected published, target, protocol, mode): {text:?}"));
            }
        }
    }
    if port.target_port == 0 {
        return Err(format!("target is required: {text:?}"));
    }
    Ok(port)
}

fn short(text: &str) -> Result<Vec<PortConfig>, String> {
    let (ports, proto) = match text.split_once('/') {
        Some((ports, proto)) => (ports, protocol(proto)?),
        None => (text, PortProtocol::Tcp),
    };
    let (published, target) = match ports.rsplit_once(':') {
        Some((published, target)) => (Some(range("published", published)?), range("target", target)?),
        None => (None, range("target", ports)?),
    };
    if let Some(published) = &published
        && published.len() != target.len()
    {
        return Err(format!("the published and target ranges differ in length: {text:?}"));
    }
    Ok(target
        .iter()
        .enumerate()
        .map(|(i, t)| PortConfig {
            protocol: proto as i32,
            target_port: *t,
            published_port: published.as_ref().map_or(0, |p| p[i]),
            publish_mode: PublishMode::Ingress as i32,
        })
        .collect())
}

/// `80` or `8080-8082`.
fn range(what: &str, text: &str) -> Result<Vec<u32>, String> {
    match text.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (number(what, a)?, number(what, b)?);
            if a > b {
                return Err(format!("{what}: the range {text:?} ends before it starts"));
            }
            Ok((a..=b).collect())
        }
        None => Ok(vec![number(what, text)?]),
    }
}

fn number(what: &str, text: &str) -> Result<u32, String> {
    match text.trim().parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n),
        _ => Err(format!("{what}: expected a port number 1-65535, got {text:?}")),
    }
}

fn protocol(text: &str) -> Result<PortProtocol, String> {
    PortProtocol::from_name(&text.to_ascii_lowercase())
        .ok_or_else(|| format!("protocol: expected tcp or udp, got {:?}", text.to_ascii_lowercase()))
}

/// `*:8080->80/tcp`, as `docker service ls` and `service ps` show a port.
pub fn show(port: &PortConfig) -> String {
    format!("*:{}->{}/{}", port.published_port, port.target_port, port.protocol().name())
}

/// The ports, comma separated.
pub fn show_all<'a>(ports: impl IntoIterator<Item = &'a PortConfig>) -> String {
    ports.into_iter().map(show).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape(ports: &[PortConfig]) -> Vec<(u32, u32, PortProtocol, PublishMode)> {
        ports.iter().map(|p| (p.published_port, p.target_port, p.protocol(), p.publish_mode())).collect()
    }

    #[test]
    fn short_and_long_forms() {
        use PortProtocol::*;
        use PublishMode::*;
        assert_eq!(shape(&parse("8080:80").unwrap()), vec![(8080, 80, Tcp, Ingress)]);
        assert_eq!(shape(&parse("53:53/udp").unwrap()), vec![(53, 53, Udp, Ingress)]);
        assert_eq!(shape(&parse("80").unwrap()), vec![(0, 80, Tcp, Ingress)]);
        assert_eq!(shape(&parse("8080-8081:80-81").unwrap()), vec![(8080, 80, Tcp, Ingress), (8081, 81, Tcp, Ingress)]);
        assert_eq!(
            shape(&parse("published=9000,target=90,protocol=udp,mode=host").unwrap()),
            vec![(9000, 90, Udp, Host)]
        );
        assert_eq!(shape(&parse("target=90").unwrap()), vec![(0, 90, Tcp, Ingress)]);
    }

    #[test]
    fn errors_name_the_part() {
        let err = |t: &str| parse(t).unwrap_err();
        assert_eq!(err("x:80"), "published: expected a port number 1-65535, got \"x\"");
        assert_eq!(err("8080:0"), "target: expected a port number 1-65535, got \"0\"");
        assert_eq!(err("80/sctp"), "protocol: expected tcp or udp, got \"sctp\"");
        assert!(err("8080-8082:80-81").contains("differ in length"));
        assert!(err("81-80").contains("ends before it starts"));
        assert_eq!(err("published=80"), "target is required: \"published=80\"");
        assert!(err("target=80,mode=x").starts_with("mode: expected ingress or host"));
        assert!(err("target=80,size=3").starts_with("unknown field \"size\""));
    }

    #[test]
    fn ports_show_as_docker_does() {
        let ports = parse("8080:80").unwrap().into_iter().chain(parse("53:53/udp").unwrap()).collect::<Vec<_>>();
        assert_eq!(show_all(&ports), "*:8080->80/tcp,*:53->53/udp");
    }
}
