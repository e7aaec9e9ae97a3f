//! The points API under either of its handlers, the Rust `points`
//! component or the Python one: a host serving the chosen one, and each
//! scenario written once and run as a test against both.

use serde_json::Value;

use super::{Host, TestDb, client, shipped_handlers, shipped_with_python_points};

/// Which points handler serves the routes.
#[derive(Debug, Clone, Copy)]
pub enum Points {
    Rust,
    Python,
}

/// One Python compile at a time: the first host compiles the 18 MB
/// component into the suite's shared cache, the others wait for it.
pub static PYTHON_COMPILE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// A database and a host serving the chosen points handler; the handlers
/// directory (for Python, a copy) lives as long as the host.
pub async fn start(points: Points) -> (TestDb, Host, Option<tempfile::TempDir>) {
    let db = TestDb::start();
    match points {
        Points::Rust => {
            let host = Host::serve(&db, &shipped_handlers(), &[]).await;
            (db, host, None)
        }
        Points::Python => {
            let handlers = shipped_with_python_points();
            // The first host compiles the 18 MB component into the suite's
            // shared cache; the others wait for it rather than compile it
            // again all at once.
            let _one_compile = PYTHON_COMPILE.lock().await;
            let host = Host::serve(&db, handlers.path(), &[]).await;
            (db, host, Some(handlers))
        }
    }
}

/// Each scenario as two tests, `rust::NAME` and `python::NAME`.
#[allow(unused_macros)]
macro_rules! for_both_handlers {
    ($($scenario:ident),* $(,)?) => {
        mod rust {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    super::$scenario(super::Points::Rust).await;
                }
            )*
        }
        mod python {
            $(
                #[tokio::test(flavor = "multi_thread")]
                async fn $scenario() {
                    super::$scenario(super::Points::Python).await;
                }
            )*
        }
    };
}
// Unused in the test files that do not run scenarios against both.
#[allow(unused_imports)]
pub(crate) use for_both_handlers;

/// `POST /point` with `body` as JSON.
pub async fn post_point(host: &Host, body: Value) -> reqwest::Response {
    client()
        .post(host.url("/point"))
        .json(&body)
        .send()
        .await
        .unwrap()
}
