//! Types every layer shares: the six media kinds and their description
//! (`media::MediaSpec`: columns, search field, popular order, messages),
//! permissions and roles, pagination, the field rules of requests, and how
//! a time is written (as the original wrote it).
//!
//! Owns the vocabulary; must not do I/O or depend on another crate of the
//! workspace (every other crate depends on it).

pub mod engine_name;
pub mod kind;
pub mod media;
pub mod page;
pub mod permission;
pub mod service;
pub mod time;
pub mod validate;

pub use engine_name::EngineName;
pub use kind::ContentKind;
pub use page::{Listing, Page};
pub use permission::Permission;
pub use service::Service;
