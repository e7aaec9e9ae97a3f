//! Nothing: this crate only names upstream wasmtime for the audit.
