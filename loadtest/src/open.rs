//! The open model: requests arrive at a fixed rate whatever the answers
//! do, and latency counts from when a request was due, so a server that
//! falls behind shows its queue instead of hiding it (no coordinated
//! omission). Connections are shared, up to a bound of requests in flight;
//! arrivals beyond it count as failures.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::{Mutex, mpsc};

use crate::client::{Connection, Outcome};
use crate::scenario::Mix;
use crate::stats::Event;
use crate::steps::Step;

/// An open-model run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Offered rates, requests per second, in order.
    pub rates: Vec<u64>,
    /// How long each rate is offered.
    pub hold: Duration,
    /// Requests in flight at most (each holds a connection).
    pub max_in_flight: usize,
}

/// Runs `plan` against `address`.
pub async fn run(
    address: String,
    mix: Arc<Mix>,
    plan: Plan,
    events: mpsc::Sender<Event>,
    load: Arc<AtomicU64>,
    started: Instant,
) -> Vec<Step> {
    let idle: Arc<Mutex<Vec<Connection>>> = Arc::default();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let mut rng = fastrand::Rng::with_seed(42);
    let mut steps = Vec::new();
    for &rate in &plan.rates {
        load.store(rate, Ordering::Relaxed);
        let from = started.elapsed();
        let step_start = tokio::time::Instant::now();
        let arrivals = (rate as f64 * plan.hold.as_secs_f64()) as u64;
        for n in 0..arrivals {
            let due = step_start + Duration::from_secs_f64(n as f64 / rate as f64);
            tokio::time::sleep_until(due).await;
            let kind = mix.pick(&mut rng);
            if in_flight.load(Ordering::Relaxed) >= plan.max_in_flight {
                let _ = events
                    .send(Event {
                        kind,
                        latency: Duration::ZERO,
                        failure: Some("client overflow: too many in flight".into()),
                    })
                    .await;
                continue;
            }
            in_flight.fetch_add(1, Ordering::Relaxed);
            let request = mix.request(kind, &address, &mut rng);
            let (idle, in_flight, events, address) = (
                idle.clone(),
                in_flight.clone(),
                events.clone(),
                address.clone(),
            );
            let due = due.into_std();
            tokio::spawn(async move {
                let mut connection = idle
                    .lock()
                    .await
                    .pop()
                    .unwrap_or_else(|| Connection::new(&address));
                let outcome = connection.send(request).await;
                idle.lock().await.push(connection);
                in_flight.fetch_sub(1, Ordering::Relaxed);
                let failure = match outcome {
                    Outcome::Status(status) if (200..300).contains(&status) => None,
                    Outcome::Status(status) => Some(format!("HTTP {status}")),
                    Outcome::Failed(why) => Some(why),
                };
                let _ = events
                    .send(Event {
                        kind,
                        latency: due.elapsed(),
                        failure,
                    })
                    .await;
            });
        }
        steps.push(Step {
            load: rate,
            from,
            to: started.elapsed(),
        });
    }
    // Let the last requests finish.
    while in_flight.load(Ordering::Relaxed) > 0 {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    steps
}
