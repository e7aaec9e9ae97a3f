//! Notifications on the fleet channel, signed so that replicas act only on
//! those a host sent.

use geofn_db::secret::Secret;

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
