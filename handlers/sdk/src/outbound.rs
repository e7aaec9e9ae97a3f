//! Outbound HTTP, through the standard `wasi:http/outgoing-handler`: the
//! host sends a call only to an origin the manifest's `[outbound]
//! allowed_hosts` (or the operator's list) names, within the request's
//! deadline, its answer capped at the handler's memory. Redirects come
//! back as they are (a 3xx): following one is a new call, checked again.
//!
//! ```ignore
//! let answer = geofn_guest::outbound::get("https://api.example.org/features")?
//!     .error_for_status()?;
//! let features: serde_json::Value = answer.json()?;
//! let echoed = geofn_guest::outbound::Request::post("https://hooks.example.org/new")
//!     .header("authorization", &format!("Bearer {token}"))
//!     .json(&serde_json::json!({ "id": 1 }))?
//!     .send()?;
//! ```
//!
//! Every failure converts into a problem document with `?`: 502 when the
//! upstream could not be reached or answered badly, 504 when it was too
//! slow.

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::bindings::wasi::http::outgoing_handler;
use crate::bindings::wasi::http::types::{
    ErrorCode, Fields, IncomingBody, Method, OutgoingBody, OutgoingRequest, Scheme,
};
use crate::bindings::wasi::io::streams::StreamError;
use crate::error::Error;

/// Bytes written to the request body per host call (the stream's limit).
const WRITE_CHUNK: usize = 4096;
/// Bytes asked for per read of the response body.
const READ_CHUNK: u64 = 256 << 10;

/// Why an outbound call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutboundError {
    /// The URL is not `http(s)://host[:port]/...`.
    BadUrl(String),
    /// The host refused the call: the origin is not on the handler's list,
    /// or it resolves to an address the handler may not reach.
    Denied(String),
    /// No connection, a TLS failure, or a broken answer.
    Unreachable(String),
    /// The answer's body is larger than the handler may hold.
    TooLarge,
    /// The upstream did not answer in time.
    Timeout,
}

impl std::fmt::Display for OutboundError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OutboundError::BadUrl(why) => write!(f, "not a URL the handler can call: {why}"),
            OutboundError::Denied(why) => write!(f, "the host refused the call: {why}"),
            OutboundError::Unreachable(why) => {
                write!(f, "the upstream could not be reached: {why}")
            }
            OutboundError::TooLarge => write!(
                f,
                "the upstream's answer is larger than the handler may hold"
            ),
            OutboundError::Timeout => write!(f, "the upstream did not answer in time"),
        }
    }
}

impl From<OutboundError> for Error {
    fn from(err: OutboundError) -> Self {
        let detail = err.to_string();
        match err {
            OutboundError::Timeout => {
                Error::new(504, "upstream-timeout", "Upstream timed out", detail)
            }
            _ => Error::new(502, "upstream-failed", "Upstream failed", detail),
        }
    }
}

/// An upstream's answer, body read whole.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its header fields, names lower case.
    pub headers: Vec<(String, String)>,
    /// Its body.
    pub body: Vec<u8>,
}

impl Answer {
    /// The first value of header `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Itself when the status is 2xx; a 502 problem otherwise.
    pub fn error_for_status(self) -> Result<Self, Error> {
        if (200..300).contains(&self.status) {
            Ok(self)
        } else {
            Err(OutboundError::Unreachable(format!("it answered {}", self.status)).into())
        }
    }

    /// The body parsed as JSON; a 502 problem when it is not.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|err| {
            OutboundError::Unreachable(format!("its answer is not the JSON expected: {err}")).into()
        })
    }
}

/// `GET url`.
pub fn get(url: &str) -> Result<Answer, OutboundError> {
    Request::new("GET", url).send()
}

/// A call to make.
#[derive(Debug, Clone)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// A call of `method` on `url`.
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.to_owned(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// `POST url`.
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header field.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Sets a JSON body and its content type.
    pub fn json<T: Serialize>(self, value: &T) -> Result<Self, Error> {
        let body = serde_json::to_vec(value)
            .map_err(|err| Error::new(500, "internal", "Internal error", err.to_string()))?;
        Ok(self.header("content-type", "application/json").body(body))
    }

    /// Sends it and reads the whole answer.
    pub fn send(self) -> Result<Answer, OutboundError> {
        let (scheme, authority, path) = split_url(&self.url)?;
        let entries: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.clone(), v.clone().into_bytes()))
            .collect();
        let fields = Fields::from_list(&entries)
            .map_err(|err| OutboundError::BadUrl(format!("a header is invalid: {err:?}")))?;
        let request = OutgoingRequest::new(fields);
        let method = match self.method.as_str() {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "PATCH" => Method::Patch,
            "OPTIONS" => Method::Options,
            other => Method::Other(other.to_owned()),
        };
        let invalid = |what: &str| OutboundError::BadUrl(format!("invalid {what}"));
        request
            .set_method(&method)
            .map_err(|()| invalid("method"))?;
        request
            .set_scheme(Some(&scheme))
            .map_err(|()| invalid("scheme"))?;
        request
            .set_authority(Some(authority))
            .map_err(|()| invalid("host"))?;
        request
            .set_path_with_query(Some(&path))
            .map_err(|()| invalid("path"))?;
        let outgoing = request.body().map_err(|()| invalid("body"))?;
        if !self.body.is_empty() {
            let stream = outgoing.write().map_err(|()| invalid("body"))?;
            for chunk in self.body.chunks(WRITE_CHUNK) {
                stream.blocking_write_and_flush(chunk).map_err(|err| {
                    OutboundError::Unreachable(format!("writing the body: {err:?}"))
                })?;
            }
        }
        let future = outgoing_handler::handle(request, None).map_err(failure)?;
        OutgoingBody::finish(outgoing, None).map_err(failure)?;
        future.subscribe().block();
        let response = future
            .get()
            .and_then(Result::ok)
            .ok_or_else(|| OutboundError::Unreachable("no answer".into()))?
            .map_err(failure)?;
        let status = response.status();
        let headers = response
            .headers()
            .entries()
            .into_iter()
            .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
            .collect();
        let incoming = response
            .consume()
            .map_err(|()| OutboundError::Unreachable("no body".into()))?;
        let mut body = Vec::new();
        {
            let stream = incoming
                .stream()
                .map_err(|()| OutboundError::Unreachable("no body".into()))?;
            loop {
                match stream.blocking_read(READ_CHUNK) {
                    Ok(chunk) => body.extend_from_slice(&chunk),
                    Err(StreamError::Closed) => break,
                    Err(StreamError::LastOperationFailed(err)) => {
                        return Err(
                            match crate::bindings::wasi::http::types::http_error_code(&err) {
                                Some(code) => failure(code),
                                // wasmtime hands a body's error over as text
                                // only; the host's cap says so in these words.
                                None if err
                                    .to_debug_string()
                                    .contains("body size exceeds limit") =>
                                {
                                    OutboundError::TooLarge
                                }
                                None => OutboundError::Unreachable(err.to_debug_string()),
                            },
                        );
                    }
                }
            }
        }
        let _ = IncomingBody::finish(incoming);
        Ok(Answer {
            status,
            headers,
            body,
        })
    }
}

/// `scheme`, `host[:port]` and `/path?query` of an absolute URL.
fn split_url(url: &str) -> Result<(Scheme, &str, String), OutboundError> {
    let bad = || OutboundError::BadUrl(format!("{url:?} is not http(s)://host[:port]/path"));
    let (scheme, rest) = url.split_once("://").ok_or_else(bad)?;
    let scheme = match scheme.to_ascii_lowercase().as_str() {
        "http" => Scheme::Http,
        "https" => Scheme::Https,
        _ => return Err(bad()),
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(bad());
    }
    let path = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}")
    };
    Ok((scheme, authority, path))
}

fn failure(code: ErrorCode) -> OutboundError {
    match code {
        ErrorCode::HttpRequestDenied | ErrorCode::DestinationIpProhibited => {
            OutboundError::Denied(format!("{code:?}"))
        }
        ErrorCode::HttpResponseBodySize(_) => OutboundError::TooLarge,
        ErrorCode::ConnectionTimeout
        | ErrorCode::ConnectionReadTimeout
        | ErrorCode::HttpResponseTimeout => OutboundError::Timeout,
        other => OutboundError::Unreachable(format!("{other:?}")),
    }
}
