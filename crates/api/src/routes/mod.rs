//! One module per resource; each exposes `router()` returning its
//! documented routes.

pub mod audit;
pub mod auth;
pub mod engine_runs;
pub mod events;
pub mod external;
pub mod groups;
pub mod health;
pub mod items;
pub mod media;
pub mod people;
pub mod profiles;
pub mod proposal;
pub mod schema;
pub mod users;
