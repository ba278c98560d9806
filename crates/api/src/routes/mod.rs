//! One module per resource; each exposes `router()` returning its
//! documented routes.

pub mod auth;
pub mod events;
pub mod health;
pub mod media;
pub mod schema;
pub mod users;
