//! The library half of the `recofinement` binary: tooling that tests use
//! directly (the dataset generator).

pub mod backup;
pub mod engine_runner;
pub mod generate;
pub mod run_history;
pub mod secrets;
