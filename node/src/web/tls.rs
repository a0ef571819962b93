//! The web view off loopback: HTTPS with this manager's certificate, for
//! clients presenting an admin certificate of the cluster that is not
//! revoked (`shoal cluster admin create`). Any other client's connection
//! is closed after the handshake.
//!
//! Handshakes run off the accept loop, with a deadline, so a slow client
//! holds up no other.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use shoal_manager::Manager;
use shoal_manager::standing::{self, Rights};
use shoal_proto::transport::{Identity, Role};
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
    pub fn new(listener: TcpListener, manager: watch::Receiver<Option<Manager>>) -> io::Result<AdminListener> {
        let local = listener.local_addr()?;
        let (tx, admitted) = mpsc::channel(16);
        let accepting = tokio::spawn(async move {
            loop {
                let Ok((tcp, addr)) = listener.accept().await else {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                };
                let (manager, tx) = (manager.borrow().clone(), tx.clone());
                tokio::spawn(async move {
                    match tokio::time::timeout(HANDSHAKE_TIMEOUT, admit(tcp, manager)).await {
                        Ok(Ok(tls)) => {
                            let _ = tx.send((tls, addr)).await;
                        }
                        Ok(Err(why)) => debug!(%addr, %why, "web view: connection refused"),
                        Err(_) => debug!(%addr, "web view: TLS handshake timed out"),
                    }
                });
            }
        });
        Ok(AdminListener { admitted, local, accepting })
    }
}

/// The TLS connection of an admin; else why not.
async fn admit(tcp: TcpStream, manager: Option<Manager>) -> Result<TlsStream<TcpStream>, String> {
    let manager = manager.ok_or("this node is not a manager")?;
    let config = manager.credentials().https_config().map_err(|e| e.to_string())?;
    let tls = TlsAcceptor::from(std::sync::Arc::new(config)).accept(tcp).await.map_err(|e| e.to_string())?;
    let identity = tls.get_ref().1.peer_certificates().and_then(|c| c.first()).and_then(|c| Identity::from_cert(c));
    match identity {
        Some(id) if id.role == Role::Admin => {
            manager.store().view(|s| standing::check(s, &id, Rights::Manager))?;
            Ok(tls)
        }
        Some(id) => {
            Err(format!("{} certificate {}: the web view is for admin certificates", id.role.name(), id.node_id))
        }
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
