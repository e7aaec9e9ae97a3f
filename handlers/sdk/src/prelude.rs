//! What most handlers use.

pub use crate::bindings::Guest;
pub use crate::error::{Error, IntoResponse, Json, Result};
pub use crate::http::Problem;
pub use crate::identity::Identity;
pub use crate::router::{Ctx, Router};
pub use crate::rows::{Point, Row, Rows};
pub use crate::wit::db::Value;
pub use crate::wit::{Request, Response};
