//! `geofn push`, `geofn rollback`, `geofn handlers`: the admin API from the
//! command line. Exit codes: 0 done, 1 refused (with what is wrong and what
//! to do), 2 the server could not be reached.
//!
//! - [`target`]: the server and the token shown to it.
//! - [`outcome`]: an answer made into a result or an explanation.

mod outcome;
mod target;

use geofn_contract::embedded::Embedded;
use geofn_handler_set::artifact;
use geofn_handler_set::fleet::store::MAX_COMPONENT_BYTES;
pub use outcome::Outcome;
use outcome::{agent, finish};
use target::Target;

use crate::config::{AdminArgs, PushArgs, RollbackArgs};

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
    let target = Target::new(&args.admin);
    let mut request = agent()
        .put(&target.url(&format!("/admin/handlers/{name}?{}", query.finish())))
        .header("content-type", "application/wasm");
    if let Some(authorization) = target.authorization() {
        request = request.header("authorization", &authorization);
    }
    finish(&target, request.send(&bytes[..]))
}

/// Rolls a handler back.
pub fn rollback(args: &RollbackArgs) -> Outcome {
    let mut path = format!("/admin/handlers/{}/rollback", args.name);
    if let Some(version) = args.version {
        path.push_str(&format!("?version={version}"));
    }
    let target = Target::new(&args.admin);
    let mut request = agent().post(&target.url(&path));
    if let Some(authorization) = target.authorization() {
        request = request.header("authorization", &authorization);
    }
    finish(&target, request.send_empty())
}

/// Lists handlers.
pub fn handlers(args: &AdminArgs) -> Outcome {
    let target = Target::new(args);
    let mut request = agent().get(&target.url("/admin/handlers"));
    if let Some(authorization) = target.authorization() {
        request = request.header("authorization", &authorization);
    }
    finish(&target, request.call())
}
