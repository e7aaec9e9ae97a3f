//! The host side of a guest's `db.transaction` resource.

/// A guest's open transaction: a handle only. The transaction itself lives
/// in the request's database session, one at a time, so this carries
/// nothing; the resource table tracks which handles the guest holds.
pub struct Transaction;
