//! A registry token server, as Docker Hub's or Harbor's: a client the
//! registry sent away with `WWW-Authenticate: Bearer realm=…` asks the
//! realm, with basic auth, for a token for `scope=repository:NAME:pull,…`;
//! the answer is a JWT (ES256, its certificate chain in `x5c`) the
//! registry checks against the root it was given.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::json;

/// The `service` the registry and its tokens name.
pub const SERVICE: &str = "geofn-test-registry";
/// The `iss` of its tokens.
pub const ISSUER: &str = "geofn-test-token-server";

/// A token server on loopback, answering until the process ends.
pub struct TokenServer {
    port: u16,
    root_bundle: PathBuf,
    issued: Arc<AtomicUsize>,
    refused: Arc<AtomicUsize>,
}

impl TokenServer {
    /// Starts it, writing its root certificate into `dir`; `user` with
    /// `password` gets tokens, nobody else.
    pub fn start(dir: &Path, user: &str, password: &str) -> Self {
        let (root_pem, leaf_der, key_pem) = signing_chain();
        let root_bundle = dir.join("token-root.pem");
        std::fs::write(&root_bundle, root_pem).unwrap();
        let mut header = Header::new(Algorithm::ES256);
        header.x5c = Some(vec![
            base64::engine::general_purpose::STANDARD.encode(leaf_der),
        ]);
        let key = EncodingKey::from_ec_pem(key_pem.as_bytes()).unwrap();
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        );
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (issued, refused): (Arc<AtomicUsize>, Arc<AtomicUsize>) =
            (Arc::default(), Arc::default());
        let counts = (Arc::clone(&issued), Arc::clone(&refused));
        let user = user.to_owned();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let granted = answer(stream, &expected, &user, &header, &key);
                let count = if granted { &counts.0 } else { &counts.1 };
                count.fetch_add(1, Ordering::Relaxed);
            }
        });
        Self {
            port,
            root_bundle,
            issued,
            refused,
        }
    }

    /// Where tokens are asked for.
    pub fn realm(&self) -> String {
        format!("http://127.0.0.1:{}/token", self.port)
    }

    /// The root certificate the registry trusts tokens by.
    pub fn root_bundle(&self) -> &Path {
        &self.root_bundle
    }

    /// Tokens given so far.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::Relaxed)
    }

    /// Requests refused so far (no or wrong credentials).
    pub fn refused(&self) -> usize {
        self.refused.load(Ordering::Relaxed)
    }
}

/// Answers one request; whether a token was given.
fn answer(
    stream: TcpStream,
    expected: &str,
    user: &str,
    header: &Header,
    key: &EncodingKey,
) -> bool {
    let mut reader = BufReader::new(&stream);
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return false;
    }
    let mut authorized = false;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':')
            && name.eq_ignore_ascii_case("authorization")
            && value.trim() == expected
        {
            authorized = true;
        }
    }
    let mut stream = &stream;
    if !authorized {
        let _ = stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"tokens\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
        return false;
    }
    let target = request_line.split_whitespace().nth(1).unwrap_or_default();
    let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
    let access: Vec<_> = query
        .split('&')
        .filter_map(|pair| pair.strip_prefix("scope="))
        .map(percent_decode)
        .filter_map(|scope| {
            let mut parts = scope.splitn(3, ':');
            let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
            Some(json!({ "type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>() }))
        })
        .collect();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = json!({
        "iss": ISSUER, "sub": user, "aud": SERVICE,
        "iat": now, "nbf": now - 10, "exp": now + 300, "jti": format!("{now}-{}", access.len()),
        "access": access,
    });
    let token = encode(header, &claims, key).unwrap();
    let body = json!({ "token": token, "access_token": token, "expires_in": 300 }).to_string();
    let _ = write!(
        stream,
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    );
    true
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            byte => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// A root certificate (PEM), a leaf it signed (DER) and the leaf's key
/// (PKCS#8 PEM): the chain a token carries in `x5c`.
fn signing_chain() -> (String, Vec<u8>, String) {
    let (root, issuer) = crate::test_ca("geofn token root");
    let leaf_key = rcgen::KeyPair::generate().unwrap();
    let mut leaf_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    leaf_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "geofn token signer");
    let leaf = leaf_params.signed_by(&leaf_key, &issuer).unwrap();
    (root, leaf.der().to_vec(), leaf_key.serialize_pem())
}
