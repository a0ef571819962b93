//! A manager's HTTPS endpoints off the local socket (the web view off
//! loopback, the Docker Engine API over TCP): clients must present an
//! admin certificate of the cluster that is not revoked (`shoal cluster
//! admin create`); any other client's connection is closed after the
//! handshake. The server presents a certificate made for the address the
//! client reached ([`shoal_manager::ca::serving`]), so clients that check
//! it against that address (the docker CLI's `--tlsverify`) accept it.
//!
//! Handshakes run off the accept loop, with a deadline, so a slow client
//! holds up no other.

use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use shoal_manager::Manager;
use shoal_manager::ca::serving;
use shoal_manager::standing::{self, Rights};
use shoal_proto::transport::{Credentials, Identity, Role};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tracing::debug;

/// How long a client may take to complete the handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections from admins, handshakes done.
pub struct AdminListener {
    admitted: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
    accepting: JoinHandle<()>,
}

impl AdminListener {
    /// Admits admins on `listener` to `what` (named in the log and in
    /// refusals) while this node is a manager.
    pub fn new(
        listener: TcpListener,
        manager: watch::Receiver<Option<Manager>>,
        what: &'static str,
    ) -> io::Result<AdminListener> {
        let local = listener.local_addr()?;
        let (tx, admitted) = mpsc::channel(16);
        let certificates = Certificates::default();
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((tcp, addr)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (manager, tx) = (manager.borrow().clone(), tx.clone());
                let certificates = certificates.clone();
                tokio::spawn(async move {
                    let admitting = admit(tcp, manager, &certificates, what);
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, admitting).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(why)) => debug!(%addr, %why, "{what}: connection refused"),
                        Err(_) => debug!(%addr, "{what}: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(AdminListener { admitted, local, accepting })
    }
}

/// The serving certificates made so far, one per address clients reached
/// (a listener on 0.0.0.0 is reached at each of the machine's addresses).
#[derive(Clone, Default)]
struct Certificates(Arc<Mutex<HashMap<IpAddr, Made>>>);

struct Made {
    credentials: Credentials,
    at: Instant,
}

impl Certificates {
    /// Credentials to serve at `ip`: the ones made before while they are
    /// young and of the cluster's current CA, else new ones.
    fn at(&self, manager: &Manager, ip: IpAddr) -> Result<Credentials, String> {
        let mut made = self.0.lock();
        if let Some(m) = made.get(&ip)
            && m.at.elapsed() < serving::LIFETIME / 2
            && m.credentials.ca() == manager.credentials().ca()
        {
            return Ok(m.credentials.clone());
        }
        let credentials = manager.serving_credentials(ip)?;
        made.insert(ip, Made { credentials: credentials.clone(), at: Instant::now() });
        Ok(credentials)
    }
}

/// The TLS connection of an admin; else why not.
async fn admit(
    tcp: TcpStream,
    manager: Option<Manager>,
    certificates: &Certificates,
    what: &str,
) -> Result<TlsStream<TcpStream>, String> {
    let manager = manager.ok_or("this node is not a manager")?;
    let ip = tcp.local_addr().map_err(|e| e.to_string())?.ip();
    let config = certificates.at(&manager, ip)?.https_config().map_err(|e| e.to_string())?;
    let tls = TlsAcceptor::from(Arc::new(config)).accept(tcp).await.map_err(|e| e.to_string())?;
    let identity = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| Identity::from_cert(c));
    match identity {
        Some(id) if id.role == Role::Admin => {
            manager.store().view(|s| standing::check(s, &id, Rights::Manager))?;
            Ok(tls)
        }
        Some(id) => Err(format!("{} certificate {}: {what} is for admin certificates", id.role.name(), id.node_id)),
        None => Err("no certificate of this cluster".into()),
    }
}

impl Drop for AdminListener {
    fn drop(&mut self) {
        self.accepting.abort();
    }
}

impl axum::serve::Listener for AdminListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.admitted.recv().await {
            Some(conn) => conn,
            // The accept loop ends only when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
