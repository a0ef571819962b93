//! `--with-registry-auth`: the credentials this client's Docker
//! configuration holds for an image's registry, sent with the service's
//! spec as Swarm sends them, so that every node can pull the image.
//!
//! Read from `$DOCKER_CONFIG/config.json` (else `~/.docker/config.json`):
//! the registry's `credHelpers` entry or the `credsStore` helper
//! (`docker-credential-NAME get`), else its `auths` entry (`auth`, base64
//! of `user:password`, or `username`/`password`, or `identitytoken`).
//! Encoded as the Engine API's `X-Registry-Auth` header is: base64url of
//! the JSON credentials.

use std::collections::HashMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE};
use serde::Deserialize;
use serde_json::{Value, json};
use shoal_proto::{ContainerSpec, PullOptions};

/// The key Docker's configuration files Docker Hub's credentials under.
const DOCKER_HUB: &str = "https://index.docker.io/v1/";

/// Sets the pull credentials of `container`'s image when this client has
/// some for its registry (none: nothing is sent, as with Swarm).
pub fn attach(container: &mut ContainerSpec) -> Result<()> {
    let config = config_file();
    container.pull_options = encoded(&container.image, &config)?.map(|registry_auth| PullOptions { registry_auth });
    Ok(())
}

/// The registry an image reference names: its first part when that is a
/// host (has a dot or a port, or is `localhost`), else Docker Hub.
pub fn registry(image: &str) -> &str {
    match image.split_once('/') {
        Some((host, _)) if host.contains(['.', ':']) || host == "localhost" => host,
        _ => "docker.io",
    }
}

fn config_file() -> PathBuf {
    let dir = std::env::var_os("DOCKER_CONFIG").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").unwrap_or_default();
        PathBuf::from(home).join(".docker")
    });
    dir.join("config.json")
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: HashMap<String, String>,
}

#[derive(Deserialize, Default)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The encoded credentials for `image`'s registry in the configuration
/// at `path` (a missing file: none).
fn encoded(image: &str, path: &std::path::Path) -> Result<Option<String>> {
    let config: DockerConfig = match std::fs::read(path) {
        Ok(text) => serde_json::from_slice(&text).with_context(|| format!("reading {}", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let host = registry(image);
    let server = if host == "docker.io" { DOCKER_HUB.to_string() } else { host.to_string() };
    let helper = config.cred_helpers.get(host).or(config.creds_store.as_ref());
    let credentials = match helper {
        Some(helper) => from_helper(&format!("docker-credential-{helper}"), &server)?,
        None => from_auths(&config.auths, host, &server)?,
    };
    Ok(credentials.map(|c| URL_SAFE.encode(c.to_string())))
}

/// The `auths` entry of `host`, keyed as `docker login` keys it (the
/// host, or a URL of it).
fn from_auths(auths: &HashMap<String, AuthEntry>, host: &str, server: &str) -> Result<Option<Value>> {
    let bare = |key: &str| {
        let key = key.trim_start_matches("https://").trim_start_matches("http://");
        key.split('/').next().unwrap_or_default().to_string()
    };
    let wanted = if host == "docker.io" { "index.docker.io" } else { host };
    let Some((_, entry)) = auths.iter().find(|(key, _)| bare(key) == wanted) else { return Ok(None) };
    if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
        return Ok(Some(json!({ "identitytoken": token, "serveraddress": server })));
    }
    let (username, password) = match entry.auth.as_deref().filter(|a| !a.is_empty()) {
        Some(auth) => {
            let decoded = STANDARD.decode(auth.trim()).map_err(|e| anyhow!("auths.{host}.auth: not base64: {e}"))?;
            let text = String::from_utf8(decoded).map_err(|_| anyhow!("auths.{host}.auth: not text"))?;
            let (user, password) =
                text.split_once(':').ok_or_else(|| anyhow!("auths.{host}.auth: expected base64 of USER:PASSWORD"))?;
            (user.to_string(), password.to_string())
        }
        None => (entry.username.clone().unwrap_or_default(), entry.password.clone().unwrap_or_default()),
    };
    if username.is_empty() {
        return Ok(None);
    }
    Ok(Some(json!({ "username": username, "password": password, "serveraddress": server })))
}

/// Asks credential helper `program` (`docker-credential-NAME`) for
/// `server`'s.
fn from_helper(program: &str, server: &str) -> Result<Option<Value>> {
    let mut child = Command::new(program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .with_context(|| format!("running the credential helper {program}"))?;
    child.stdin.take().map(|mut stdin| stdin.write_all(server.as_bytes())).transpose()?;
    let out = child.wait_with_output()?;
    if !out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout);
        if said.contains("credentials not found") {
            return Ok(None);
        }
        bail!("{program} get {server}: {}{}", said.trim(), String::from_utf8_lossy(&out.stderr).trim());
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "PascalCase")]
    struct Found {
        username: String,
        secret: String,
    }
    let found: Found = serde_json::from_slice(&out.stdout).with_context(|| format!("{program} get: its answer"))?;
    // Docker's convention: user "<token>" means the secret is a token.
    if found.username == "<token>" {
        return Ok(Some(json!({ "identitytoken": found.secret, "serveraddress": server })));
    }
    Ok(Some(json!({ "username": found.username, "password": found.secret, "serveraddress": server })))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(encoded: &str) -> Value {
        serde_json::from_slice(&URL_SAFE.decode(encoded).unwrap()).unwrap()
    }

    #[test]
    fn the_registry_of_an_image() {
        assert_eq!(registry("redis:alpine"), "docker.io");
        assert_eq!(registry("dockersamples/vote"), "docker.io");
        assert_eq!(registry("ghcr.io/org/app:1"), "ghcr.io");
        assert_eq!(registry("127.0.0.1:5000/app"), "127.0.0.1:5000");
        assert_eq!(registry("localhost/app"), "localhost");
    }

    #[test]
    fn credentials_from_the_auths_of_a_docker_config() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        let auth = STANDARD.encode("me:s3cret");
        let config = json!({ "auths": {
            "https://index.docker.io/v1/": { "auth": auth },
            "127.0.0.1:5000": { "username": "u", "password": "p" },
            "http://ghcr.io/v2/": { "identitytoken": "tok" },
        }});
        std::fs::write(&path, config.to_string()).unwrap();
        let hub = decoded(&encoded("redis", &path).unwrap().unwrap());
        assert_eq!(hub, json!({ "username": "me", "password": "s3cret", "serveraddress": DOCKER_HUB }));
        let local = decoded(&encoded("127.0.0.1:5000/app:1", &path).unwrap().unwrap());
        assert_eq!(local["username"], "u");
        assert_eq!(local["serveraddress"], "127.0.0.1:5000");
        assert_eq!(decoded(&encoded("ghcr.io/a/b", &path).unwrap().unwrap())["identitytoken"], "tok");
        assert_eq!(encoded("quay.io/a/b", &path).unwrap(), None, "none for that registry");
        assert_eq!(encoded("redis", &dir.path().join("absent.json")).unwrap(), None, "no config");
        std::fs::write(&path, "{ nope").unwrap();
        assert!(encoded("redis", &path).unwrap_err().to_string().starts_with("reading "));
    }

    #[test]
    fn a_credential_helper_is_asked() {
        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-shoaltest");
        let script = "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\n\
                      [ \"$server\" = reg.example ] || { echo credentials not found; exit 1; }\n\
                      echo '{\"Username\":\"h\",\"Secret\":\"pw\"}'\n";
        std::fs::write(&helper, script).unwrap();
        std::fs::set_permissions(&helper, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        let program = helper.to_str().unwrap();
        let found = from_helper(program, "reg.example").unwrap().unwrap();
        assert_eq!(found, json!({ "username": "h", "password": "pw", "serveraddress": "reg.example" }));
        assert_eq!(from_helper(program, "other.example").unwrap(), None, "the helper has none");
        let missing = from_helper("/no/such/docker-credential-x", "reg.example").unwrap_err();
        assert!(missing.to_string().starts_with("running the credential helper"), "{missing}");
    }
}
