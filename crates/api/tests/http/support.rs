//! The HTTP tests' harness is the crate's own `testing` module (shared with
//! the binary's tests); `db_test!` names its per-backend macro for a
//! scenario that gets a [`TestApp`].

pub use recofinement_api::testing::*;

/// Declares a test that runs once per backend with a fresh [`TestApp`]:
/// `name::sqlite` and `name::postgres`.
#[macro_export]
macro_rules! db_test {
    ($name:ident, |$app:ident| $body:block) => {
        recofinement_store::backend_test!($name, |$app: $crate::support::TestApp| $body);
    };
}
