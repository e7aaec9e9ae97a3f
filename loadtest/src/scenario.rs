//! What simulated users ask for: a weighted mix of reads and writes, as in
//! the guide's Locust file (`GET /points` weight 3, `POST /point` weight 1).

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::Full;

/// One kind of request in the mix.
#[derive(Debug, Clone)]
pub enum Kind {
    /// A GET of this path (and query).
    Get(String),
    /// A POST /point with random coordinates and name.
    PostPoint,
}

impl Kind {
    /// Short name for reports: "GET /points?limit=100", "POST /point".
    pub fn label(&self) -> String {
        match self {
            Kind::Get(path) => format!("GET {path}"),
            Kind::PostPoint => "POST /point".to_owned(),
        }
    }
}

/// Weighted request kinds.
#[derive(Debug, Clone)]
pub struct Mix {
    entries: Vec<(u32, Kind)>,
    total: u32,
}

impl Mix {
    /// Parses `get=3,post=1` (GET of `get_path`), or a bare path for a
    /// single-route run.
    pub fn parse(spec: &str, get_path: &str) -> anyhow::Result<Self> {
        let mut entries = Vec::new();
        for part in spec.split(',').filter(|p| !p.is_empty()) {
            let (name, weight) = part.split_once('=').unwrap_or((part, "1"));
            let weight: u32 = weight.parse()?;
            let kind = match name {
                "get" => Kind::Get(get_path.to_owned()),
                "post" => Kind::PostPoint,
                path if path.starts_with('/') => Kind::Get(path.to_owned()),
                other => anyhow::bail!("unknown request kind {other:?} (get, post or a /path)"),
            };
            entries.push((weight, kind));
        }
        let total = entries.iter().map(|(w, _)| w).sum();
        anyhow::ensure!(total > 0, "the mix has no weight");
        Ok(Self { entries, total })
    }

    /// The kinds, in order (their index identifies them in the stats).
    pub fn kinds(&self) -> Vec<Kind> {
        self.entries.iter().map(|(_, k)| k.clone()).collect()
    }

    /// A kind drawn by weight; its index.
    pub fn pick(&self, rng: &mut fastrand::Rng) -> usize {
        let mut roll = rng.u32(0..self.total);
        for (index, (weight, _)) in self.entries.iter().enumerate() {
            if roll < *weight {
                return index;
            }
            roll -= weight;
        }
        self.entries.len() - 1
    }

    /// The HTTP request for kind `index`.
    pub fn request(
        &self,
        index: usize,
        authority: &str,
        rng: &mut fastrand::Rng,
    ) -> Request<Full<Bytes>> {
        let builder = Request::builder().header(http::header::HOST, authority);
        match &self.entries[index].1 {
            Kind::Get(path) => builder
                .method(Method::GET)
                .uri(path.as_str())
                .body(Full::new(Bytes::new())),
            Kind::PostPoint => {
                let body = format!(
                    r#"{{"longitude": {:.6}, "latitude": {:.6}, "name": "load-{}"}}"#,
                    rng.f64() * 360.0 - 180.0,
                    rng.f64() * 180.0 - 90.0,
                    rng.u32(..)
                );
                builder
                    .method(Method::POST)
                    .uri("/point")
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .body(Full::new(Bytes::from(body)))
            }
        }
        .expect("a valid request")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_guides_mix_draws_three_reads_per_write() {
        let mix = Mix::parse("get=3,post=1", "/points").unwrap();
        let mut rng = fastrand::Rng::with_seed(7);
        let reads = (0..40_000).filter(|_| mix.pick(&mut rng) == 0).count();
        assert!((29_000..31_000).contains(&reads), "{reads}");
    }

    #[test]
    fn bad_mixes_are_refused() {
        assert!(Mix::parse("get=0", "/points").is_err());
        assert!(Mix::parse("delete=1", "/points").is_err());
        assert!(Mix::parse("/empty", "/points").is_ok());
    }
}
