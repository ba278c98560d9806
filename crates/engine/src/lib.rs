//! Recommendation algorithms of RecoFinement on in-memory data.
//!
//! The crate is a pure library: no database, no async. The database runner
//! loads the catalogue and interactions, builds a [`Dataset`], calls one
//! engine module and writes the rows it returns. Every recommending engine
//! takes an optional subset of users so that a run limited to the users with
//! new events produces exactly the rows a full run would produce for them.
//!
//! Engines and their spec sections (`spec/engine.md`):
//! [`popularity`] (5.1), [`similarity`] (5.2), [`links`] (5.3),
//! [`from_profile`] (5.4), [`from_similar_content`] (5.5), [`als`] (5.6),
//! [`sandbox`] (8.2) and [`evaluate`] (11).

pub mod als;
#[cfg(target_arch = "x86_64")]
mod als_avx512;
pub mod benchdata;
pub mod cancel;
pub mod evaluate;
pub mod from_profile;
pub mod from_similar_content;
pub mod links;
mod model;
pub mod popularity;
pub mod sandbox;
mod simd;
pub mod similarity;
#[cfg(test)]
mod test_support;
pub mod text;
mod topk;

pub use cancel::{Cancel, Cancelled};
pub use model::{
    ContentKind, Dataset, EngineName, Group, Interaction, Item, ItemIndex, Recommendation,
    UserItemMatrix, interaction_preference,
};
