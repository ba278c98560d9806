//! The RecoFinement-Datasets CSV format (spec data-model §13.2), written
//! once and shared by `import` (store), `generate` and `export`.
//!
//! Owns the files, their columns and types ([`schema`]), where they sit in a
//! directory ([`layout`]), how a field is checked and converted ([`value`]),
//! and CSV reading ([`read`]) and writing ([`write`]) in PostgreSQL's CSV
//! rules through the `csv` crate's core: NULL is an empty unquoted field,
//! an empty text is `""`. Must not know SQL or a database: loading is
//! `recofinement_store::dataset`'s job.

pub mod layout;
pub mod read;
pub mod roles;
pub mod schema;
pub mod value;
pub mod write;

pub use layout::{DatasetFile, dataset_files, interaction_file_name, other_interaction_files};
pub use read::{CsvError, CsvReader};
pub use schema::{FieldType, FileColumn, FileSpec, INTERACTIONS_PREFIX, file_spec, file_specs};
pub use value::{Value, convert};
pub use write::CsvWriter;
