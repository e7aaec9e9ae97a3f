//! An issuer's signing keys, from its JWKS (RFC 7517): each usable key with
//! the algorithms it may verify. A key verifies only its own algorithm
//! family: an RSA key RS256 or PS256 (or the one its `alg` names), a P-256
//! key ES256, an Ed25519 key EdDSA. Symmetric (`oct`) keys, encryption keys
//! and other algorithms are never used: no `none`, no HMAC keyed with a
//! public key.

use std::collections::HashMap;

use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, DecodingKey};

/// The algorithms this host verifies.
pub const ALLOWED: [Algorithm; 4] = [
    Algorithm::RS256,
    Algorithm::PS256,
    Algorithm::ES256,
    Algorithm::EdDSA,
];

/// A key ready to verify, and what it may verify.
pub struct Key {
    /// The key.
    pub decoding: DecodingKey,
    /// The algorithms tokens signed with it may name.
    pub algorithms: Vec<Algorithm>,
}

/// The usable keys of a JWKS, by `kid`.
#[derive(Default)]
pub struct KeySet {
    by_kid: HashMap<String, Key>,
    without_kid: Vec<Key>,
    /// Keys the document held that cannot verify anything here.
    pub skipped: usize,
    /// Which load this is: tokens verified with an earlier one are verified
    /// again (a key may have been withdrawn since).
    pub generation: u64,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("kids", &self.by_kid.keys().collect::<Vec<_>>())
            .field("without_kid", &self.without_kid.len())
            .field("skipped", &self.skipped)
            .finish()
    }
}

impl KeySet {
    /// The usable keys of a JWKS document.
    pub fn parse(document: &[u8]) -> Result<Self, String> {
        let set: JwkSet =
            serde_json::from_slice(document).map_err(|e| format!("not a JWKS: {e}"))?;
        let mut keys = KeySet::default();
        for jwk in &set.keys {
            let algorithms = algorithms_for(jwk);
            let decoding = match DecodingKey::from_jwk(jwk) {
                Ok(decoding) if !algorithms.is_empty() => decoding,
                _ => {
                    keys.skipped += 1;
                    continue;
                }
            };
            let key = Key {
                decoding,
                algorithms,
            };
            match &jwk.common.key_id {
                Some(kid) => {
                    keys.by_kid.insert(kid.clone(), key);
                }
                None => keys.without_kid.push(key),
            }
        }
        Ok(keys)
    }

    /// How many keys can verify.
    pub fn len(&self) -> usize {
        self.by_kid.len() + self.without_kid.len()
    }

    /// Whether no key can verify.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The key a token with `kid` (and signed with `alg`) names: by its id,
    /// or, for a token without one, the only key without an id for `alg`.
    pub fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<&Key> {
        match kid {
            Some(kid) => self.by_kid.get(kid),
            None => {
                let mut fitting = self
                    .without_kid
                    .iter()
                    .filter(|key| key.algorithms.contains(&alg));
                match (fitting.next(), fitting.next()) {
                    (Some(only), None) => Some(only),
                    _ => None,
                }
            }
        }
    }
}

/// What a JWK may verify here: nothing for an encryption or symmetric key,
/// else its family's allowed algorithms, narrowed to its own `alg`.
fn algorithms_for(jwk: &Jwk) -> Vec<Algorithm> {
    if matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)) {
        return Vec::new();
    }
    let family: &[Algorithm] = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => &[Algorithm::RS256, Algorithm::PS256],
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => {
            &[Algorithm::ES256]
        }
        AlgorithmParameters::OctetKeyPair(okp) if okp.curve == EllipticCurve::Ed25519 => {
            &[Algorithm::EdDSA]
        }
        _ => &[],
    };
    match jwk.common.key_algorithm {
        None => family.to_vec(),
        Some(named) => family
            .iter()
            .copied()
            .filter(|alg| key_algorithm(*alg) == Some(named))
            .collect(),
    }
}

fn key_algorithm(alg: Algorithm) -> Option<KeyAlgorithm> {
    Some(match alg {
        Algorithm::RS256 => KeyAlgorithm::RS256,
        Algorithm::PS256 => KeyAlgorithm::PS256,
        Algorithm::ES256 => KeyAlgorithm::ES256,
        Algorithm::EdDSA => KeyAlgorithm::EdDSA,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symmetric_encryption_and_foreign_keys_are_skipped() {
        let document = br#"{"keys":[
            {"kty":"oct","kid":"h","k":"c2VjcmV0"},
            {"kty":"OKP","crv":"Ed25519","kid":"ed","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"enc","use":"enc","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"},
            {"kty":"OKP","crv":"Ed25519","kid":"other-alg","alg":"ES256","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}
        ]}"#;
        let keys = KeySet::parse(document).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys.skipped, 3);
        let ed = keys.find(Some("ed"), Algorithm::EdDSA).unwrap();
        assert_eq!(ed.algorithms, [Algorithm::EdDSA]);
        assert!(keys.find(Some("h"), Algorithm::HS256).is_none());
        assert!(KeySet::parse(b"{}").is_err());
    }
}
