//! What the handler set reports to operators: each handler's counters at
//! zero from the moment it loads, and at every scrape its pools and the
//! versions being served.

use std::collections::BTreeSet;

use geofn_contract::route::parse_route;
use geofn_telemetry::metrics::{
    self as m, HANDLER_CONNECTIONS, HANDLER_SHARE, POOL_CONNECTIONS, POOL_WAITING,
};

use crate::set::{HandlerSet, Registry};

/// Registers at zero the counters of every handler of `set` and of its
/// routes (counters already running keep their counts).
pub fn register_handlers(set: &HandlerSet) {
    for handler in set.handlers() {
        let templates: Vec<String> = handler
            .routes
            .iter()
            .filter_map(|route| parse_route(route))
            .map(|route| route.path)
            .collect();
        m::register_handler(&handler.name, templates.iter().map(String::as_str));
    }
}

/// The scrape hook of the served set: its pools' connections, per handler
/// and together, and `geofn_handler_info`, one series per version served.
pub fn scrape(registry: &Registry, out: &mut String) {
    let set = registry.current();
    let (mut open, mut in_use, mut waiting) = (0usize, 0usize, 0usize);
    let mut seen = BTreeSet::new();
    for handler in set.handlers() {
        if !seen.insert(handler.name.clone()) {
            continue;
        }
        let usage = handler.db.primary.usage();
        open += usage.open;
        in_use += usage.in_use;
        waiting += usage.waiting;
        let name = handler.name.to_string();
        metrics::gauge!(HANDLER_CONNECTIONS, "handler" => name.clone(), "state" => "in_use")
            .set(usage.in_use as f64);
        metrics::gauge!(HANDLER_CONNECTIONS, "handler" => name.clone(), "state" => "open")
            .set(usage.open as f64);
        metrics::gauge!(HANDLER_SHARE, "handler" => name).set(usage.share as f64);
    }
    metrics::gauge!(POOL_CONNECTIONS, "state" => "open").set(open as f64);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "idle").set(open.saturating_sub(in_use) as f64);
    metrics::gauge!(POOL_CONNECTIONS, "state" => "in_use").set(in_use as f64);
    metrics::gauge!(POOL_WAITING).set(waiting as f64);
    let labels: Vec<[(&str, &str); 2]> = set
        .handlers()
        .iter()
        .map(|h| [("handler", &*h.name), ("sha256", h.sha256.as_str())])
        .collect();
    m::write_info(
        out,
        m::HANDLER_INFO,
        m::HANDLER_INFO_HELP,
        labels.iter().map(|l| &l[..]),
    );
}
