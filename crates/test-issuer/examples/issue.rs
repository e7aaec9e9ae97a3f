//! Writes a signing key's JWKS and a token signed with it, for trying the
//! host's token check by hand or measuring it:
//!
//! ```sh
//! cargo run -p geofn-test-issuer --example issue -- DIR SUBJECT SCOPE [ISSUER [AUDIENCE]]
//! geofn dev --auth-jwks-file DIR/jwks.json ...
//! curl -H "Authorization: Bearer $(cat DIR/token)" ...
//! ```

use std::path::PathBuf;

use geofn_test_issuer::{SigningKey, claims, jwks};
use jsonwebtoken::Algorithm;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [dir, subject, scope, rest @ ..] = args.as_slice() else {
        eprintln!("usage: issue DIR SUBJECT SCOPE [ISSUER [AUDIENCE]]");
        std::process::exit(2);
    };
    let issuer = rest.first().map_or("https://issuer.test", String::as_str);
    let audience = rest.get(1).map_or("geofn", String::as_str);
    let dir = PathBuf::from(dir);
    std::fs::create_dir_all(&dir).expect("the output folder");
    let key = SigningKey::generate(Algorithm::RS256, "local-1");
    std::fs::write(dir.join("jwks.json"), jwks(&[&key])).expect("writing jwks.json");
    let token = key.sign(&claims(subject, scope, issuer, audience, 24 * 3600));
    std::fs::write(dir.join("token"), &token).expect("writing token");
    println!(
        "{}/jwks.json and {}/token (valid 24 h)",
        dir.display(),
        dir.display()
    );
}
