//! The one shutdown signal every part of the host watches: a
//! [`CancellationToken`] cancelled on Ctrl-C or SIGTERM.

use std::time::Duration;

use tokio_util::sync::CancellationToken;

/// Longest wait for requests in flight after the listener closes: under
/// Kubernetes' default 30 s grace period, so we exit before SIGKILL.
pub const DEFAULT_DRAIN_TIMEOUT: Duration = Duration::from_secs(25);

/// How shutdown unfolds after the signal.
#[derive(Debug, Clone, Copy)]
pub struct ShutdownTiming {
    /// Keep serving connections already open (not ready, closing each
    /// after its answer) this long after the listener closed.
    pub delay: Duration,
    /// Then wait at most this long for requests in flight.
    pub drain: Duration,
}

/// A token cancelled when the process is asked to stop.
pub fn on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        signal().await;
        cancel.cancel();
    });
    token
}

/// Resolves on Ctrl-C or SIGTERM (what `docker stop` and Kubernetes send).
pub async fn signal() {
    let ctrl_c = async {
        if let Err(err) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %err, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut sigterm) => {
                sigterm.recv().await;
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => tracing::info!("Ctrl-C: shutting down"),
        () = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
