//! The closed model: N simulated users, each sending a request, waiting
//! for the answer, thinking, and again — Locust's model. Users arrive at a
//! spawn rate; with several user counts the run climbs step by step.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::client::{Connection, Outcome};
use crate::scenario::Mix;
use crate::stats::Event;
use crate::steps::Step;

/// A closed-model run.
#[derive(Debug, Clone)]
pub struct Plan {
    /// User counts to hold, in order (each above the last).
    pub users: Vec<u64>,
    /// Users started per second while climbing.
    pub spawn_rate: f64,
    /// How long each count is held once reached.
    pub hold: Duration,
    /// Think time between a user's requests, drawn uniformly.
    pub think: (Duration, Duration),
}

/// Runs `plan` against `address`; returns where each step's hold began and ended.
pub async fn run(
    address: String,
    mix: Arc<Mix>,
    plan: Plan,
    events: mpsc::Sender<Event>,
    load: Arc<AtomicU64>,
    started: Instant,
) -> Vec<Step> {
    let stop = Arc::new(AtomicBool::new(false));
    let mut users = Vec::new();
    let mut steps = Vec::new();
    let interval = Duration::from_secs_f64(1.0 / plan.spawn_rate.max(0.001));
    for &target in &plan.users {
        while (users.len() as u64) < target {
            let seed = users.len() as u64;
            users.push(tokio::spawn(user(
                address.clone(),
                mix.clone(),
                plan.think,
                events.clone(),
                stop.clone(),
                seed,
            )));
            load.store(users.len() as u64, Ordering::Relaxed);
            tokio::time::sleep(interval).await;
        }
        let from = started.elapsed();
        tokio::time::sleep(plan.hold).await;
        steps.push(Step {
            load: target,
            from,
            to: started.elapsed(),
        });
    }
    stop.store(true, Ordering::Relaxed);
    for user in users {
        let _ = user.await;
    }
    steps
}

async fn user(
    address: String,
    mix: Arc<Mix>,
    think: (Duration, Duration),
    events: mpsc::Sender<Event>,
    stop: Arc<AtomicBool>,
    seed: u64,
) {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut connection = Connection::new(&address);
    // Users start at random points of their think time, as real arrivals do.
    tokio::time::sleep(think_time(&mut rng, think).mul_f64(rng.f64())).await;
    while !stop.load(Ordering::Relaxed) {
        let kind = mix.pick(&mut rng);
        let request = mix.request(kind, &address, &mut rng);
        let sent = Instant::now();
        let outcome = connection.send(request).await;
        let failure = match outcome {
            Outcome::Status(status) if (200..300).contains(&status) => None,
            Outcome::Status(status) => Some(format!("HTTP {status}")),
            Outcome::Failed(why) => Some(why),
        };
        let event = Event {
            kind,
            latency: sent.elapsed(),
            failure,
        };
        if events.send(event).await.is_err() {
            return;
        }
        tokio::time::sleep(think_time(&mut rng, think)).await;
    }
}

fn think_time(rng: &mut fastrand::Rng, (low, high): (Duration, Duration)) -> Duration {
    if high <= low {
        return low;
    }
    low + (high - low).mul_f64(rng.f64())
}
