//! Reaching outside the sandbox: files, environment, arguments, clocks, sockets.

use geofn_guest::http;
use geofn_guest::{Request, Response};
use serde_json::json;

use crate::args::param;

pub fn sandbox(request: &Request) -> Response {
    let file = std::fs::read_to_string("/etc/passwd")
        .map(|s| format!("read {} bytes", s.len()))
        .map_err(|e| e.to_string());
    let dir = std::fs::read_dir("/")
        .map(|d| format!("{} entries", d.count()))
        .map_err(|e| e.to_string());
    let env: Vec<(String, String)> = std::env::vars().collect();
    let args: Vec<String> = std::env::args().collect();
    let port = param(request, "port").unwrap_or_else(|| "5432".into());
    let socket = std::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .map(|_| "connected".to_owned())
        .map_err(|e| e.to_string());
    let lookup = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 80))
        .map(|a| format!("{} addresses", a.count()))
        .map_err(|e| e.to_string());
    http::json(
        200,
        &json!({
            "file": format!("{file:?}"),
            "dir": format!("{dir:?}"),
            "env": env,
            "args": args,
            "socket": format!("{socket:?}"),
            "lookup": format!("{lookup:?}"),
        }),
    )
}
