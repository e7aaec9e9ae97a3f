//! The standard `wasi:config/store` import: a guest reads the variables
//! its manifest declared, with the values this version was loaded with.
//! Reads never fail: the values were resolved, and a missing required one
//! refused, before the version could serve.

use crate::bindings::wasi::config::store;
use crate::guest::GuestState;

impl store::Host for GuestState {
    async fn get(&mut self, key: String) -> Result<Option<String>, store::Error> {
        Ok(self.variables.get(&key).map(str::to_owned))
    }

    async fn get_all(&mut self) -> Result<Vec<(String, String)>, store::Error> {
        Ok(self
            .variables
            .all()
            .map(|(name, value)| (name.to_owned(), value.to_owned()))
            .collect())
    }
}
