//! Types every layer shares. No I/O.

pub mod kind;
pub mod media;
pub mod permission;
pub mod validate;

pub use kind::ContentKind;
pub use permission::Permission;
