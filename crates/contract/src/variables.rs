//! A handler's variables: the settings and secrets it reads through
//! `wasi:config/store`, declared in its manifest so the host can refuse a
//! version whose required values nobody supplied, and knows which values
//! must never be written anywhere.
//!
//! ```toml
//! [variables]
//! pull_every = { default = "300s" }
//! token = { secret = true }               # no default: required
//! region = { required = false }           # may stay unset
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;

/// Longest variable name: it becomes part of an environment variable and
/// a file name.
const MAX_NAME: usize = 63;

/// Declared variables by name.
pub type Variables = BTreeMap<String, Variable>;

/// One declared variable.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// The value when the operator sets none. A secret has none: a default
    /// would travel in the artifact for anyone to read.
    pub default: Option<String>,
    /// Never written to a log, metric, trace, admin answer or problem
    /// document, and never settable in `geofn.toml` (which is not secret).
    #[serde(default)]
    pub secret: bool,
    /// Whether a version may load with no value; by default, required
    /// exactly when there is no default.
    pub required: Option<bool>,
}

impl Variable {
    /// Whether the version must be refused when no value is supplied.
    pub fn is_required(&self) -> bool {
        self.required.unwrap_or(self.default.is_none())
    }
}

/// Whether `name` can name a variable: lower-case letters, digits and `_`,
/// starting with a letter, so `GEOFN_VAR_<HANDLER>_<NAME>` and a file of
/// that name are unambiguous.
pub fn valid_variable_name(name: &str) -> bool {
    name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

/// What is wrong with a declaration, if anything.
pub fn invalid_declaration(variables: &Variables) -> Option<String> {
    for (name, variable) in variables {
        if !valid_variable_name(name) {
            return Some(format!(
                "variable name {name:?} must be 1-{MAX_NAME} characters of a-z, 0-9 and _, \
                 starting with a letter"
            ));
        }
        if variable.secret && variable.default.is_some() {
            return Some(format!(
                "secret variable {name:?} has a default: a secret's value must come from the \
                 operator, never from the artifact"
            ));
        }
        if variable.required == Some(true) && variable.default.is_some() {
            return Some(format!(
                "variable {name:?} is required and has a default: one of the two"
            ));
        }
    }
    None
}

/// The environment variable the operator sets for `handler`'s `name`:
/// `GEOFN_VAR_FEEDS_TOKEN` for `feeds` and `token` (a `-` in the handler's
/// name becomes `_`).
pub fn environment_name(handler: &str, name: &str) -> String {
    format!(
        "GEOFN_VAR_{}_{}",
        handler.to_ascii_uppercase().replace('-', "_"),
        name.to_ascii_uppercase()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Variables {
        #[derive(Deserialize)]
        struct Doc {
            variables: Variables,
        }
        toml::from_str::<Doc>(text).unwrap().variables
    }

    #[test]
    fn required_unless_defaulted_or_said_otherwise() {
        let variables = parse(
            "[variables]\nevery = { default = \"300s\" }\ntoken = { secret = true }\n\
             region = { required = false }",
        );
        assert!(!variables["every"].is_required());
        assert!(variables["token"].is_required());
        assert!(!variables["region"].is_required());
        assert_eq!(invalid_declaration(&variables), None);
    }

    #[test]
    fn contradictions_and_bad_names_are_refused() {
        for (text, why) in [
            (
                "[variables]\nt = { secret = true, default = \"x\" }",
                "has a default",
            ),
            (
                "[variables]\nt = { required = true, default = \"x\" }",
                "one of the two",
            ),
            ("[variables]\nToken = {}", "a-z"),
            ("[variables]\n1st = {}", "a-z"),
            ("[variables]\n\"a-b\" = {}", "a-z"),
        ] {
            let why_not = invalid_declaration(&parse(text)).unwrap();
            assert!(why_not.contains(why), "{text}: {why_not}");
        }
    }

    #[test]
    fn environment_names_are_upper_case() {
        assert_eq!(environment_name("feeds", "token"), "GEOFN_VAR_FEEDS_TOKEN");
        assert_eq!(
            environment_name("my-app", "pull_every"),
            "GEOFN_VAR_MY_APP_PULL_EVERY"
        );
    }
}
