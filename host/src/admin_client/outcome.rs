//! What an admin command ended with, and, when the server said no or did
//! not answer, what is wrong and what to do about it.

use std::process::ExitCode;

use super::target::{Target, TokenSource};

/// What a command ended with.
pub enum Outcome {
    /// Success, with the server's JSON answer.
    Done(serde_json::Value),
    /// The server said no (its status, 0 when the command refused before
    /// asking), and what to do about it.
    Refused(u16, String),
    /// No answer, and what to check.
    Unreachable(String),
}

impl Outcome {
    /// Prints the outcome and turns it into the process exit code: 0 done,
    /// 1 refused, 2 unreachable.
    pub fn report(self) -> ExitCode {
        match self {
            Outcome::Done(body) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&body).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Outcome::Refused(status, why) => {
                eprintln!("refused ({status}): {why}");
                ExitCode::from(1)
            }
            Outcome::Unreachable(why) => {
                eprintln!("no answer: {why}");
                ExitCode::from(2)
            }
        }
    }
}

/// A short-lived agent whose error statuses are answers, not errors.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .into()
}

/// The outcome of one request to `target`.
pub fn finish(
    target: &Target,
    response: Result<http::Response<ureq::Body>, ureq::Error>,
) -> Outcome {
    let mut response = match response {
        Ok(response) => response,
        Err(err) => {
            return Outcome::Unreachable(format!(
                "cannot reach {} ({err}). Is geofn running there? `make run` serves on \
                 http://127.0.0.1:5000; for another server give --url URL (or GEOFN_URL)",
                target.base
            ));
        }
    };
    let status = response.status().as_u16();
    let body = response.body_mut().read_to_string().unwrap_or_default();
    if (200..300).contains(&status) {
        return Outcome::Done(
            serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
        );
    }
    Outcome::Refused(status, explain(target, status, &body))
}

/// What a refusal means for the person who typed the command.
fn explain(target: &Target, status: u16, body: &str) -> String {
    let problem = serde_json::from_str::<serde_json::Value>(body).ok();
    let kind = problem.as_ref().and_then(|p| p["type"].as_str());
    let detail = problem
        .as_ref()
        .and_then(|p| p["detail"].as_str())
        .unwrap_or(body)
        .to_owned();
    let base = &target.base;
    match status {
        401 => match &target.source {
            TokenSource::None => format!(
                "{base} needs its admin token: pass the one its server was started with, \
                 --token TOKEN or GEOFN_ADMIN_TOKEN=TOKEN (a `geofn dev` on this machine is \
                 found by itself while it runs; its token is in its data directory, \
                 .geofn/admin-token by default)"
            ),
            TokenSource::Given => format!(
                "{base} refused the admin token given (--token or GEOFN_ADMIN_TOKEN): pass \
                 the one its server was started with"
            ),
            TokenSource::DevServer(file) => format!(
                "{base} refused the token a local `geofn dev` keeps in {}: the server on that \
                 port is another one; pass its token with --token",
                file.display()
            ),
        },
        404 if kind == Some("urn:geofn:problem:not-found") => format!(
            "{base} has no admin routes: its server was started without an admin token. \
             Start it with --admin-token TOKEN (or GEOFN_ADMIN_TOKEN=TOKEN; `geofn dev` makes \
             one for itself) and pass the same token here{}",
            version_note(target)
        ),
        404 | 405 | 415 => format!("{detail}{}", version_note(target)),
        _ if kind.is_none() => format!("{detail}{}", version_note(target)),
        _ => detail,
    }
}

/// Whether the server is a geofn of another version than this command,
/// or no geofn at all, as its `/status` tells: an answer that does not
/// fit the command most often comes from one of those.
fn version_note(target: &Target) -> String {
    let mine = env!("CARGO_PKG_VERSION");
    let Ok(mut response) = agent().get(&target.url("/status")).call() else {
        return String::new();
    };
    let body = response.body_mut().read_to_string().unwrap_or_default();
    let status = serde_json::from_str::<serde_json::Value>(&body).ok();
    let is_geofn_problem = status
        .as_ref()
        .and_then(|s| s["type"].as_str())
        .is_some_and(|kind| kind.starts_with("urn:geofn:problem:"));
    match status.as_ref().and_then(|s| s["version"].as_str()) {
        Some(theirs) if theirs != mine => format!(
            " (the server runs geofn {theirs} and this command is geofn {mine}: use the \
             geofn of the server's version)"
        ),
        Some(_) => String::new(),
        None if is_geofn_problem => String::new(),
        None => format!(
            " ({} does not answer GET /status as a geofn server does: is --url the right \
             server?)",
            target.base
        ),
    }
}
