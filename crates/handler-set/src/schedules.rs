//! A handler's schedules as a version loads: the component's, with
//! `geofn.toml`'s changes, each checked, each to a path none of the
//! handler's routes matches.

use geofn_contract::route::parse_route;
use geofn_contract::schedules::{Schedules, merged};

use crate::error::LoadError;
use crate::set::ResolvedSchedule;

/// The handler's schedules with `geofn.toml`'s changes, each to a path no
/// route of the handler matches (else a client could send it too).
pub(crate) fn resolve_schedules(
    name: &str,
    declared: &Schedules,
    overrides: &Schedules,
    routes: &[String],
) -> Result<Vec<ResolvedSchedule>, LoadError> {
    let refused = |why: String| LoadError::Schedule {
        handler: name.to_owned(),
        why,
    };
    let merged = merged(declared, overrides).map_err(refused)?;
    let mut resolved = Vec::with_capacity(merged.len());
    for (schedule, spec) in merged {
        let path = spec.path.clone().unwrap_or_default();
        if let Some(route) = routes
            .iter()
            .filter_map(|r| parse_route(r))
            .find(|r| path_matches(&r.path, &path))
        {
            return Err(refused(format!(
                "schedule {schedule:?}: its path {path:?} is the route {route}: a client could send it"
            )));
        }
        let timing = spec.timing().map_err(refused)?;
        resolved.push(ResolvedSchedule {
            name: schedule,
            timing,
            path,
            spec,
        });
    }
    Ok(resolved)
}

/// Whether route template `template` (`{x}` one segment) matches `path`.
fn path_matches(template: &str, path: &str) -> bool {
    let (t, p): (Vec<_>, Vec<_>) = (template.split('/').collect(), path.split('/').collect());
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && t.ends_with('}') && !p.is_empty()) || t == p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use geofn_contract::schedules::Schedule;

    fn declared(path: &str) -> Schedules {
        Schedules::from([(
            "tick".to_owned(),
            Schedule {
                every: Some("2s".into()),
                path: Some(path.into()),
                ..Schedule::default()
            },
        )])
    }

    #[test]
    fn a_path_a_route_matches_is_refused() {
        let routes = [
            "GET /feeds/{name}".to_owned(),
            "POST /feeds/{name}".to_owned(),
        ];
        let err = resolve_schedules(
            "feeds",
            &declared("/feeds/_pull"),
            &Schedules::new(),
            &routes,
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("a client could send it"), "{err}");
        let ok = resolve_schedules(
            "feeds",
            &declared("/feeds/_pull/now"),
            &Schedules::new(),
            &routes,
        )
        .unwrap();
        assert_eq!(ok[0].path, "/feeds/_pull/now");
    }
}
