//! Timed invocations of a handler: a POST to a path that is none of its
//! routes, so only the host can send it, once per fleet per tick.
//!
//! ```toml
//! [schedules.pull]
//! every = "5m"              # or cron = "*/5 * * * *" (UTC)
//! path = "/feeds/_pull"
//! ```
//!
//! `geofn.toml` may change a schedule's timing per handler
//! (`[handlers.feeds.schedules.pull] every = "2s"`), or add one with a path.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The shortest period a schedule may have.
pub const MIN_PERIOD: Duration = Duration::from_secs(1);

/// Schedules by name.
pub type Schedules = BTreeMap<String, Schedule>;

/// One schedule, as written.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// A period: "300s", "5m", "1h 30m".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub every: Option<String>,
    /// A cron pattern, five fields (minute granularity) or six (seconds
    /// first), in UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cron: Option<String>,
    /// Where the POST goes: a path none of the handler's routes is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

/// When a schedule fires.
#[derive(Debug, Clone)]
pub enum Timing {
    /// Every this long, from its first run.
    Every(Duration),
    /// At each time the pattern matches.
    Cron(Box<croner::Cron>),
}

impl Schedule {
    /// Its timing, or what is wrong with it.
    pub fn timing(&self) -> Result<Timing, String> {
        match (&self.every, &self.cron) {
            (Some(every), None) => {
                let period = humantime::parse_duration(every)
                    .map_err(|err| format!("every = {every:?}: {err} (e.g. \"30s\", \"5m\")"))?;
                if period < MIN_PERIOD {
                    return Err(format!("every = {every:?}: at least one second"));
                }
                Ok(Timing::Every(period))
            }
            (None, Some(pattern)) => pattern
                .parse::<croner::Cron>()
                .map(|cron| Timing::Cron(Box::new(cron)))
                .map_err(|err| format!("cron = {pattern:?}: {err}")),
            (Some(_), Some(_)) => Err("every or cron, not both".into()),
            (None, None) => Err("needs every or cron".into()),
        }
    }
}

/// The handler's schedules with `geofn.toml`'s changes laid over them: a
/// timing replaces the declared one (`every` and `cron` exclude each
/// other), a path replaces the path; a schedule only `geofn.toml` names
/// must have a path. Each result is checked.
pub fn merged(declared: &Schedules, overrides: &Schedules) -> Result<Schedules, String> {
    let mut merged = declared.clone();
    for (name, over) in overrides {
        let entry = merged.entry(name.clone()).or_default();
        if over.every.is_some() || over.cron.is_some() {
            entry.every = over.every.clone();
            entry.cron = over.cron.clone();
        }
        if over.path.is_some() {
            entry.path = over.path.clone();
        }
    }
    if let Some(why) = invalid(&merged) {
        return Err(why);
    }
    Ok(merged)
}

/// What is wrong with `schedules`, if anything.
pub fn invalid(schedules: &Schedules) -> Option<String> {
    schedules.iter().find_map(|(name, schedule)| {
        let bad = |why: String| Some(format!("schedule {name:?}: {why}"));
        if !crate::variables::valid_variable_name(name) {
            return bad("names are a-z, 0-9 and _, starting with a letter".into());
        }
        match &schedule.path {
            None => return bad("needs a path".into()),
            Some(path) if !path.starts_with('/') || path.contains(['?', '#', ' ']) => {
                return bad(format!("path {path:?} must be a plain absolute path"));
            }
            Some(_) => {}
        }
        schedule.timing().err().and_then(bad)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(every: Option<&str>, cron: Option<&str>, path: Option<&str>) -> Schedules {
        Schedules::from([(
            "pull".to_owned(),
            Schedule {
                every: every.map(str::to_owned),
                cron: cron.map(str::to_owned),
                path: path.map(str::to_owned),
            },
        )])
    }

    #[test]
    fn periods_and_patterns_parse() {
        let every = one(Some("5m"), None, Some("/x"));
        assert!(
            matches!(every["pull"].timing(), Ok(Timing::Every(d)) if d == Duration::from_secs(300))
        );
        assert!(matches!(
            one(None, Some("*/5 * * * *"), Some("/x"))["pull"].timing(),
            Ok(Timing::Cron(_))
        ));
        assert!(matches!(
            one(None, Some("*/2 * * * * *"), Some("/x"))["pull"].timing(),
            Ok(Timing::Cron(_))
        ));
        assert_eq!(invalid(&every), None);
    }

    #[test]
    fn bad_schedules_say_why() {
        for (schedules, why) in [
            (one(Some("5 minutes-ish"), None, Some("/x")), "every"),
            (one(Some("10ms"), None, Some("/x")), "at least one second"),
            (one(None, Some("61 * * * *"), Some("/x")), "cron"),
            (one(Some("5m"), Some("* * * * *"), Some("/x")), "not both"),
            (one(None, None, Some("/x")), "needs every or cron"),
            (one(Some("5m"), None, None), "needs a path"),
            (one(Some("5m"), None, Some("x")), "absolute"),
        ] {
            let said = invalid(&schedules).unwrap();
            assert!(said.contains(why), "{said}");
        }
    }

    #[test]
    fn geofn_toml_changes_the_timing_and_may_add_with_a_path() {
        let declared = one(Some("5m"), None, Some("/feeds/_pull"));
        let faster = one(Some("2s"), None, None);
        let merged = merged(&declared, &faster).unwrap();
        assert_eq!(merged["pull"].every.as_deref(), Some("2s"));
        assert_eq!(merged["pull"].path.as_deref(), Some("/feeds/_pull"));
        let to_cron = one(None, Some("* * * * *"), None);
        let merged = super::merged(&declared, &to_cron).unwrap();
        assert_eq!(
            (merged["pull"].every.as_ref(), merged["pull"].cron.is_some()),
            (None, true)
        );
        let pathless = Schedules::from([(
            "new".to_owned(),
            Schedule {
                every: Some("1m".into()),
                ..Schedule::default()
            },
        )]);
        assert!(
            super::merged(&declared, &pathless)
                .unwrap_err()
                .contains("needs a path")
        );
    }
}
