//! HTTP tests: each starts the real router on port 0 with a fresh database.
//! Every test runs on SQLite, and again on PostgreSQL when
//! `TEST_DATABASE_URL` names a PostgreSQL server (one fresh schema per test).

mod support;

mod admin;
mod audit;
mod auth;
mod bad_input;
mod content;
mod conventions;
mod external;
mod freshness;
mod groups;
mod links;
mod logs;
mod people;
mod profiles;
mod slow_clients;
mod users;
