//! The accept loop: HTTP/1.1 and HTTP/2 on one listener, and a shutdown in
//! the order proxies need.
//!
//! On the signal the listener closes at once: new connections are refused,
//! which every proxy retries elsewhere — a POST too, since nothing was sent.
//! Connections already open keep being served for the shutdown delay, each
//! answer closing its connection (`Connection: close`, see `http`), so no
//! proxy is left holding an idle connection to us. Then the remaining
//! connections are shut down gracefully, within the drain timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::shutdown::ShutdownTiming;

/// Pause after a failed accept (out of file descriptors, say) before the
/// next, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown`, then shuts down as above.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: CancellationToken,
    draining: Arc<AtomicBool>,
    timing: ShutdownTiming,
) -> std::io::Result<()> {
    let builder = Builder::new(TokioExecutor::new());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(peer = %peer, error = %err, "connection ended with an error");
            }
        });
    }

    draining.store(true, Ordering::Relaxed);
    drop(listener);
    tracing::info!(
        connections = graceful.count(),
        delay_ms = timing.delay.as_millis() as u64,
        "listener closed; serving open connections, each answer closing its own"
    );
    tokio::time::sleep(timing.delay).await;
    let open = graceful.count();
    if tokio::time::timeout(timing.drain, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            connections = open,
            "drain timeout: exiting with connections still open"
        );
    }
    Ok(())
}
