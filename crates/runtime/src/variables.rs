//! The values one version of a handler reads through `wasi:config/store`,
//! and the secrets among them that nothing the host writes may contain.
//!
//! A handler that logs, panics with or traces a secret value does not get
//! it written: the host replaces it with [`REDACTED`] in the guest's log
//! lines, stderr, span names and attributes, trap messages and database
//! errors before any of them reaches a log, a trace or a problem document.

use std::borrow::Cow;
use std::collections::BTreeMap;

/// What a secret value is replaced with.
pub const REDACTED: &str = "[secret]";

/// A handler version's variables, resolved by the handler set.
#[derive(Default)]
pub struct HandlerVariables {
    /// Name to value, as the guest reads them.
    values: BTreeMap<String, String>,
    /// Secret values, longest first so a secret containing another is
    /// replaced whole.
    secrets: Vec<String>,
}

impl HandlerVariables {
    /// Variables from `(name, value, secret)` triples.
    pub fn new(values: impl IntoIterator<Item = (String, String, bool)>) -> Self {
        let mut variables = HandlerVariables::default();
        for (name, value, secret) in values {
            if secret && !value.is_empty() {
                variables.secrets.push(value.clone());
            }
            variables.values.insert(name, value);
        }
        variables
            .secrets
            .sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        variables
    }

    /// `text` with every secret value replaced by [`REDACTED`]; borrowed
    /// (no copy) when it holds none, as almost all text does.
    pub fn redact<'a>(&self, text: &'a str) -> Cow<'a, str> {
        let mut redacted = Cow::Borrowed(text);
        for secret in &self.secrets {
            if redacted.contains(secret.as_str()) {
                redacted = Cow::Owned(redacted.replace(secret.as_str(), REDACTED));
            }
        }
        redacted
    }

    /// The value of `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Every name with its value.
    pub fn all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.values.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Two resolutions are the same when every name has the same value and
/// secrecy: then a reload keeps the loaded version as it is.
impl PartialEq for HandlerVariables {
    fn eq(&self, other: &Self) -> bool {
        self.values == other.values && self.secrets == other.secrets
    }
}

/// Never the values: a `Debug` of a handler must not print its secrets.
impl std::fmt::Debug for HandlerVariables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HandlerVariables")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .field("secrets", &self.secrets.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn variables() -> HandlerVariables {
        HandlerVariables::new([
            ("token".to_owned(), "s3cr3t-t0ken".to_owned(), true),
            ("inner".to_owned(), "t0ken".to_owned(), true),
            ("every".to_owned(), "300s".to_owned(), false),
        ])
    }

    #[test]
    fn secrets_are_replaced_whole_and_plain_values_kept() {
        let variables = variables();
        assert_eq!(
            variables.redact("auth s3cr3t-t0ken then t0ken every 300s"),
            "auth [secret] then [secret] every 300s"
        );
        assert!(matches!(variables.redact("nothing here"), Cow::Borrowed(_)));
    }

    #[test]
    fn debug_names_no_value() {
        let shown = format!("{:?}", variables());
        assert!(
            shown.contains("token") && !shown.contains("s3cr3t"),
            "{shown}"
        );
    }
}
