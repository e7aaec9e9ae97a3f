//! A stand-in collector for the traces benchmark: accepts OTLP/HTTP
//! protobuf exports on `/v1/traces`, decodes them (as a collector would)
//! and counts them; `GET /stats` answers `{"exports":N,"spans":N}`.
//!
//!   otlp-sink --listen 127.0.0.1:4318

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use clap::Parser;
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use prost::Message;

#[derive(Parser)]
struct Args {
    /// Where to listen.
    #[arg(long, default_value = "127.0.0.1:4318")]
    listen: SocketAddr,
}

#[derive(Default)]
struct Counts {
    exports: AtomicU64,
    spans: AtomicU64,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let counts = Arc::new(Counts::default());
    let app = Router::new()
        .route("/v1/traces", post(receive))
        .route("/stats", get(stats))
        .with_state(counts);
    let listener = tokio::net::TcpListener::bind(args.listen).await?;
    println!("otlp-sink listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).await?;
    Ok(())
}

async fn receive(State(counts): State<Arc<Counts>>, body: Bytes) -> (StatusCode, Vec<u8>) {
    let Ok(request) = ExportTraceServiceRequest::decode(body) else {
        return (StatusCode::BAD_REQUEST, Vec::new());
    };
    let spans: usize = request
        .resource_spans
        .iter()
        .flat_map(|resource| &resource.scope_spans)
        .map(|scope| scope.spans.len())
        .sum();
    counts.exports.fetch_add(1, Ordering::Relaxed);
    counts.spans.fetch_add(spans as u64, Ordering::Relaxed);
    (
        StatusCode::OK,
        ExportTraceServiceResponse::default().encode_to_vec(),
    )
}

async fn stats(State(counts): State<Arc<Counts>>) -> String {
    format!(
        "{{\"exports\":{},\"spans\":{}}}",
        counts.exports.load(Ordering::Relaxed),
        counts.spans.load(Ordering::Relaxed)
    )
}
