//! The set of loaded handlers and the route table over them, swapped as a
//! whole so that a request sees one consistent version from start to end.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use geofn_contract::access::DatabaseAccess;
use geofn_contract::auth::{AuthPolicy, Requirement};
use geofn_contract::embedded::Embedded;
use geofn_contract::outbound::OutboundPolicy;
use geofn_contract::schedules::{Schedule, Timing};
use geofn_db::handler_pools::HandlerConnections;
use geofn_runtime::bindings::HandlerPre;
use geofn_runtime::budget::HandlerBudget;
use geofn_runtime::outbound::HandlerOutbound;
use geofn_runtime::reuse::InstanceReuse;
use geofn_runtime::variables::HandlerVariables;
use geofn_runtime::{GuestState, Limits};
use http::Method;
use tokio::sync::Semaphore;

use crate::variables::VariableState;

/// A compiled, pre-linked handler ready to instantiate.
#[derive(Clone)]
pub struct LoadedHandler {
    /// Name from the manifest; labels logs and metrics.
    pub name: Arc<str>,
    /// Hex SHA-256 of the component bytes: the version users can compare.
    pub sha256: String,
    /// Component size in bytes.
    pub size: u64,
    /// When this version was loaded.
    pub loaded_at: SystemTime,
    /// How long compiling and pre-linking took.
    pub compile_time: Duration,
    /// Limits per request.
    pub limits: Limits,
    /// Routes as written in the manifest.
    pub routes: Vec<String>,
    /// Where the component came from: its file in the handlers directory,
    /// or `db:NAME@VERSION` for a pushed version.
    pub origin: Arc<str>,
    /// Tables beyond its own schema that its role may use.
    pub database: DatabaseAccess,
    /// Which routes need a verified token, with which scopes.
    pub auth: AuthPolicy,
    /// What the component says about itself (migrations included).
    pub embedded: Arc<Embedded>,
    /// Its variables' values, as the guest reads them.
    pub variables: Arc<HandlerVariables>,
    /// Where each of its variables' values came from (never the value).
    pub variable_states: Vec<VariableState>,
    /// What it may call.
    pub outbound_policy: OutboundPolicy,
    /// Its outbound calls' pool; none when it may call nothing.
    pub outbound: Option<Arc<HandlerOutbound>>,
    /// Its schedules, `geofn.toml`'s changes applied.
    pub schedules: Vec<ResolvedSchedule>,
    /// The pre-linked component.
    pub pre: HandlerPre<GuestState>,
    /// Its database role's pools (primary, and read replica if any): its
    /// share of the connections.
    pub db: HandlerConnections,
    /// Its share of the memory budget.
    pub memory: Arc<HandlerBudget>,
    /// Its parked instances, when its limits turn reuse on.
    pub reuse: Option<Arc<InstanceReuse>>,
    /// Turns to run, when its limits set `max_concurrency`.
    pub turns: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for LoadedHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedHandler")
            .field("name", &self.name)
            .field("sha256", &self.sha256)
            .field("routes", &self.routes)
            .finish_non_exhaustive()
    }
}

/// One schedule of a loaded handler.
#[derive(Debug, Clone)]
pub struct ResolvedSchedule {
    /// Its name.
    pub name: String,
    /// When it fires.
    pub timing: Timing,
    /// Where its POST goes.
    pub path: String,
    /// As written, for operators.
    pub spec: Schedule,
}

impl PartialEq for ResolvedSchedule {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && self.spec == other.spec
    }
}

/// The handlers of one path, by method, with what each route asks of
/// its caller.
pub(crate) type MethodTable = Vec<(Method, Arc<LoadedHandler>, Arc<Requirement>)>;

/// One path template and the handlers of its methods.
pub(crate) struct PathRoutes {
    pub(crate) template: Arc<str>,
    pub(crate) methods: MethodTable,
}

/// A request's handler and route.
pub struct Found {
    /// The handler that answers it.
    pub handler: Arc<LoadedHandler>,
    /// The route template it matched (a bounded metric label).
    pub template: Arc<str>,
    /// The template's parameters, percent-decoded.
    pub params: Vec<(String, String)>,
    /// What the route asks of the caller.
    pub requirement: Arc<Requirement>,
}

/// What the route table says about a request.
pub enum RouteMatch {
    /// This handler answers it, under this route template (a bounded
    /// metric label), with these path parameters (percent-decoded), once
    /// the caller meets the route's requirement.
    Found(Found),
    /// The path exists but not for this method; these methods would do.
    MethodNotAllowed(Vec<Method>),
    /// No route has this path.
    NotFound,
}

/// Handlers and their route table, immutable once built.
#[derive(Default)]
pub struct HandlerSet {
    pub(crate) router: matchit::Router<PathRoutes>,
    pub(crate) handlers: Vec<Arc<LoadedHandler>>,
    pub(crate) fingerprint: String,
}

impl HandlerSet {
    /// Identifies the manifest and component bytes this set was built from.
    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    /// A loaded handler whose component has this hash, to reuse its compilation.
    pub fn by_sha256(&self, sha256: &str) -> Option<&Arc<LoadedHandler>> {
        self.handlers.iter().find(|h| h.sha256 == sha256)
    }

    /// The handlers, in manifest order.
    pub fn handlers(&self) -> &[Arc<LoadedHandler>] {
        &self.handlers
    }

    /// Which handler answers `method path`. HEAD falls back to GET.
    pub fn route(&self, method: &Method, path: &str) -> RouteMatch {
        let Ok(matched) = self.router.at(path) else {
            return RouteMatch::NotFound;
        };
        let table = &matched.value.methods;
        let pick = |m: &Method| table.iter().find(|(candidate, _, _)| candidate == m);
        let found = pick(method).or_else(|| {
            (*method == Method::HEAD)
                .then(|| pick(&Method::GET))
                .flatten()
        });
        match found {
            Some((_, handler, requirement)) => {
                let params = matched
                    .params
                    .iter()
                    .map(|(name, value)| {
                        let value = percent_encoding::percent_decode_str(value).decode_utf8_lossy();
                        (name.to_owned(), value.into_owned())
                    })
                    .collect();
                RouteMatch::Found(Found {
                    handler: handler.clone(),
                    template: matched.value.template.clone(),
                    params,
                    requirement: requirement.clone(),
                })
            }
            None => RouteMatch::MethodNotAllowed(table.iter().map(|(m, _, _)| m.clone()).collect()),
        }
    }
}

/// The current handler set, replaceable while requests run.
pub struct Registry {
    current: ArcSwap<HandlerSet>,
}

impl Registry {
    /// A registry serving `set`.
    pub fn new(set: HandlerSet) -> Self {
        Self {
            current: ArcSwap::from_pointee(set),
        }
    }

    /// The set to serve one request with; holding it keeps that version alive.
    pub fn current(&self) -> Arc<HandlerSet> {
        self.current.load_full()
    }

    /// Replaces the whole set at once; requests already running keep theirs.
    /// The instances kept by handler versions the new set no longer serves
    /// are retired: no later request reaches them.
    pub fn swap(&self, set: HandlerSet) {
        let old = self.current.swap(Arc::new(set));
        let new = self.current.load();
        for handler in old.handlers() {
            let still_served = new.handlers().iter().any(|h| Arc::ptr_eq(h, handler));
            if let (Some(reuse), false) = (&handler.reuse, still_served) {
                reuse.retire();
            }
        }
    }

    /// Retires the parked instances of the current set that idled too long.
    pub fn sweep_idle_instances(&self) {
        for handler in self.current().handlers() {
            if let Some(reuse) = &handler.reuse {
                reuse.sweep();
            }
        }
    }
}
