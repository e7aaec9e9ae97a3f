//! A guest's response: whatever a (buggy or hostile) handler returns must
//! become a valid HTTP response or a refusal, never a panic.
#![no_main]

use arbitrary::Arbitrary;
use geofn_runtime::bindings::Response;
use geofn_http::convert::http_response;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    head: bool,
}

fuzz_target!(|input: Input| {
    let response = Response {
        status: input.status,
        headers: input.headers,
        body: input.body,
    };
    if let Ok(out) = http_response(response, input.head) {
        assert!((100..600).contains(&out.status().as_u16()));
        assert!(!out.headers().contains_key("content-length"));
    }
});
