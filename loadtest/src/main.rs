//! `geofn-load`: drives a geofn host (or anything speaking the points API)
//! with simulated users (closed model, like Locust) or a fixed arrival rate
//! (open model), records latencies in HDR histograms, and writes CSV files
//! and PNG charts.
//!
//! Run with:
//!   geofn-load closed --url http://127.0.0.1:5000 --users 100,1000 --spawn-rate 100 --hold 30s --out report/
//!   geofn-load open --url http://127.0.0.1:5000 --rates 1000,2000 --hold 20s --out report/

mod client;
mod closed;
mod open;
mod report;
mod scenario;
mod stats;
mod steps;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::{Args, Parser, Subcommand};

/// Load generator for geofn.
#[derive(Debug, Parser)]
#[command(name = "geofn-load", version)]
struct Cli {
    #[command(subcommand)]
    model: Model,
}

#[derive(Debug, Subcommand)]
enum Model {
    /// N users, each waiting for its answer and thinking between requests.
    Closed {
        #[command(flatten)]
        common: Common,
        /// User counts to climb through, e.g. 100,1000,10000.
        #[arg(long, value_delimiter = ',', required = true)]
        users: Vec<u64>,
        /// Users started per second (the guide's Locust run used 3).
        #[arg(long, default_value_t = 3.0)]
        spawn_rate: f64,
        /// Shortest think time between a user's requests (the guide: 1 s).
        #[arg(long, value_parser = humantime, default_value = "1s")]
        think_min: Duration,
        /// Longest think time (the guide: 2 s).
        #[arg(long, value_parser = humantime, default_value = "2s")]
        think_max: Duration,
    },
    /// Requests arriving at fixed rates, whatever the answers do.
    Open {
        #[command(flatten)]
        common: Common,
        /// Offered rates in requests per second, e.g. 1000,2000,4000.
        #[arg(long, value_delimiter = ',', required = true)]
        rates: Vec<u64>,
        /// Requests in flight at most; arrivals beyond count as failures.
        #[arg(long, default_value_t = 2048)]
        max_in_flight: usize,
    },
}

#[derive(Debug, Args)]
struct Common {
    /// Base URL of the target (http only).
    #[arg(long, default_value = "http://127.0.0.1:5000")]
    url: String,
    /// Request mix: get=3,post=1 (the guide's), or a single /path.
    #[arg(long, default_value = "get=3,post=1")]
    mix: String,
    /// Path of the "get" requests.
    #[arg(long, default_value = "/points")]
    get_path: String,
    /// How long each load level is held.
    #[arg(long, value_parser = humantime, default_value = "30s")]
    hold: Duration,
    /// Folder for CSV files and charts.
    #[arg(long, default_value = "loadtest-out")]
    out: PathBuf,
    /// Name of the run in reports.
    #[arg(long, default_value = "geofn")]
    label: String,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn humantime(text: &str) -> Result<Duration, String> {
    let (number, unit) = text
        .find(|c: char| c.is_ascii_alphabetic())
        .map_or((text, "s"), |i| text.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("bad duration {text:?}"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("bad duration unit in {text:?} (ms, s, m)")),
    };
    Ok(Duration::from_secs_f64(seconds))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let common = match &cli.model {
        Model::Closed { common, .. } | Model::Open { common, .. } => common,
    };
    let address = common
        .url
        .strip_prefix("http://")
        .context("--url must start with http://")?
        .trim_end_matches('/')
        .to_owned();
    let mix = Arc::new(scenario::Mix::parse(&common.mix, &common.get_path)?);
    let kinds = mix.kinds().iter().map(scenario::Kind::label).collect();
    let (events, received) = tokio::sync::mpsc::channel(65_536);
    let load = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let aggregator = tokio::spawn(stats::aggregate(
        received,
        kinds,
        load.clone(),
        started,
        common.quiet,
    ));
    let (steps, load_name) = match &cli.model {
        Model::Closed {
            users,
            spawn_rate,
            think_min,
            think_max,
            ..
        } => {
            let plan = closed::Plan {
                users: users.clone(),
                spawn_rate: *spawn_rate,
                hold: common.hold,
                think: (*think_min, *think_max),
            };
            (
                closed::run(address, mix, plan, events, load, started).await,
                "users",
            )
        }
        Model::Open {
            rates,
            max_in_flight,
            ..
        } => {
            let plan = open::Plan {
                rates: rates.clone(),
                hold: common.hold,
                max_in_flight: *max_in_flight,
            };
            (
                open::run(address, mix, plan, events, load, started).await,
                "offered req/s",
            )
        }
    };
    let stats = aggregator.await?;
    let summaries: Vec<steps::StepSummary> = steps.iter().map(|s| s.summarize(&stats)).collect();
    report::write(&common.out, &common.label, load_name, &stats, &summaries)?;
    let total = stats.overall();
    println!(
        "{}: {} requests, {} failed, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
        common.label,
        total.ok + total.failed,
        total.failed,
        total.ms(0.5),
        total.ms(0.95),
        total.ms(0.99)
    );
    for step in &summaries {
        println!(
            "  {load_name} {:>6}: {:>8.1} ok/s, {:>6.2} failed/s, p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms",
            step.load,
            step.throughput,
            step.failures,
            step.tally.ms(0.5),
            step.tally.ms(0.95),
            step.tally.ms(0.99)
        );
    }
    for (reason, count) in &stats.failures {
        println!("  failure x{count}: {reason}");
    }
    Ok(())
}
