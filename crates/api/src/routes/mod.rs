//! One module per resource; each exposes `router()` returning its
//! documented routes.

pub mod auth;
pub mod health;
pub mod schema;
pub mod users;
