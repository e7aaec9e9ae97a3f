//! Bounded load for the fault tests: clients reading one path and clients
//! creating points, until stopped, tallying every failure.

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::{TestDb, client};

/// What the load saw.
#[derive(Debug, Default)]
pub struct Tally {
    pub gets: usize,
    pub get_failures: Vec<String>,
    pub created: Vec<i64>,
    pub post_failures: Vec<String>,
}

pub struct Load {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
}

impl Load {
    /// `getters` clients reading `get_path` and `posters` clients creating
    /// points, through `base`, until stopped.
    #[allow(clippy::new_ret_no_self)]
    pub fn start(base: &str, get_path: &str, getters: usize, posters: usize) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let mut tasks = Vec::new();
        for _ in 0..getters {
            let (url, stop) = (format!("{base}{get_path}"), stop.clone());
            tasks.push(tokio::spawn(async move {
                let http = client();
                let mut tally = Tally::default();
                while !stop.load(Ordering::Relaxed) {
                    tally.gets += 1;
                    match http.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                        }
                        Ok(r) => tally.get_failures.push(format!("status {}", r.status())),
                        Err(e) => tally.get_failures.push(format!("error {e}")),
                    }
                }
                tally
            }));
        }
        for poster in 0..posters {
            let (url, stop) = (format!("{base}/point"), stop.clone());
            tasks.push(tokio::spawn(async move {
                let http = client();
                let mut tally = Tally::default();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let body = json!({"name": format!("p{poster}-{n}"), "longitude": 1.5, "latitude": 2.5});
                    match http.post(&url).json(&body).send().await {
                        Ok(r) if r.status() == StatusCode::CREATED => {
                            let created: Value = r.json().await.unwrap();
                            tally.created.push(created["id"].as_i64().unwrap());
                        }
                        Ok(r) => tally.post_failures.push(format!("status {}", r.status())),
                        Err(e) => tally.post_failures.push(format!("error {e}")),
                    }
                }
                tally
            }));
        }
        Self { stop, tasks }
    }

    /// Stops the load; keeps the first few failure messages of each kind.
    pub async fn finish(self) -> Tally {
        self.stop.store(true, Ordering::Relaxed);
        let mut total = Tally::default();
        for task in self.tasks {
            let tally = task.await.unwrap();
            total.gets += tally.gets;
            total.get_failures.extend(tally.get_failures);
            total.created.extend(tally.created);
            total.post_failures.extend(tally.post_failures);
        }
        for failures in [&mut total.get_failures, &mut total.post_failures] {
            if failures.len() > 5 {
                let more = failures.len() - 5;
                failures.truncate(5);
                failures.push(format!("... and {more} more"));
            }
        }
        total
    }
}

pub async fn stored_ids(db: &TestDb) -> HashSet<i64> {
    db.client()
        .await
        .query("SELECT id FROM points", &[])
        .await
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect()
}

pub async fn assert_no_acknowledged_write_lost(db: &TestDb, tally: &Tally) {
    let stored = stored_ids(db).await;
    let lost: Vec<&i64> = tally
        .created
        .iter()
        .filter(|id| !stored.contains(id))
        .collect();
    assert!(lost.is_empty(), "acknowledged but lost: {lost:?}");
}

impl Tally {
    /// Prints what the load did under `what`, and fails the test if any
    /// request failed, with `context` (a proxy's log, say).
    pub fn assert_no_failure(&self, what: &str, context: &str) {
        eprintln!(
            "{what}: {} GETs, {} POSTs, failures {:?} {:?}",
            self.gets,
            self.created.len(),
            self.get_failures,
            self.post_failures
        );
        assert!(
            self.get_failures.is_empty() && self.post_failures.is_empty(),
            "{what}: failed: {:?} {:?}\n{context}",
            self.get_failures,
            self.post_failures,
        );
    }
}
