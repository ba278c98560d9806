//! The library half of the `recofinement` binary: the engine runner and
//! scheduler that feed `recofinement-engine` from the database, key
//! handling, backups and the dataset generator, kept here so that tests can
//! call them directly.
//!
//! Owns the wiring and the tooling; must not hold rules the API needs (they
//! belong to `api` or `store`) nor SQL (it calls `store`).

pub mod backup;
pub mod engine_runner;
pub mod generate;
pub mod peak_memory;
pub mod run_history;
pub mod scheduler;
pub mod secrets;
