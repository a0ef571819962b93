//! A Docker registry for tests, on 127.0.0.1: the pull side of the
//! registry v2 API (`/v2/`, manifests, blobs) serving one image made of
//! busybox, behind HTTP basic auth. The Docker Engine pulls from it over
//! plain HTTP (it treats 127.0.0.0/8 registries as insecure). It counts
//! the manifest requests it answered with and without credentials.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::images::BusyboxImage;

/// An HTTP header of a reply.
type Header = (&'static str, String);

const MANIFEST_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";

/// The registry; stops serving when dropped.
pub struct Registry {
    pub addr: SocketAddr,
    /// Manifests served to a client with the right credentials.
    pub authorized: Arc<AtomicUsize>,
    /// Requests refused for want of them.
    pub refused: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
}

/// What the registry serves: one manifest, its config and its layer.
struct Content {
    repository: String,
    tag: String,
    manifest: Vec<u8>,
    manifest_digest: String,
    blobs: Vec<(String, Vec<u8>)>,
    authorization: String,
}

impl Registry {
    /// Serves `REPOSITORY:TAG` (busybox with `applets`, labelled like a
    /// [`BusyboxImage`] of `purpose`) to clients logged in as
    /// `user`/`password`; returns the registry and the guard of the image
    /// the engine will pull (`127.0.0.1:PORT/REPOSITORY:TAG`), which
    /// removes it and its containers when dropped.
    pub fn serve(purpose: &str, applets: &[&str], user: &str, password: &str) -> (Registry, BusyboxImage) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let token = rand::random::<u32>();
        let (repository, tag) = (format!("shoal-test/{purpose}"), token.to_string());
        let label = format!("shoal-test-{purpose}={token}");
        let content = Arc::new(Content::build(&repository, &tag, &label, applets, user, password));
        let image = BusyboxImage { label, name: format!("{addr}/{repository}:{tag}") };
        let registry = Registry { addr, authorized: Arc::default(), refused: Arc::default(), stop: Arc::default() };
        let (stop, authorized, refused) =
            (registry.stop.clone(), registry.authorized.clone(), registry.refused.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (content, authorized, refused) = (content.clone(), authorized.clone(), refused.clone());
                std::thread::spawn(move || {
                    let _ = serve(stream, &content, &authorized, &refused);
                });
            }
        });
        (registry, image)
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr); // wakes the accept loop
    }
}

impl Content {
    fn build(repository: &str, tag: &str, label: &str, applets: &[&str], user: &str, password: &str) -> Content {
        let dir = tempfile::tempdir().unwrap();
        let tar = BusyboxImage::rootfs(dir.path(), applets, &[]);
        let ok = Command::new("gzip").arg("-n").arg("-k").arg(&tar).status().expect("gzip");
        assert!(ok.success(), "gzip");
        let (layer, gzipped) = (std::fs::read(&tar).unwrap(), std::fs::read(tar.with_extension("tar.gz")).unwrap());
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            other => other,
        };
        let (key, value) = label.split_once('=').unwrap();
        let config = json!({
            "architecture": arch,
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": { "Labels": { key: value } },
            "rootfs": { "type": "layers", "diff_ids": [digest(&layer)] },
            "history": [{ "created": "2026-01-01T00:00:00Z", "created_by": "shoal tests" }],
        })
        .to_string()
        .into_bytes();
        let manifest = json!({
            "schemaVersion": 2,
            "mediaType": MANIFEST_TYPE,
            "config": {
                "mediaType": "application/vnd.docker.container.image.v1+json",
                "size": config.len(),
                "digest": digest(&config),
            },
            "layers": [{
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": gzipped.len(),
                "digest": digest(&gzipped),
            }],
        })
        .to_string()
        .into_bytes();
        Content {
            repository: repository.to_string(),
            tag: tag.to_string(),
            manifest_digest: digest(&manifest),
            manifest,
            blobs: vec![(digest(&config), config), (digest(&gzipped), gzipped)],
            authorization: format!("Basic {}", STANDARD.encode(format!("{user}:{password}"))),
        }
    }
}

fn digest(bytes: &[u8]) -> String {
    let hash = Sha256::digest(bytes);
    format!("sha256:{}", hash.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// Answers the requests of one connection (kept alive) until it closes.
fn serve(stream: TcpStream, content: &Content, authorized: &AtomicUsize, refused: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut stream = stream;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (Some(method), Some(path)) = (parts.next(), parts.next()) else {
            // Not HTTP (a TLS hello: the engine tries HTTPS first).
            return respond(&mut stream, "400 Bad Request", &[], b"", true);
        };
        let (method, path) = (method.to_string(), path.to_string());
        let mut authorization = String::new();
        let mut length = 0usize;
        loop {
            let mut header = String::new();
            if reader.read_line(&mut header)? == 0 {
                return Ok(());
            }
            let header = header.trim_end();
            if header.is_empty() {
                break;
            }
            let (name, value) = header.split_once(':').unwrap_or((header, ""));
            match name.to_ascii_lowercase().as_str() {
                "authorization" => authorization = value.trim().to_string(),
                "content-length" => length = value.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        if authorization != content.authorization {
            refused.fetch_add(1, Ordering::Relaxed);
            let challenge = [("WWW-Authenticate", "Basic realm=\"shoal-test\"".to_string())];
            let error = br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#;
            respond(&mut stream, "401 Unauthorized", &challenge, error, method == "HEAD")?;
            continue;
        }
        let prefix = format!("/v2/{}/", content.repository);
        let found: Option<(Vec<Header>, &[u8])> = if path == "/v2/" {
            Some((vec![("Content-Type", "application/json".into())], b"{}"))
        } else if let Some(reference) = path.strip_prefix(&prefix).and_then(|p| p.strip_prefix("manifests/")) {
            (reference == content.tag || reference == content.manifest_digest).then(|| {
                authorized.fetch_add(1, Ordering::Relaxed);
                let headers = vec![
                    ("Content-Type", MANIFEST_TYPE.to_string()),
                    ("Docker-Content-Digest", content.manifest_digest.clone()),
                ];
                (headers, content.manifest.as_slice())
            })
        } else if let Some(wanted) = path.strip_prefix(&prefix).and_then(|p| p.strip_prefix("blobs/")) {
            content.blobs.iter().find(|(d, _)| d == wanted).map(|(d, blob)| {
                let headers = vec![
                    ("Content-Type", "application/octet-stream".to_string()),
                    ("Docker-Content-Digest", d.clone()),
                ];
                (headers, blob.as_slice())
            })
        } else {
            None
        };
        match found {
            Some((headers, body)) => respond(&mut stream, "200 OK", &headers, body, method == "HEAD")?,
            None => {
                let error = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"not found"}]}"#;
                respond(&mut stream, "404 Not Found", &[], error, method == "HEAD")?;
            }
        }
    }
}

fn respond(stream: &mut TcpStream, status: &str, headers: &[Header], body: &[u8], head: bool) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nDocker-Distribution-API-Version: registry/2.0\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (name, value) in headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    if !head {
        stream.write_all(body)?;
    }
    stream.flush()
}
