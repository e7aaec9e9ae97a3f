//! `oci://REGISTRY/REPOSITORY:TAG` and `oci://REGISTRY/REPOSITORY@sha256:…`:
//! where an artifact is, and, once resolved, exactly which one.

use oci_client::Reference;

use crate::error::OciError;

/// The scheme of artifact references.
pub const SCHEME: &str = "oci://";

/// An artifact reference as written: by tag, or pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciRef(Reference);

impl OciRef {
    /// Parses `oci://REGISTRY/REPOSITORY[:TAG|@sha256:DIGEST]` (no tag and
    /// no digest: `latest`). The registry must be named: nothing goes to a
    /// registry the reference does not say.
    pub fn parse(text: &str) -> Result<Self, OciError> {
        let bad = |why: &str| OciError::Reference(format!("{text:?}: {why}"));
        let rest = text
            .strip_prefix(SCHEME)
            .ok_or_else(|| bad("an artifact reference starts with oci://"))?;
        let host = rest.split('/').next().unwrap_or_default();
        if !(host.contains('.') || host.contains(':') || host == "localhost") || !rest.contains('/')
        {
            return Err(bad("name the registry: oci://REGISTRY/REPOSITORY:TAG"));
        }
        let reference: Reference = rest.parse().map_err(|e| bad(&format!("{e}")))?;
        if let Some(digest) = reference.digest()
            && !is_sha256(digest)
        {
            return Err(bad("a digest is sha256: and 64 lower-case hex digits"));
        }
        Ok(Self(reference))
    }

    /// Whether it names one artifact for good (a digest), not a tag that
    /// may move.
    pub fn is_pinned(&self) -> bool {
        self.0.digest().is_some()
    }

    /// Its digest, when pinned.
    pub fn digest(&self) -> Option<&str> {
        self.0.digest()
    }

    /// The registry's host (and port).
    pub fn registry(&self) -> &str {
        self.0.registry()
    }

    /// The same repository, pinned to `digest`.
    pub fn pinned(&self, digest: &str) -> Self {
        Self(Reference::with_digest(
            self.0.registry().to_owned(),
            self.0.repository().to_owned(),
            digest.to_owned(),
        ))
    }

    /// The client's form of it.
    pub fn client_reference(&self) -> &Reference {
        &self.0
    }
}

impl std::fmt::Display for OciRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let reference = &self.0;
        write!(
            f,
            "{SCHEME}{}/{}",
            reference.registry(),
            reference.repository()
        )?;
        match (reference.digest(), reference.tag()) {
            (Some(digest), _) => write!(f, "@{digest}"),
            (None, Some(tag)) => write!(f, ":{tag}"),
            (None, None) => Ok(()),
        }
    }
}

/// Whether `digest` is `sha256:` and 64 lower-case hex digits.
pub fn is_sha256(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_registry_and_pin_by_sha256() {
        let tagged = OciRef::parse("oci://127.0.0.1:5000/geofn/points:v1").unwrap();
        assert!(!tagged.is_pinned());
        assert_eq!(tagged.registry(), "127.0.0.1:5000");
        assert_eq!(tagged.to_string(), "oci://127.0.0.1:5000/geofn/points:v1");
        let digest = format!("sha256:{}", "a".repeat(64));
        let pinned = tagged.pinned(&digest);
        assert_eq!(
            pinned.to_string(),
            format!("oci://127.0.0.1:5000/geofn/points@{digest}")
        );
        assert_eq!(OciRef::parse(&pinned.to_string()).unwrap(), pinned);
        for bad in [
            "127.0.0.1:5000/geofn/points:v1",
            "oci://points:v1",
            "oci://geofn/points:v1",
            "oci://registry.example/points@sha256:abc",
            "oci://registry.example/Points",
        ] {
            assert!(OciRef::parse(bad).is_err(), "{bad}");
        }
    }
}
