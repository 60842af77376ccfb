//! The door: accepting TCP connections and handing them to HTTP/1.1, so that slow or greedy
//! clients cannot take the site down. It owns the header-read timeout (which also closes idle
//! kept-alive connections), the cap on open connections per client address, backing off when
//! accept fails (out of file descriptors), the file-descriptor limit, and the bounded drain after
//! SIGTERM.

use std::collections::HashMap;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower_service::Service;

use crate::config::Config;
use crate::http::TrustedProxies;

/// Raises the soft limit on open files to the hard limit: every connection is a descriptor, and
/// the usual soft limit of 1,024 is reached long before memory or CPU.
pub fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open file limit"),
        Err(e) => tracing::warn!(error = %e, "could not raise the open file limit"),
    }
}

/// Open connections per client address.
struct PerAddress {
    cap: u32,
    proxies: TrustedProxies,
    open: Mutex<HashMap<IpAddr, u32>>,
}

/// One admitted connection; dropping it frees its place (uncapped ones have no owner).
struct Slot {
    owner: Option<Arc<PerAddress>>,
    ip: IpAddr,
}

impl PerAddress {
    fn new(config: &Config) -> Arc<PerAddress> {
        // Behind N proxies of unknown address every peer is a proxy: the proxy must do the
        // capping then (nginx `limit_conn`), so the cap is off.
        let cap = match config.trusted_proxies {
            TrustedProxies::Hops(_) => 0,
            _ => config.conn_per_ip,
        };
        Arc::new(PerAddress {
            cap,
            proxies: config.trusted_proxies.clone(),
            open: Mutex::new(HashMap::new()),
        })
    }

    /// A place for a connection from `ip`, or None when it already has `cap` open.
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        let uncapped = self.cap == 0
            || matches!(&self.proxies, TrustedProxies::Networks(nets) if nets.iter().any(|n| n.contains(ip)));
        if uncapped {
            return Some(Slot { owner: None, ip });
        }
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        let count = open.entry(ip).or_insert(0);
        if *count >= self.cap {
            return None;
        }
        *count += 1;
        Some(Slot {
            owner: Some(self.clone()),
            ip,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let Some(owner) = &self.owner else { return };
        let mut open = owner.open.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(count) = open.get_mut(&self.ip) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves, then stops accepting, lets each
/// connection finish the request it is on (idle ones close at once) and returns when all have,
/// or after `config.drain_secs` at most.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    config: &Config,
    shutdown: impl Future<Output = ()>,
) {
    let per_address = PerAddress::new(config);
    let header_timeout = Duration::from_secs(config.header_timeout_secs);
    let mut make = app.into_make_service_with_connect_info::<SocketAddr>();
    // Every connection holds a receiver; the drain is over when none is left.
    let (closing, closing_rx) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of descriptors (EMFILE) or memory: retrying at once would spin a core
                    // while nothing frees up. Connection-level errors (a peer that reset before
                    // we accepted) are not worth a pause.
                    if !is_connection_error(&e) {
                        tracing::warn!(error = %e, "accept error; pausing");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Some(slot) = per_address.admit(peer.ip()) else {
            // Over the cap: closed at once, costing this address its own connections only.
            metrics::counter!("mutual_connections_refused_total").increment(1);
            drop(stream);
            continue;
        };
        let Ok(tower_service) = make.call(peer).await;
        let mut closing_rx = closing_rx.clone();
        tokio::spawn(async move {
            let _slot = slot;
            // The router takes hyper's body type as it comes.
            let service = TowerToHyperService::new(tower_service);
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(header_timeout)
                .serve_connection(TokioIo::new(stream), service)
                // WebSocket upgrades hand the socket to `realtime::socket`; the connection's
                // place is freed then (sockets have their own per-node cap).
                .with_upgrades();
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended");
                    }
                    return;
                }
                _ = closing_rx.changed() => {}
            }
            connection.as_mut().graceful_shutdown();
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection ended while draining");
            }
        });
    }
    drop(listener);
    drop(closing_rx);
    let _ = closing.send(true);
    let drain = Duration::from_secs(config.drain_secs);
    if tokio::time::timeout(drain, closing.closed()).await.is_err() {
        tracing::warn!(
            connections = closing.receiver_count(),
            "drain time is up; closing the connections still open"
        );
    }
}

fn is_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}
