//! The dedicated `LISTEN` connection: wakes the reload loop on every
//! notification and after every (re)connect, so a replica that was cut off
//! while a push happened converges as soon as it is back.

use std::time::Duration;

use tokio::sync::mpsc;
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use geofn_db::secret::Secret;
use geofn_db::tls::{TlsSettings, connector};
use geofn_telemetry::metrics::FLEET_NOTIFICATIONS_IGNORED;

use super::signed::{CHANNEL, authentic};

/// First pause before reconnecting; doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// Longest pause between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(2);

/// Listens until `shutdown`; sends on `changed` when handlers may have
/// changed. Notifications not signed with `secret` (any role may `NOTIFY`
/// any channel, a handler included) are logged and ignored.
pub async fn run(
    mut config: tokio_postgres::Config,
    tls: TlsSettings,
    secret: Secret,
    changed: mpsc::Sender<()>,
    shutdown: CancellationToken,
) {
    config.application_name("geofn-listen");
    config.ssl_mode(tls.mode.wire_mode());
    let mut backoff = FIRST_BACKOFF;
    while !shutdown.is_cancelled() {
        let connector = match connector(&tls) {
            Ok(connector) => connector,
            Err(err) => {
                tracing::error!(error = %err, "fleet listener: TLS setup failed; not listening");
                return;
            }
        };
        let attempt = tokio::select! {
            attempt = geofn_db::resolve::connect(&config, connector) => attempt,
            () = shutdown.cancelled() => return,
        };
        let (client, mut connection) = match attempt {
            Ok(pair) => pair,
            Err(err) => {
                tracing::debug!(error = %err, "fleet listener: cannot connect; retrying");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        // The connection must be polled for LISTEN to be sent and for
        // notifications to arrive: drive it here, forward notifications.
        let forward = changed.clone();
        let secret = secret.clone();
        let driver = tokio::spawn(async move {
            loop {
                match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                    Some(Ok(AsyncMessage::Notification(note))) => {
                        match authentic(&secret, note.payload()) {
                            Some(handler) => {
                                tracing::info!(
                                    handler.name = handler,
                                    "fleet: handler change notified"
                                );
                                let _ = forward.try_send(());
                            }
                            None => {
                                metrics::counter!(FLEET_NOTIFICATIONS_IGNORED).increment(1);
                                tracing::warn!(
                                    db.backend_pid = note.process_id(),
                                    "fleet: ignored a notification no host signed"
                                );
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                    Some(Err(err)) => return err.to_string(),
                    None => return "connection closed".to_owned(),
                }
            }
        });
        match client.batch_execute(&format!("LISTEN {CHANNEL}")).await {
            Ok(()) => {
                backoff = FIRST_BACKOFF;
                tracing::info!("fleet listener connected");
                // Whatever was pushed while we were away: reconcile now.
                let _ = changed.try_send(());
            }
            Err(err) => tracing::warn!(error = %err, "fleet listener: LISTEN failed"),
        }
        tokio::select! {
            ended = driver => {
                let why = ended.unwrap_or_else(|e| e.to_string());
                tracing::warn!(reason = %why, "fleet listener lost its connection; reconnecting");
                tokio::time::sleep(backoff).await;
            }
            () = shutdown.cancelled() => return,
        }
    }
}
