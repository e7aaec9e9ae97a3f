//! `geofn publish FILE oci://REGISTRY/REPO:TAG`: a component into a
//! registry in the CNCF Wasm artifact layout, the way `wkg oci push` and
//! `spin registry push` write theirs; the reference pinned to the
//! manifest's digest goes to stdout, for `geofn push` or a `geofn.toml`.

use std::process::ExitCode;

use geofn_oci::{OciRef, Registry};

use crate::admin_client::{Outcome, read_component};
use crate::config::PublishArgs;

/// Publishes; exit 0 with the pinned reference printed, 1 refused (the
/// file, the reference, the registry's answer), 2 the registry did not
/// answer.
pub fn publish(args: &PublishArgs) -> ExitCode {
    let bytes = match read_component(&args.component) {
        Ok(bytes) => bytes,
        Err(refused) => return refused.report(),
    };
    let reference = match OciRef::parse(&args.reference) {
        Ok(reference) if !reference.is_pinned() => reference,
        Ok(_) => {
            return Outcome::Refused(
                0,
                format!(
                    "{}: publish to a tag (oci://REGISTRY/REPO:TAG); the digest is printed",
                    args.reference
                ),
            )
            .report();
        }
        Err(err) => return Outcome::Refused(0, err.to_string()).report(),
    };
    // Nothing is kept: the bytes are the file's.
    let registry = match Registry::new(&args.oci.settings(None)) {
        Ok(registry) => registry,
        Err(err) => return Outcome::Refused(0, err.to_string()).report(),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::Refused(0, format!("starting: {err}")).report(),
    };
    match runtime.block_on(registry.publish(&reference, &bytes)) {
        Ok(pinned) => {
            eprintln!(
                "published {} ({} bytes, component {})",
                args.component.display(),
                bytes.len(),
                geofn_oci::layout::digest(&bytes)
            );
            println!("{pinned}");
            ExitCode::SUCCESS
        }
        Err(err) if err.label() == "unreachable" => Outcome::Unreachable(format!(
            "{err}. A plain-HTTP lab registry is named in GEOFN_OCI_INSECURE_REGISTRIES=host:port"
        ))
        .report(),
        Err(err) => Outcome::Refused(err.status(), err.to_string()).report(),
    }
}
