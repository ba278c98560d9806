//! `sqlx::migrate!` embeds the migration files when this crate compiles;
//! without this line a new migration alone would not rebuild the crate, and
//! binaries and tests would silently keep the old list.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
