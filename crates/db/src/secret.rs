//! The host's secret: one random key per database, readable only by the
//! host's role, from which every replica derives the same handler
//! passwords and signs the same fleet notifications.

use deadpool_postgres::GenericClient;
use hmac::{KeyInit, Mac};
use sha2::Sha256;

/// Bytes of randomness in the secret handler passwords are derived from.
const SECRET_BYTES: usize = 32;

/// The key handler passwords and fleet notifications are derived from.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

impl Secret {
    /// Reads the database's secret, creating it on first use. Only the
    /// host's role can read `geofn_secrets` (see [`crate::migrate`]).
    pub async fn load(client: &impl GenericClient) -> Result<Self, tokio_postgres::Error> {
        let mut fresh = [0u8; SECRET_BYTES];
        getrandom::fill(&mut fresh).expect("the operating system's random source");
        client
            .execute(
                "INSERT INTO geofn_secrets (name, value) VALUES ('roles', $1) \
                 ON CONFLICT (name) DO NOTHING",
                &[&&fresh[..]],
            )
            .await?;
        let row = client
            .query_one("SELECT value FROM geofn_secrets WHERE name = 'roles'", &[])
            .await?;
        Ok(Self(row.get(0)))
    }

    /// A secret for tests, and for hosts whose handlers share its role.
    pub fn from_bytes(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// HMAC-SHA256 of `purpose` and `text`, lower-case hex.
    pub fn sign(&self, purpose: &str, text: &str) -> String {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(text.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// Whether `signature` is [`sign`](Self::sign)'s for `purpose` and `text`.
    pub fn verify(&self, purpose: &str, text: &str, signature: &str) -> bool {
        let mut mac = hmac::Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key");
        mac.update(purpose.as_bytes());
        mac.update(b"\0");
        mac.update(text.as_bytes());
        let Ok(bytes) = hex::decode(signature) else {
            return false;
        };
        mac.verify_slice(&bytes).is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_verify_only_for_their_purpose_text_and_key() {
        let secret = Secret::from_bytes(b"key");
        let signature = secret.sign("purpose", "text");
        assert_eq!(signature.len(), 64);
        assert!(secret.verify("purpose", "text", &signature));
        assert!(!secret.verify("other", "text", &signature));
        assert!(!secret.verify("purpose", "text2", &signature));
        assert!(!secret.verify("purpose", "text", "zz"));
        assert!(!Secret::from_bytes(b"other").verify("purpose", "text", &signature));
    }
}
