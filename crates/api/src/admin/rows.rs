//! The dashboard's JSON rows: what `store::overview` and the stored
//! evaluations hold, with times and JSON columns in the API's formats.

use recofinement_store::engine_runs as runs;
use recofinement_store::overview as stored;

use crate::wire_row;

wire_row! {
    /// Sizes of the catalogue and of the audience.
    pub struct Counts from stored::Counts {
        /// Items per kind label (`MOVIE`…, `EPISODE` included).
        pub items: Vec<KindCount>,
        pub users: i64,
        pub groups: i64,
        pub interactions: i64,
        pub events: i64,
    }
}

wire_row! {
    pub struct KindCount from stored::KindCount {
        pub kind: String,
        pub count: i64,
    }
}

wire_row! {
    /// Events of one hour (`YYYY-MM-DD HH:00:00`, UTC).
    pub struct HourCount from stored::HourCount {
        pub hour: String,
        pub count: i64,
    }
}

wire_row! {
    /// The item a row is about; its fields stand in the row itself.
    pub struct ItemRef from stored::ItemRef {
        pub content_id: i64,
        pub kind: Option<String>,
        pub title: Option<String>,
    }
}

wire_row! {
    /// One recommendation row as the engine wrote it.
    pub struct RecommendationRow from stored::RecommendationRow {
        #[serde(flatten)]
        pub item: ItemRef,
        pub score: Option<f64>,
        pub engine: Option<String>,
        pub engine_priority: Option<i64>,
        pub reason: Option<String>,
    }
}

wire_row! {
    /// One interaction of a user with an item.
    pub struct InteractionRow from stored::InteractionRow {
        #[serde(flatten)]
        pub item: ItemRef,
        pub rating: Option<i64>,
        pub views: Option<i64>,
        pub count: Option<i64>,
        pub last_at: Option<String>,
    }
}

wire_row! {
    /// A user worth looking up.
    pub struct SampleUser from stored::SampleUser {
        pub uuid: String,
        pub username: String,
    }
}

wire_row! {
    /// A stored offline evaluation.
    pub struct StoredEvaluation from runs::StoredEvaluation {
        pub id: i64,
        pub created_at: String,
        pub seed: i64,
        pub scale: String,
        /// The engine parameters of the evaluation.
        #[schema(value_type = Option<Object>)]
        pub parameters: Option<serde_json::Value>,
        /// The evaluation report: metrics per engine and baseline.
        #[schema(value_type = Option<Object>)]
        pub report: Option<serde_json::Value>,
    }
}
