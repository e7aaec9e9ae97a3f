//! The accept loop: HTTP/1.1 and HTTP/2 on one listener, and a shutdown in
//! the order proxies need.
//!
//! On the signal the listener closes at once: new connections are refused,
//! which every proxy retries elsewhere — a POST too, since nothing was sent.
//! Connections the kernel already completed (the accept queue) are taken
//! and served first: closing a listener resets them, and a proxy that had
//! sent a POST on one could neither retry it nor answer it (nginx's 502).
//! Connections already open keep being served for the shutdown delay, each
//! answer closing its connection (`Connection: close`, see `http`), so no
//! proxy is left holding an idle connection to us. Then the remaining
//! connections are shut down gracefully, within the drain timeout.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use axum::Extension;
use axum::Router;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::CancellationToken;
use tower_layer::Layer;

use crate::head_limits::HeadLimits;
use crate::router::router;
use crate::shutdown::ShutdownTiming;
use crate::state::AppState;

/// Serves `state` on `listener` until `shutdown` is cancelled, then shuts
/// down as this module describes: stop accepting, serve open connections
/// for `timing.delay` while closing them, drain within `timing.drain`.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: CancellationToken,
    timing: ShutdownTiming,
) -> std::io::Result<()> {
    let draining = state.draining.clone();
    let limits = state.head_limits;
    serve(listener, router(state), limits, shutdown, draining, timing).await
}

/// Pause after a failed accept (out of file descriptors, say) before the
/// next, so the loop does not spin.
const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(50);

/// Serves `app` on `listener` until `shutdown`, then shuts down as above.
/// `limits` are the heads `app` refuses itself; HTTP/2's own bound on a
/// header list is set above them, so they are the ones a client meets.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: HeadLimits,
    shutdown: CancellationToken,
    draining: Arc<AtomicBool>,
    timing: ShutdownTiming,
) -> std::io::Result<()> {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http2()
        .max_header_list_size(limits.http2_header_list_bytes());
    let graceful = GracefulShutdown::new();
    loop {
        let (stream, peer) = tokio::select! {
            biased;
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(ACCEPT_ERROR_PAUSE).await;
                    continue;
                }
            },
        };
        spawn_connection(&builder, &graceful, &app, stream, peer);
    }

    draining.store(true, Ordering::Relaxed);
    let queued = take_accept_queue(&listener);
    drop(listener);
    let queued_count = queued.len();
    for (stream, peer) in queued {
        spawn_connection(&builder, &graceful, &app, stream, peer);
    }
    tracing::info!(
        connections = graceful.count(),
        queued = queued_count,
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

/// Serves one accepted connection under `graceful`'s watch.
fn spawn_connection(
    builder: &Builder<TokioExecutor>,
    graceful: &GracefulShutdown,
    app: &Router,
    stream: TcpStream,
    peer: SocketAddr,
) {
    let _ = stream.set_nodelay(true);
    // The peer, for the request span's `network.peer.address`.
    let app = Extension(ConnectInfo(peer)).layer(app.clone());
    let service = TowerToHyperService::new(app);
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

/// Every connection waiting in the listener's accept queue, without
/// waiting for more.
fn take_accept_queue(listener: &TcpListener) -> Vec<(TcpStream, SocketAddr)> {
    let mut context = Context::from_waker(Waker::noop());
    let mut queued = Vec::new();
    while let Poll::Ready(Ok(accepted)) = listener.poll_accept(&mut context) {
        queued.push(accepted);
    }
    queued
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use axum::routing::post;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    /// A POST the kernel accepted just before the signal is answered, not
    /// reset: a proxy could not have retried it.
    #[tokio::test]
    async fn a_request_waiting_in_the_accept_queue_at_shutdown_is_answered() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"POST /point HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
            .await
            .unwrap();
        let shutdown = CancellationToken::new();
        shutdown.cancel();
        let app = Router::new().route("/point", post(|| async { "stored" }));
        let timing = ShutdownTiming {
            delay: Duration::ZERO,
            drain: Duration::from_secs(5),
        };
        let server = tokio::spawn(serve(
            listener,
            app,
            HeadLimits::default(),
            shutdown,
            Arc::default(),
            timing,
        ));

        let mut answer = String::new();
        client.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("stored"), "{answer}");
        server.await.unwrap().unwrap();
    }
}
