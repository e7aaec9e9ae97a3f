//! The `geofn` binary: configuration, start-up and the commands, over the
//! host's layers (`crates/`: contract, telemetry, db, runtime,
//! handler-set, http, pgcluster).
//!
//! Run with: `geofn dev` (a private PostGIS in `.geofn/`) or
//! `DATABASE_URL=postgresql://... geofn serve --handlers target/handlers`;
//! `geofn health` checks a running one; `geofn push`, `rollback` and
//! `handlers` deploy to every replica through the admin API; `geofn new`
//! writes a new handler crate.

use std::io::IsTerminal;
use std::process::ExitCode;

mod admin_client;
mod config;
mod dev_token;
mod healthcheck;
mod publish;
mod scaffold;
mod startup;
mod traces;

use crate::traces::Tracing;
use anyhow::Context;
use clap::Parser;
use geofn_db::tls::{SslMode, TlsSettings};
use geofn_pgcluster::{ClusterOptions, PgCluster};
use tracing::Subscriber;
use tracing_subscriber::layer::{Layered, SubscriberExt};
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

/// How long a stopping host waits for its blocking tasks (a file being
/// written, a DNS query) once requests are drained.
const BLOCKING_TASKS_AT_EXIT: std::time::Duration = std::time::Duration::from_secs(2);

use crate::config::{Cli, Command, ConfigError, Database, LogFormat, ServerArgs};

/// Every request allocates its store, its rows and its response on many
/// threads at once. Under `GET /points` load, glibc's malloc and free took
/// about 12% of the host's CPU samples; mimalloc's thread-local free lists
/// took about 9% for the same work (`loadtest/profile.sh`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<ExitCode> {
    let cli = Cli::parse();
    if let Command::Health(args) = &cli.command {
        return Ok(match healthcheck::check(args.listen, &args.path) {
            Ok(200) => ExitCode::SUCCESS,
            Ok(status) => {
                eprintln!("{} answered {status}", args.path);
                ExitCode::FAILURE
            }
            Err(err) => {
                eprintln!("no answer from {}: {err}", args.listen);
                ExitCode::FAILURE
            }
        });
    }
    match &cli.command {
        Command::New(args) => {
            let dir = args.dir.clone().unwrap_or_else(|| args.name.clone().into());
            let written = scaffold::new_handler(&args.name, &dir, args.lang)?;
            let (build, artifact) = match args.lang {
                scaffold::Lang::Rust => (
                    "cargo build --release --target wasm32-wasip2",
                    format!(
                        "target/wasm32-wasip2/release/{}.wasm",
                        args.name.replace('-', "_")
                    ),
                ),
                scaffold::Lang::Python => ("./build.sh", format!("{}.wasm", args.name)),
            };
            println!(
                "wrote {} files into {}\n\n  cd {}\n  {build}\n  \
                 geofn push {artifact} --url http://127.0.0.1:5000",
                written.len(),
                dir.display(),
                dir.display(),
            );
            return Ok(ExitCode::SUCCESS);
        }
        Command::Push(args) => return Ok(admin_client::push(args).report()),
        Command::Publish(args) => return Ok(publish::publish(args)),
        Command::Rollback(args) => return Ok(admin_client::rollback(args).report()),
        Command::Handlers(args) => return Ok(admin_client::handlers(args).report()),
        _ => {}
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    // Inside the runtime: a gRPC exporter's channel is spawned onto it.
    let traces = {
        let _entered = runtime.enter();
        init_tracing(cli.log_format)?
    };
    let served = runtime.block_on(run(cli.command));
    if let Some(traces) = traces {
        traces.shutdown();
    }
    // Requests are drained by now. Dropping the runtime would also wait
    // for every blocking task, and a DNS query sent into a quiet resolver
    // holds one for up to glibc's timeouts (10-20 s): a stop asked for
    // by SIGTERM must not wait for it.
    runtime.shutdown_timeout(BLOCKING_TASKS_AT_EXIT);
    served.map(|()| ExitCode::SUCCESS)
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => {
            let database = args.database.resolve()?.ok_or(ConfigError::NoDatabase)?;
            serve(&args.server, database, None).await
        }
        Command::Dev(mut args) => {
            let token_file = dev_admin_token(&mut args.server, &args.data_dir)?;
            let token_file = token_file.as_deref();
            match args.database.resolve()? {
                Some(database) => serve(&args.server, database, token_file).await,
                None => {
                    let data_dir = args.data_dir.clone();
                    let cluster = tokio::task::spawn_blocking(move || {
                        PgCluster::start(&data_dir, ClusterOptions::default())
                    })
                    .await?
                    .with_context(|| {
                        format!(
                            "starting the private PostgreSQL in {}",
                            args.data_dir.display()
                        )
                    })?;
                    tracing::info!(
                        data_dir = %args.data_dir.display(),
                        port = cluster.port(),
                        "private PostGIS cluster running"
                    );
                    // Loopback to our own cluster: nothing to encrypt against.
                    let database = Database::primary(
                        cluster.config(),
                        TlsSettings {
                            mode: SslMode::Disable,
                            root_cert: None,
                        },
                    );
                    let result = serve(&args.server, database, token_file).await;
                    // Stopping waits for PostgreSQL to exit: keep it off the workers.
                    tokio::task::spawn_blocking(move || drop(cluster)).await?;
                    result
                }
            }
        }
        Command::Health(_)
        | Command::Push(_)
        | Command::Publish(_)
        | Command::Rollback(_)
        | Command::Handlers(_)
        | Command::New(_) => {
            unreachable!("answered before the runtime starts")
        }
    }
}

/// The admin token of `geofn dev`: the one given, else the data
/// directory's own (made on first start); returns that file, which the
/// server announces once it listens.
fn dev_admin_token(
    server: &mut ServerArgs,
    data_dir: &std::path::Path,
) -> anyhow::Result<Option<std::path::PathBuf>> {
    if server.admin_token.is_some() {
        return Ok(None);
    }
    let (token, made) = dev_token::load_or_create(data_dir)
        .with_context(|| format!("keeping an admin token in {}", data_dir.display()))?;
    let file = data_dir.join(dev_token::TOKEN_FILE);
    if made {
        tracing::info!(file = %file.display(), "made an admin token for this dev server");
    }
    server.admin_token = Some(token);
    Ok(Some(file))
}

/// Serves until a signal; `dev_token`: the token file a `geofn dev`
/// announces to the admin commands on this machine.
async fn serve(
    server: &ServerArgs,
    database: Database,
    dev_token: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let state = startup::build_state(server, database.clone()).await?;
    let listener = tokio::net::TcpListener::bind(server.listen)
        .await
        .with_context(|| format!("listening on {}", server.listen))?;
    let local = listener.local_addr()?;
    let shutdown = geofn_http::shutdown::on_signal();
    let reloader = startup::spawn_reloader(server, &state, &database, shutdown.clone());
    // Ticks are claimed until shutdown begins; one running then finishes
    // with the requests in flight.
    tokio::spawn(geofn_http::schedules::run(state.clone(), shutdown.clone()));
    tracing::info!(listen = %local, memory_reset = ?state.runtime().reset(), "serving");
    // Announced before the line below: whoever waits for it may run an
    // admin command at once, which must find the token.
    if let Some(file) = dev_token {
        dev_token::announce(local.port(), file);
    }
    // One plain line on stdout that scripts and tests can wait for.
    println!("geofn listening on http://{local}");
    if let Some(file) = dev_token {
        println!(
            "admin token: {} (kept in {}; push with: geofn push FILE)",
            server.admin_token.as_deref().unwrap_or_default(),
            file.display()
        );
    }
    let served = geofn_http::run(listener, state, shutdown.clone(), server.shutdown_timing()).await;
    if dev_token.is_some() {
        dev_token::withdraw(local.port());
    }
    served?;
    reloader.await?;
    shutdown.cancel();
    tracing::info!("stopped");
    Ok(())
}

/// Log lines to stderr, filtered by `RUST_LOG`; and, when the `OTEL_*`
/// variables ask for them, traces over OTLP, filtered on their own.
fn init_tracing(format: LogFormat) -> anyhow::Result<Option<Tracing>> {
    let (exporting, traces) = traces::install()?.unzip();
    subscriber(format, exporting)?.init();
    if traces.is_some() {
        tracing::info!("exporting traces over OTLP (OTEL_* variables)");
    }
    Ok(traces)
}

/// The log lines' layer under the `RUST_LOG` filter, which also turns the
/// trace spans off ([`geofn_telemetry::traces::LOG_LINES_SKIP`]).
type LogLines = Layered<Box<dyn Layer<Registry> + Send + Sync>, Registry>;

/// The process's subscriber: the log lines, and the exporting layer when
/// there is one. Without one it is left out rather than added as `None`:
/// tracing-subscriber's `Option<Layer>` answers "always" to every call
/// site, so the trace spans of every request were built, their attributes
/// computed (a query's summary, its masked text, the rows of a rendered
/// page counted: 11 us a listing) with nothing to export them.
fn subscriber<L>(
    format: LogFormat,
    exporting: Option<L>,
) -> anyhow::Result<Box<dyn Subscriber + Send + Sync>>
where
    L: Layer<LogLines> + Send + Sync,
{
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,tower_http=warn"))
        .add_directive(geofn_telemetry::traces::LOG_LINES_SKIP.parse()?)
        .add_directive(geofn_telemetry::traces::PARAMETER_LINES_SKIP.parse()?);
    // Colour only for a person at a terminal: log files, journald and
    // `kubectl logs` get plain text, and the hot path skips formatting the
    // escape codes into every request's span.
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    let lines = tracing_subscriber::fmt::layer()
        .with_ansi(colour)
        .with_writer(std::io::stderr);
    let lines: Box<dyn Layer<Registry> + Send + Sync> = match format {
        LogFormat::Text => lines.with_filter(filter).boxed(),
        LogFormat::Json => lines.json().with_filter(filter).boxed(),
    };
    let registry = tracing_subscriber::registry().with(lines);
    Ok(match exporting {
        Some(exporting) => Box::new(registry.with(exporting)),
        None => Box::new(registry),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing_subscriber::layer::Identity;

    /// With no exporter the spans only traces need are off where they are
    /// made, so their attributes are never computed; the request span every
    /// log line carries stays on.
    #[test]
    fn with_no_exporter_trace_spans_are_off_at_their_call_sites() {
        let subscriber = subscriber::<Identity>(LogFormat::Text, None).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            let db = tracing::info_span!(target: geofn_telemetry::traces::TARGET, "db");
            assert!(db.is_disabled());
            let request = tracing::info_span!("request");
            assert!(!request.is_disabled());
        });
    }

    /// With an exporter, a request the sampler leaves out builds none of
    /// the trace spans inside it either: their attributes (a query's
    /// summary and masked text, a rendered page's rows counted) are only
    /// computed for a span something exports. A sampled request's are on.
    #[test]
    fn only_a_sampled_request_builds_trace_spans() {
        use geofn_telemetry::sampler::Sampler;
        use geofn_telemetry::traces;
        use opentelemetry_sdk::error::OTelSdkResult;

        /// The spans of sampled requests go nowhere: this test is about
        /// which spans are built.
        #[derive(Debug)]
        struct Discard;

        impl opentelemetry_sdk::trace::SpanProcessor for Discard {
            fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &opentelemetry::Context) {
            }
            fn on_end(&self, _: opentelemetry_sdk::trace::SpanData) {}
            fn force_flush(&self) -> OTelSdkResult {
                Ok(())
            }
            fn shutdown_with_timeout(&self, _: std::time::Duration) -> OTelSdkResult {
                Ok(())
            }
        }

        /// The handler and database spans under a request the caller's
        /// `traceparent` (if any) decides: whether each is live.
        fn trace_spans_live(traceparent: Option<&str>) -> (bool, bool) {
            let decision = traces::decide(traceparent, None);
            let sampled = decision.sampled();
            let request = decision.start(|ids| {
                if ids.exported {
                    tracing::info_span!(
                        target: traces::REQUEST_TARGET,
                        "request",
                        trace_id = %ids.trace_id,
                        span_id = %ids.span_id,
                        otel.kind = "server",
                    )
                } else {
                    tracing::info_span!(
                        target: traces::REQUEST_TARGET,
                        "request",
                        trace_id = %ids.trace_id,
                        span_id = %ids.span_id,
                    )
                }
            });
            assert!(!request.is_disabled(), "log lines carry the request span");
            let _in_request = request.enter();
            // Not a trace span: the scope walk passes over it.
            let between = tracing::info_span!("between");
            let _in_between = between.enter();
            let handler = tracing::info_span!(target: traces::TARGET, "handler");
            let _in_handler = handler.enter();
            let db = tracing::info_span!(target: traces::TARGET, "db");
            assert_eq!(sampled, !handler.is_disabled());
            (!handler.is_disabled(), !db.is_disabled())
        }

        let sampler = Sampler::ParentBased(Box::new(Sampler::AlwaysOff));
        let exporting = traces::exporting(std::sync::Arc::new(Discard), sampler);
        let subscriber = subscriber(LogFormat::Json, Some(exporting)).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            assert_eq!(trace_spans_live(None), (false, false));
            let sampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
            assert_eq!(trace_spans_live(Some(sampled)), (true, true));
            let unsampled = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00";
            assert_eq!(trace_spans_live(Some(unsampled)), (false, false));
        });
    }
}
