//! Fleet-wide handler deploys through PostgreSQL, the one durable thing
//! every replica already shares.
//!
//! A push stores a validated component as a new version and activates it
//! in one transaction, then `NOTIFY geofn_handlers`. Every replica
//! `LISTEN`s on a dedicated connection ([`listen`]), reconnecting after
//! database restarts and reconciling after every (re)connect, so one that
//! missed a notification still converges. Each replica loads the active
//! versions through the same reload path as file changes ([`crate::reload`]).
//!
//! Precedence: a handler stored in the database replaces the handler of the
//! same name in the handlers directory (the image's defaults); names only in
//! the database are added. `geofn dev` works the same way.
//!
//! - [`store`]: the versions table and its transactions.
//! - [`listen`]: the notification listener.
//! - [`overlay`]: the active stored handlers laid over a directory snapshot.

pub mod listen;
pub mod overlay;
pub mod store;

use crate::db::roles::Secret;

/// The channel pushes and rollbacks notify.
pub const CHANNEL: &str = "geofn_handlers";

/// What [`Secret::sign`] signs a notification for.
const NOTIFY_PURPOSE: &str = "fleet-notify";

/// The payload of a notification about `handler`: its name and a signature
/// only a host can make. Any role can `NOTIFY` any channel, PostgreSQL has
/// no privilege for it; replicas act only on notifications they can verify.
pub fn notification(secret: &Secret, handler: &str) -> String {
    format!("{handler} {}", secret.sign(NOTIFY_PURPOSE, handler))
}

/// The handler a notification is about, if a host sent it.
pub fn authentic<'a>(secret: &Secret, payload: &'a str) -> Option<&'a str> {
    let (handler, signature) = payload.split_once(' ')?;
    secret
        .verify(NOTIFY_PURPOSE, handler, signature)
        .then_some(handler)
}

/// Largest component a push may carry: Rust handlers are a few hundred
/// KiB, Python ones (a whole CPython inside) about 18 MB; this bounds what
/// one request can make a replica buffer.
pub const MAX_COMPONENT_BYTES: usize = 48 << 20;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_signed_notifications_are_authentic() {
        let secret = Secret::from_bytes(b"fleet");
        let payload = notification(&secret, "points");
        assert_eq!(authentic(&secret, &payload), Some("points"));
        assert_eq!(authentic(&secret, "points"), None);
        assert_eq!(authentic(&Secret::from_bytes(b"other"), &payload), None);
        let forged = payload.replacen("points", "features", 1);
        assert_eq!(authentic(&secret, &forged), None);
    }
}
