//! An HTTP request as clients can send it, turned into the guest's view:
//! any method, URI, header bytes and body must convert without panicking,
//! and what the guest gets must match what came in.
#![no_main]

use arbitrary::Arbitrary;
use geofn_http::convert::guest_request;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    method: Vec<u8>,
    uri: Vec<u8>,
    headers: Vec<(Vec<u8>, Vec<u8>)>,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let mut builder = http::Request::builder();
    if let Ok(method) = http::Method::from_bytes(&input.method) {
        builder = builder.method(method);
    }
    if let Ok(uri) = http::Uri::try_from(input.uri.as_slice()) {
        builder = builder.uri(uri);
    }
    for (name, value) in &input.headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name),
            http::HeaderValue::from_bytes(value),
        ) {
            builder = builder.header(name, value);
        }
    }
    let Ok(request) = builder.body(()) else {
        return;
    };
    let (parts, ()) = request.into_parts();
    let guest = guest_request(&parts, &input.body);
    assert_eq!(guest.method, parts.method.as_str());
    assert_eq!(guest.path, parts.uri.path());
    assert_eq!(guest.headers.len(), parts.headers.len());
    assert_eq!(guest.body, input.body);
});
