//! `geofn push`, `geofn rollback`, `geofn handlers`: the admin API from the
//! command line. Exit codes: 0 done, 1 refused (with what is wrong and what
//! to do), 2 the server could not be reached.
//!
//! - [`target`]: the server and the token shown to it.
//! - [`outcome`]: an answer made into a result or an explanation.

mod outcome;
mod target;

use std::path::Path;

use geofn_contract::embedded::Embedded;
use geofn_handler_set::artifact;
use geofn_handler_set::fleet::store::MAX_COMPONENT_BYTES;
use geofn_oci::reference::SCHEME;
pub use outcome::Outcome;
use outcome::{agent, finish};
use target::Target;

use crate::config::{AdminArgs, PushArgs, RollbackArgs};

/// Pushes a component: a file, sent as the body, or an artifact in a
/// registry, which the replica pushed to resolves once and every replica
/// pulls.
pub fn push(args: &PushArgs) -> Outcome {
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
    if let Some(source) = args.component.to_str().filter(|c| c.starts_with(SCHEME)) {
        query.append_pair("source", source);
        // The name: as given, else the one the artifact carries (the
        // replica reads it: the registry may be one only it can reach).
        let path = match &args.name {
            Some(name) => format!("/admin/handlers/{name}"),
            None => "/admin/handlers".to_owned(),
        };
        let url = target.url(&format!("{path}?{}", query.finish()));
        let mut request = if args.name.is_some() {
            agent().put(&url)
        } else {
            agent().post(&url)
        };
        if let Some(authorization) = target.authorization() {
            request = request.header("authorization", &authorization);
        }
        return finish(&target, request.send_empty());
    }
    let bytes = match read_component(&args.component) {
        Ok(bytes) => bytes,
        Err(refused) => return refused,
    };
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
    let mut request = agent()
        .put(&target.url(&format!("/admin/handlers/{name}?{}", query.finish())))
        .header("content-type", "application/wasm");
    if let Some(authorization) = target.authorization() {
        request = request.header("authorization", &authorization);
    }
    finish(&target, request.send(&bytes[..]))
}

/// A component file, refused before it is uploaded if servers would
/// refuse it for its size.
pub fn read_component(path: &Path) -> Result<Vec<u8>, Outcome> {
    let bytes = std::fs::read(path)
        .map_err(|err| Outcome::Refused(0, format!("{}: {err}", path.display())))?;
    if bytes.len() > MAX_COMPONENT_BYTES {
        return Err(Outcome::Refused(
            413,
            format!(
                "{} is {} bytes; components are at most {} bytes",
                path.display(),
                bytes.len(),
                MAX_COMPONENT_BYTES
            ),
        ));
    }
    Ok(bytes)
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
