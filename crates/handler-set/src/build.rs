//! Building a [`HandlerSet`] from a [`Snapshot`]: nothing of the new set is
//! used unless all of it loads.
//!
//! 1. Each handler's settings: its manifest entry over its component's own
//!    manifest ([`crate::artifact`]) over the host's defaults.
//! 2. Components compiled, except those the running set already has.
//! 3. The database made ready: roles, migrations, grants
//!    (`geofn_db::handler_databases`) — after compiling, so a component
//!    that does not load never migrates anything.
//! 4. Each handler's pool and memory share; the route table.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use geofn_contract::access::DatabaseAccess;
use geofn_contract::auth::AuthPolicy;
use geofn_contract::embedded::Embedded;
use geofn_contract::manifest::{HandlerSpec, ManifestError};
use geofn_contract::outbound::OutboundPolicy;
use geofn_contract::route::parse_route;
use geofn_db::handler_databases::DbPlan;
use geofn_runtime::bindings::HandlerPre;
use geofn_runtime::outbound::{DEFAULT_MAX_OUTBOUND, HandlerOutbound};
use geofn_runtime::reuse::InstanceReuse;
use geofn_runtime::{GuestState, Limits, Runtime};
use http::Method;
use tokio::sync::Semaphore;

use crate::artifact;
use crate::error::LoadError;
use crate::loader::Loader;
use crate::reload::timing::{Laps, SwapTimings};
use crate::schedules::resolve_schedules;
use crate::set::{HandlerSet, LoadedHandler, MethodTable, PathRoutes, ResolvedSchedule};
use crate::snapshot::{ComponentFile, Snapshot, read_snapshot};
use crate::variables::Resolved as ResolvedVariables;

/// One handler's settings, resolved.
struct Resolved<'a> {
    name: &'a str,
    spec: &'a HandlerSpec,
    file: &'a ComponentFile,
    embedded: Arc<Embedded>,
    routes: Vec<String>,
    limits: Limits,
    database: DatabaseAccess,
    auth: AuthPolicy,
    variables: ResolvedVariables,
    outbound: OutboundPolicy,
    schedules: Vec<ResolvedSchedule>,
    /// "points.wasm" for a file, "db:points@3" for a pushed version.
    origin: Arc<str>,
}

/// Builds a handler set from `snapshot`, reusing what `previous` already
/// has compiled (same bytes); compiles the rest on blocking threads.
pub async fn build(
    loader: &Loader,
    dir: &Path,
    snapshot: &Snapshot,
    previous: Option<&HandlerSet>,
) -> Result<HandlerSet, LoadError> {
    build_timed(loader, dir, snapshot, previous, &mut SwapTimings::default()).await
}

/// [`build`], saying in `timings` how long compiling, the database and
/// assembling took (the reload loop reports them).
pub async fn build_timed(
    loader: &Loader,
    dir: &Path,
    snapshot: &Snapshot,
    previous: Option<&HandlerSet>,
    timings: &mut SwapTimings,
) -> Result<HandlerSet, LoadError> {
    let mut laps = Laps::start();
    let mut resolved = Vec::with_capacity(snapshot.manifest.handlers.len());
    for (name, spec) in &snapshot.manifest.handlers {
        resolved.push(resolve(loader, name, spec, snapshot, previous)?);
    }

    let mut compiled = Vec::with_capacity(resolved.len());
    for handler in &resolved {
        let reusable = previous.and_then(|p| p.by_sha256(&handler.file.sha256));
        compiled.push(match reusable {
            Some(old) => (old.pre.clone(), old.compile_time),
            None => compile(&loader.runtime, handler, dir).await?,
        });
    }

    // Only now: a component that does not compile says so first.
    if let Some(handler) = resolved.iter().find(|h| h.routes.is_empty()) {
        return Err(ManifestError::NoRoutes(handler.name.to_owned()).into());
    }

    let plans: Vec<DbPlan<'_>> = resolved
        .iter()
        .map(|h| DbPlan {
            handler: h.name,
            access: &h.database,
            migrations: &h.embedded.migrations,
        })
        .collect();
    timings.compile = laps.lap();
    loader.databases.prepare(&plans).await?;
    timings.database = laps.lap();

    let mut set = HandlerSet {
        fingerprint: snapshot.fingerprint.clone(),
        ..HandlerSet::default()
    };
    let mut by_path: Vec<(String, MethodTable)> = Vec::new();
    for (handler, (pre, compile_time)) in resolved.into_iter().zip(compiled) {
        let unchanged = previous
            .and_then(|p| p.by_sha256(&handler.file.sha256))
            .filter(|old| {
                *old.name == *handler.name
                    && old.limits == handler.limits
                    && old.routes == handler.routes
                    && old.database == handler.database
                    && old.auth == handler.auth
                    && *old.variables == *handler.variables.values
                    && old.outbound_policy == handler.outbound
                    && old.schedules == handler.schedules
                    && old.origin == handler.origin
            });
        let loaded = match unchanged {
            Some(old) => old.clone(),
            None => Arc::new(LoadedHandler {
                name: Arc::from(handler.name),
                sha256: handler.file.sha256.clone(),
                size: handler.file.bytes.len() as u64,
                loaded_at: SystemTime::now(),
                compile_time,
                limits: handler.limits,
                routes: handler.routes.clone(),
                origin: handler.origin.clone(),
                database: handler.database.clone(),
                auth: handler.auth.clone(),
                embedded: handler.embedded.clone(),
                variables: handler.variables.values.clone(),
                variable_states: handler.variables.states.clone(),
                outbound: (!handler.outbound.allowed_hosts.is_empty()).then(|| {
                    Arc::new(HandlerOutbound::new(
                        Arc::from(handler.name),
                        &handler.outbound,
                        &loader.outbound,
                        DEFAULT_MAX_OUTBOUND,
                    ))
                }),
                outbound_policy: handler.outbound.clone(),
                schedules: handler.schedules.clone(),
                pre,
                db: loader
                    .databases
                    .pool(
                        handler.name,
                        &handler.database,
                        handler.limits.db_connections,
                        handler.limits.deadline,
                    )
                    .await,
                memory: Arc::new(loader.budget.for_handler(handler.name)),
                reuse: handler
                    .limits
                    .reuse
                    .map(|policy| Arc::new(InstanceReuse::new(policy))),
                turns: handler
                    .limits
                    .max_concurrency
                    .map(|n| Arc::new(Semaphore::new(n))),
            }),
        };
        route(&mut by_path, &loaded)?;
        set.handlers.push(loaded);
    }
    for (path, table) in by_path {
        let route = format!("{} {path}", table[0].0);
        let handler = table[0].1.name.to_string();
        let routes = PathRoutes {
            template: Arc::from(path.as_str()),
            methods: table,
        };
        set.router
            .insert(path, routes)
            .map_err(|err| LoadError::RouteConflict {
                handler,
                route,
                reason: err.to_string(),
            })?;
    }
    timings.assemble = laps.lap();
    Ok(set)
}

/// Loads every handler of `dir`; used at start.
pub async fn load_dir(loader: &Loader, dir: &Path) -> Result<HandlerSet, LoadError> {
    let snapshot = read_snapshot(dir, loader).await?;
    build(loader, dir, &snapshot, None).await
}

/// A handler's settings: the manifest entry's, else its component's own.
fn resolve<'a>(
    loader: &Loader,
    name: &'a str,
    spec: &'a HandlerSpec,
    snapshot: &'a Snapshot,
    previous: Option<&HandlerSet>,
) -> Result<Resolved<'a>, LoadError> {
    let file = &snapshot.components[&spec.component];
    let embedded = match previous.and_then(|p| p.by_sha256(&file.sha256)) {
        Some(old) => old.embedded.clone(),
        None => Arc::new(
            artifact::embedded(&file.bytes)
                .map_err(|source| LoadError::Artifact {
                    handler: name.to_owned(),
                    source,
                })?
                .unwrap_or_default(),
        ),
    };
    let routes = if spec.routes.is_empty() {
        embedded.routes.clone()
    } else {
        spec.routes.clone()
    };
    let limits = loader.defaults.with(spec.limits.or(embedded.limits));
    check_limits(loader, name, &limits)?;
    let auth = spec.auth.clone().unwrap_or_else(|| embedded.auth.clone());
    if let Some(route) = auth.unknown_routes(&routes).into_iter().next() {
        return Err(LoadError::AuthRoute {
            handler: name.to_owned(),
            route,
        });
    }
    let variables = loader
        .variables
        .resolve(name, &embedded.variables, &spec.variables)
        .map_err(|source| LoadError::Variable {
            handler: name.to_owned(),
            source,
        })?;
    let outbound = spec
        .outbound
        .clone()
        .unwrap_or_else(|| embedded.outbound.clone());
    let schedules = resolve_schedules(name, &embedded.schedules, &spec.schedules, &routes)?;
    Ok(Resolved {
        name,
        spec,
        variables,
        outbound,
        schedules,
        file,
        database: spec
            .database
            .clone()
            .unwrap_or_else(|| embedded.database.clone()),
        embedded,
        routes,
        limits,
        auth,
        origin: Arc::from(spec.component.display().to_string()),
    })
}

/// Adds `handler`'s routes to the table being built.
fn route(
    by_path: &mut Vec<(String, MethodTable)>,
    handler: &Arc<LoadedHandler>,
) -> Result<(), LoadError> {
    for text in &handler.routes {
        let route = parse_route(text).ok_or_else(|| ManifestError::BadRoute {
            handler: handler.name.to_string(),
            route: text.clone(),
        })?;
        let index = match by_path.iter().position(|(p, _)| *p == route.path) {
            Some(index) => index,
            None => {
                by_path.push((route.path.clone(), Vec::new()));
                by_path.len() - 1
            }
        };
        // A token, as the contract checked: every token is a method to `http`.
        let method =
            Method::from_bytes(route.method.as_bytes()).map_err(|_| ManifestError::BadRoute {
                handler: handler.name.to_string(),
                route: text.clone(),
            })?;
        let entry = &mut by_path[index];
        if entry.1.iter().any(|(m, _, _)| *m == method) {
            return Err(LoadError::RouteConflict {
                handler: handler.name.to_string(),
                route: route.to_string(),
                reason: "the same method and path is routed twice".into(),
            });
        }
        let requirement = Arc::new(handler.auth.requirement(&route));
        entry.1.push((method, handler.clone(), requirement));
    }
    Ok(())
}

/// Limits that could never be met on this host.
fn check_limits(loader: &Loader, name: &str, limits: &Limits) -> Result<(), LoadError> {
    if limits.memory_bytes > loader.runtime.max_memory_bytes() {
        return Err(LoadError::MemoryAboveCeiling {
            handler: name.to_owned(),
            asked: limits.memory_bytes,
            max: loader.runtime.max_memory_bytes(),
        });
    }
    if limits.memory_bytes as u64 > loader.budget.share_bytes() {
        return Err(LoadError::MemoryAboveBudget {
            handler: name.to_owned(),
            asked: limits.memory_bytes,
            share: loader.budget.share_bytes(),
        });
    }
    let pool = loader.databases.total_size();
    if !(1..=pool).contains(&limits.db_connections) {
        return Err(LoadError::DbShare {
            handler: name.to_owned(),
            asked: limits.db_connections,
            pool,
        });
    }
    Ok(())
}

/// Compiles and pre-links a component off the async workers; returns it
/// with the time it took.
async fn compile(
    runtime: &Arc<Runtime>,
    handler: &Resolved<'_>,
    dir: &Path,
) -> Result<(HandlerPre<GuestState>, Duration), LoadError> {
    let started = Instant::now();
    let compiled = {
        let runtime = runtime.clone();
        let bytes = handler.file.bytes.clone();
        let sha256 = handler.file.sha256.clone();
        tokio::task::spawn_blocking(move || runtime.prepare(&bytes, &sha256))
            .await
            .map_err(|panicked| LoadError::CompilerFailed {
                handler: handler.name.to_owned(),
                reason: panicked.to_string(),
            })?
    };
    let pre = compiled.map_err(|source| LoadError::Component {
        handler: handler.name.to_owned(),
        path: dir.join(&handler.spec.component),
        source,
    })?;
    let compile_time = started.elapsed();
    tracing::info!(
        handler.name = handler.name,
        handler.sha256 = %handler.file.sha256,
        handler.compile_ms = compile_time.as_secs_f64() * 1e3,
        "handler compiled"
    );
    Ok((pre, compile_time))
}
