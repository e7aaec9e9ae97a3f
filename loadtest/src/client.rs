//! One keep-alive HTTP/1.1 connection per simulated user (as each Locust
//! user has its own session), reconnecting after errors.

use std::time::Duration;

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A request that fails to complete within this long counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// A connection to the target.
pub struct Connection {
    address: String,
    sender: Option<SendRequest<Full<Bytes>>>,
}

/// How a request ended.
pub enum Outcome {
    /// The server answered with this status.
    Status(u16),
    /// No answer: connection refused or reset, timeout.
    Failed(String),
}

impl Connection {
    /// Not connected yet; connects on first use.
    pub fn new(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            sender: None,
        }
    }

    /// Sends `request` and reads the whole answer.
    pub async fn send(&mut self, request: Request<Full<Bytes>>) -> Outcome {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.exchange(request)).await {
            Ok(Ok(status)) => Outcome::Status(status),
            Ok(Err(err)) => {
                self.sender = None;
                Outcome::Failed(err)
            }
            Err(_) => {
                self.sender = None;
                Outcome::Failed("timeout".into())
            }
        }
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>) -> Result<u16, String> {
        if self.sender.as_ref().is_none_or(|s| s.is_closed()) {
            let stream = TcpStream::connect(&self.address)
                .await
                .map_err(|e| e.to_string())?;
            let _ = stream.set_nodelay(true);
            let (sender, connection) = http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            tokio::spawn(connection);
            self.sender = Some(sender);
        }
        let sender = self.sender.as_mut().expect("connected above");
        sender.ready().await.map_err(|e| e.to_string())?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status().as_u16();
        let close = response
            .headers()
            .get(http::header::CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"));
        response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?;
        if close {
            self.sender = None;
        }
        Ok(status)
    }
}
