//! The HTTP server of `graphgate serve`. `axum::serve` offers no header timeout and no
//! connection limit, so a few hundred clients sending their request heads slowly could hold
//! every file descriptor and starve everyone else. This is the same hyper server, with:
//! - a header read timeout, which also ends a kept-alive connection idle for as long;
//! - a limit on connections served at once, kept below the process's file limit;
//! - a body read timeout (in the Router, see `intake::router`).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use crate::config::ConnectionLimits;
use crate::telemetry::error_chain;

/// File descriptors kept back from connections: the store, the clients' own sockets, logs.
const RESERVED_FILES: u64 = 64;

/// How long in-flight requests may finish after Ctrl-C.
const DRAIN: Duration = Duration::from_secs(10);

/// The HTTP app bound to its socket, not yet serving.
pub struct Application {
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
}

impl Application {
    pub async fn bind(
        router: Router,
        listen: SocketAddr,
        limits: ConnectionLimits,
    ) -> std::io::Result<Self> {
        Ok(Application {
            listener: TcpListener::bind(listen).await?,
            router,
            limits,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serves until Ctrl-C, then lets requests in flight finish for a while.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let slots = Arc::new(Semaphore::new(connection_slots(
            self.limits.max_connections,
        )));
        let graceful = GracefulShutdown::new();
        let stop = tokio::signal::ctrl_c();
        tokio::pin!(stop);
        loop {
            // At the limit, stop accepting: new connections wait in the listen backlog, and
            // the header timeout frees slots held by slow clients.
            let slot = tokio::select! {
                slot = slots.clone().acquire_owned() => slot.expect("the semaphore is never closed"),
                _ = &mut stop => break,
            };
            let stream = tokio::select! {
                accepted = self.listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(e) => {
                        tracing::warn!(error = %error_chain(&e), "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
                _ = &mut stop => break,
            };
            let connection = http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(self.limits.header_timeout)
                .serve_connection(
                    TokioIo::new(stream),
                    TowerToHyperService::new(self.router.clone()),
                );
            let connection = graceful.watch(connection);
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::debug!(error = %error_chain(&e), "connection ended with an error");
                }
                drop(slot);
            });
        }
        if tokio::time::timeout(DRAIN, graceful.shutdown())
            .await
            .is_err()
        {
            tracing::warn!("requests still in flight after {DRAIN:?}; stopping anyway");
        }
        Ok(())
    }
}

/// `wanted`, or fewer if the process may not open that many files. The soft limit is raised
/// to the hard one first, as servers do.
fn connection_slots(wanted: usize) -> usize {
    let files = rlimit::increase_nofile_limit(u64::MAX).unwrap_or(1024);
    let affordable = files.saturating_sub(RESERVED_FILES).max(1);
    if (wanted as u64) > affordable {
        tracing::warn!(
            wanted,
            affordable,
            "fewer connections than GRAPHGATE_MAX_CONNECTIONS: the process may open only {files} files"
        );
    }
    wanted.min(usize::try_from(affordable).unwrap_or(usize::MAX))
}
