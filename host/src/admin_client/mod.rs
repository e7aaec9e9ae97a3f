//! `geofn push`, `geofn rollback`, `geofn handlers`: the admin API from the
//! command line. Exit codes: 0 done, 1 refused by the server (the problem
//! document is printed), 2 the server could not be reached.

use std::process::ExitCode;

use geofn_contract::embedded::Embedded;
use geofn_handler_set::artifact;
use geofn_handler_set::fleet::store::MAX_COMPONENT_BYTES;

use crate::config::{AdminArgs, PushArgs, RollbackArgs};

/// What a command ended with.
pub enum Outcome {
    /// Success, with the server's JSON answer.
    Done(serde_json::Value),
    /// The server said no: status and its problem document (or body).
    Refused(u16, String),
    /// No answer.
    Unreachable(String),
}

impl Outcome {
    /// Prints the outcome and turns it into the process exit code.
    pub fn report(self) -> ExitCode {
        match self {
            Outcome::Done(body) => {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&body).unwrap_or_default()
                );
                ExitCode::SUCCESS
            }
            Outcome::Refused(status, body) => {
                let detail = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|p| p["detail"].as_str().map(str::to_owned))
                    .unwrap_or(body);
                eprintln!("refused ({status}): {detail}");
                ExitCode::from(1)
            }
            Outcome::Unreachable(why) => {
                eprintln!("no answer: {why}");
                ExitCode::from(2)
            }
        }
    }
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(std::time::Duration::from_secs(120)))
        .build()
        .into()
}

fn url(admin: &AdminArgs, path: &str) -> String {
    format!("{}{path}", admin.url.trim_end_matches('/'))
}

fn finish(response: Result<http::Response<ureq::Body>, ureq::Error>) -> Outcome {
    match response {
        Err(err) => Outcome::Unreachable(err.to_string()),
        Ok(mut response) => {
            let status = response.status().as_u16();
            let body = response.body_mut().read_to_string().unwrap_or_default();
            if (200..300).contains(&status) {
                Outcome::Done(
                    serde_json::from_str(&body).unwrap_or(serde_json::Value::String(body)),
                )
            } else {
                Outcome::Refused(status, body)
            }
        }
    }
}

/// Pushes a component.
pub fn push(args: &PushArgs) -> Outcome {
    let bytes = match std::fs::read(&args.component) {
        Ok(bytes) => bytes,
        Err(err) => return Outcome::Refused(0, format!("{}: {err}", args.component.display())),
    };
    // Servers refuse larger ones before reading them; say so without uploading.
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Outcome::Refused(
            413,
            format!(
                "{} is {} bytes; components are at most {} bytes",
                args.component.display(),
                bytes.len(),
                MAX_COMPONENT_BYTES
            ),
        );
    }
    // The name: as given, else the one the component carries.
    let name = match &args.name {
        Some(name) => name.clone(),
        None => match artifact::embedded(&bytes) {
            Ok(Some(Embedded {
                name: Some(name), ..
            })) => name,
            Ok(_) => {
                return Outcome::Refused(
                    0,
                    format!(
                        "{} does not name itself (no geofn-handler section with a name): give --name",
                        args.component.display()
                    ),
                );
            }
            Err(err) => return Outcome::Refused(0, format!("{}: {err}", args.component.display())),
        },
    };
    let mut query = form_urlencoded::Serializer::new(String::new());
    for route in &args.routes {
        query.append_pair("route", route);
    }
    for table in &args.read {
        query.append_pair("read", table);
    }
    for table in &args.write {
        query.append_pair("write", table);
    }
    for (key, value) in &args.limits {
        query.append_pair(key, value);
    }
    let target = url(
        &args.admin,
        &format!("/admin/handlers/{name}?{}", query.finish()),
    );
    finish(
        agent()
            .put(&target)
            .header("authorization", &format!("Bearer {}", args.admin.token))
            .header("content-type", "application/wasm")
            .send(&bytes[..]),
    )
}

/// Rolls a handler back.
pub fn rollback(args: &RollbackArgs) -> Outcome {
    let mut path = format!("/admin/handlers/{}/rollback", args.name);
    if let Some(version) = args.version {
        path.push_str(&format!("?version={version}"));
    }
    finish(
        agent()
            .post(&url(&args.admin, &path))
            .header("authorization", &format!("Bearer {}", args.admin.token))
            .send_empty(),
    )
}

/// Lists handlers.
pub fn handlers(args: &AdminArgs) -> Outcome {
    finish(
        agent()
            .get(&url(args, "/admin/handlers"))
            .header("authorization", &format!("Bearer {}", args.token))
            .call(),
    )
}
