//! `geofn health`: asks a running host's `/status` and exits 0 only on 200.
//! For container health checks, so the image needs no curl.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

/// How long the whole check may take.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// The HTTP status `GET {path}` gets from the host listening on `listen`
/// (an unspecified address such as 0.0.0.0 means this machine).
pub fn check(listen: SocketAddr, path: &str) -> Result<u16, ureq::Error> {
    let target = if listen.ip().is_unspecified() {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), listen.port())
    } else {
        listen
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(CHECK_TIMEOUT))
        .build()
        .into();
    let response = agent.get(format!("http://{target}{path}")).call()?;
    Ok(response.status().as_u16())
}
