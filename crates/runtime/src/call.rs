//! One request through one handler: a fresh store (or, for a handler that
//! reuses instances, one kept from an earlier request), the deadline, the
//! call.

use std::sync::Arc;
use std::time::Instant;

use tracing::Instrument;
use tracing::field::Empty;
use wasmtime::{PoolConcurrencyLimitError, Store, Trap, UpdateDeadline};

use geofn_auth::identity::Identity;
use geofn_db::handler_pools::HandlerConnections;
use geofn_db::session::ReadPlan;
use geofn_telemetry::metrics::INSTANTIATE;
use geofn_telemetry::traces;

use crate::bindings::{Handler, HandlerPre, Matched, Request, Response};
use crate::engine::Runtime;
use crate::guest::{GuestState, RequestScope};
use crate::limits::Limits;
use crate::outbound::HandlerOutbound;
use crate::throttle::CpuThrottle;
use crate::variables::HandlerVariables;

/// How a call failed; each maps to its own HTTP status.
#[derive(Debug, thiserror::Error)]
pub enum CallError {
    /// The handler ran past its wall-clock deadline (504).
    #[error("the handler did not finish within {0:?}")]
    Deadline(std::time::Duration),
    /// Every instance slot is in use (503).
    #[error("no free instance slot: {0}")]
    Saturated(String),
    /// The guest trapped: panic, out of memory, bug (500).
    #[error("the handler trapped: {0}")]
    Trap(String),
}

/// A handler's response, and where the primary's WAL stood after the
/// request's writes (only when it wrote and the host has a read replica).
#[derive(Debug)]
pub struct Answer {
    /// What the guest returned.
    pub response: Response,
    /// The client's read-your-writes token.
    pub written_at: Option<tokio_postgres::types::PgLsn>,
}

/// What one call needs besides the component.
pub struct CallInputs<'a> {
    /// The handler's limits.
    pub limits: &'a Limits,
    /// Its pools.
    pub db: &'a HandlerConnections,
    /// Where the request's reads go.
    pub reads: ReadPlan,
    /// The route it matched.
    pub route: Matched,
    /// Its verified caller (none: anonymous).
    pub identity: Option<Arc<Identity>>,
    /// The version's digest (hex SHA-256 of the component), for its span.
    pub version: &'a str,
    /// The version's variables and secrets.
    pub variables: Arc<HandlerVariables>,
    /// The version's outbound calls, if it may make any.
    pub outbound: Option<Arc<HandlerOutbound>>,
}

/// An instance and its store, kept between requests of a handler whose
/// manifest turns reuse on (see [`crate::reuse`]).
pub struct Warm {
    store: Store<GuestState>,
    bindings: Handler,
}

/// What a call returned, and its instance if it may serve again.
pub struct Called {
    /// The answer, or how the call failed.
    pub result: Result<Answer, CallError>,
    /// The instance, when the caller asked to keep it and nothing went
    /// wrong: no trap, no deadline, no 5xx, nothing on stderr.
    pub warm: Option<Warm>,
}

impl Runtime {
    /// Instantiates `pre` in a fresh store and calls its `handle`.
    ///
    /// Nothing survives the call: the store, its memory and the database
    /// connection it borrowed are released when this returns (a statement
    /// still running is cancelled first).
    pub async fn call(
        &self,
        handler: Arc<str>,
        pre: &HandlerPre<GuestState>,
        inputs: CallInputs<'_>,
        request: Request,
    ) -> Result<Answer, CallError> {
        self.call_keeping(handler, pre, inputs, request, None, false)
            .await
            .result
    }

    /// Calls `handle` on `warm` (an instance kept from an earlier request
    /// of this handler), or on a fresh one; gives the instance back when
    /// `keep` and the call ended cleanly. Database sessions never outlive
    /// their request, kept instance or not.
    pub async fn call_keeping(
        &self,
        handler: Arc<str>,
        pre: &HandlerPre<GuestState>,
        inputs: CallInputs<'_>,
        request: Request,
        warm: Option<Warm>,
        keep: bool,
    ) -> Called {
        let CallInputs {
            limits,
            db,
            reads,
            route,
            identity,
            version,
            variables,
            outbound,
        } = inputs;
        // The epoch advances (deadlines, yields) only while some call holds this.
        let _ticking = self.ticker().busy();
        let started = Instant::now();
        let deadline = started + limits.deadline;
        let request_scope = RequestScope {
            reads,
            route,
            identity,
            variables,
            outbound,
            deadline,
        };
        let (mut store, bindings) = match warm {
            Some(Warm {
                mut store,
                bindings,
            }) => {
                store.data_mut().begin_request(db, request_scope);
                (store, Some(bindings))
            }
            None => (
                Store::new(
                    self.engine(),
                    GuestState::new(handler.clone(), limits, db, request_scope),
                ),
                None,
            ),
        };
        store.limiter(|state| &mut state.limits);
        store.set_epoch_deadline(1);
        let mut throttle = CpuThrottle::new(
            handler.clone(),
            limits.cpu_grace,
            started,
            store.data().db_waited(),
        );
        store.epoch_deadline_callback(move |guest| {
            let now = Instant::now();
            if now >= deadline {
                return Ok(UpdateDeadline::Interrupt);
            }
            // Called at a tick that finds the guest running wasm: it gives
            // its worker back, and past its grace it is a runaway and
            // keeps a twentieth of a core (`throttle`).
            let give_way = throttle.on_tick(now, guest.data().db_waited());
            Ok(UpdateDeadline::YieldCustom(1, give_way))
        });

        // Disabled (and nothing below evaluated) unless traces are exported.
        let span = tracing::info_span!(
            target: traces::TARGET,
            "handler",
            otel.name = %format_args!("handler {handler}"),
            geofn.handler.name = &*handler,
            geofn.handler.digest = version,
            geofn.instance = if bindings.is_some() { "reused" } else { "fresh" },
            geofn.instantiate_ms = Empty,
            geofn.memory.peak_bytes = Empty,
            otel.status_code = Empty,
            otel.status_description = Empty,
        );
        let outcome = tokio::time::timeout_at(deadline.into(), async {
            let bindings = match bindings {
                Some(bindings) => bindings,
                None => {
                    let started = Instant::now();
                    let bindings = pre.instantiate_async(&mut store).await?;
                    let took = started.elapsed();
                    metrics::histogram!(INSTANTIATE, "handler" => handler.clone())
                        .record(took.as_secs_f64());
                    span.record("geofn.instantiate_ms", took.as_secs_f64() * 1e3);
                    bindings
                }
            };
            let response = bindings.call_handle(&mut store, &request).await?;
            let written_at = store.data_mut().db().written_at().await;
            Ok::<_, wasmtime::Error>((
                Answer {
                    response,
                    written_at,
                },
                bindings,
            ))
        })
        .instrument(span.clone())
        .await;

        let (result, bindings) = match outcome {
            Err(_elapsed) => (Err(CallError::Deadline(limits.deadline)), None),
            Ok(Ok((answer, bindings))) => (Ok(answer), Some(bindings)),
            Ok(Err(err)) => {
                let failed = match classify(err, limits) {
                    // A panic message may quote a secret the guest held.
                    CallError::Trap(why) => {
                        CallError::Trap(store.data().variables.redact(&why).into_owned())
                    }
                    other => other,
                };
                (Err(failed), None)
            }
        };
        if !span.is_disabled() {
            span.record(
                "geofn.memory.peak_bytes",
                store.data().limits.largest_memory() as u64,
            );
            if let Err(err) = &result {
                span.record("otel.status_code", "error");
                span.record("otel.status_description", tracing::field::display(err));
            }
        }
        let stderr = store.data().stderr();
        if result.is_err() && !stderr.is_empty() {
            tracing::warn!(handler.name = &*handler, guest.stderr = %stderr.trim_end(), "handler stderr");
        }
        let clean =
            matches!(&result, Ok(answer) if answer.response.status < 500) && stderr.is_empty();
        // Past half its memory limit a kept instance is retired while still
        // healthy, rather than left to a slow leak's out-of-memory trap.
        let roomy = store.data().limits.largest_memory() <= limits.memory_bytes / 2;
        let warm = match bindings {
            Some(bindings) if keep && clean && roomy => {
                // The request's connections go back now, not when the
                // instance is next used.
                store.data_mut().end_request(db);
                Some(Warm { store, bindings })
            }
            _ => None,
        };
        Called { result, warm }
    }
}

fn classify(err: wasmtime::Error, limits: &Limits) -> CallError {
    if err.downcast_ref::<Trap>() == Some(&Trap::Interrupt) {
        return CallError::Deadline(limits.deadline);
    }
    if err.downcast_ref::<PoolConcurrencyLimitError>().is_some() {
        return CallError::Saturated(err.to_string());
    }
    CallError::Trap(format!("{err:#}"))
}
