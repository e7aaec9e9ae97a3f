//! Fleet-wide handler deploys through PostgreSQL, the one durable thing
//! every replica already shares.
//!
//! A push stores a validated component as a new version and activates it
//! in one transaction, then `NOTIFY geofn_handlers`. Every replica
//! `LISTEN`s on a dedicated connection ([`listen`]), reconnecting after
//! database restarts and reconciling after every (re)connect, so one that
//! missed a notification still converges. Each replica loads the active
//! versions through the same reload path as file changes ([`crate::reload`]).
//!
//! Precedence: a handler stored in the database replaces the handler of the
//! same name in the handlers directory (the image's defaults); names only in
//! the database are added. `geofn dev` works the same way.
//!
//! - [`store`]: the versions table and its transactions.
//! - [`signed`]: signed notifications, which only a host can send.
//! - [`listen`]: the notification listener.
//! - [`overlay`]: the active stored handlers laid over a directory snapshot.

pub mod listen;
pub mod overlay;
pub mod signed;
pub mod store;
