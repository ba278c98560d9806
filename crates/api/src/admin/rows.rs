//! The dashboard's JSON rows: what `store::overview` and the stored
//! evaluations hold, with times and JSON columns in the API's formats.

use serde::Serialize;
use utoipa::ToSchema;

use recofinement_store::engine_runs as runs;
use recofinement_store::overview as stored;

use crate::routes::schema::wire;
use crate::timefmt::{format, format_option, json_text};

/// Sizes of the catalogue and of the audience.
#[derive(Serialize, ToSchema)]
pub struct Counts {
    /// Items per kind label (`MOVIE`…, `EPISODE` included).
    pub items: Vec<KindCount>,
    pub users: i64,
    pub groups: i64,
    pub interactions: i64,
    pub events: i64,
}

impl From<stored::Counts> for Counts {
    fn from(counts: stored::Counts) -> Self {
        Counts {
            items: wire(counts.items),
            users: counts.users,
            groups: counts.groups,
            interactions: counts.interactions,
            events: counts.events,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct KindCount {
    pub kind: String,
    pub count: i64,
}

impl From<stored::KindCount> for KindCount {
    fn from(row: stored::KindCount) -> Self {
        KindCount {
            kind: row.kind,
            count: row.count,
        }
    }
}

/// Events of one hour (`YYYY-MM-DD HH:00:00`, UTC).
#[derive(Serialize, ToSchema)]
pub struct HourCount {
    pub hour: String,
    pub count: i64,
}

impl From<stored::HourCount> for HourCount {
    fn from(row: stored::HourCount) -> Self {
        HourCount {
            hour: row.hour,
            count: row.count,
        }
    }
}

/// One recommendation row as the engine wrote it.
#[derive(Serialize, ToSchema)]
pub struct RecommendationRow {
    pub content_id: i64,
    pub kind: Option<String>,
    pub title: Option<String>,
    pub score: Option<f64>,
    pub engine: Option<String>,
    pub engine_priority: Option<i64>,
    pub reason: Option<String>,
}

impl From<stored::RecommendationRow> for RecommendationRow {
    fn from(row: stored::RecommendationRow) -> Self {
        RecommendationRow {
            content_id: row.content_id,
            kind: row.kind,
            title: row.title,
            score: row.score,
            engine: row.engine,
            engine_priority: row.engine_priority,
            reason: row.reason,
        }
    }
}

/// One interaction of a user with an item.
#[derive(Serialize, ToSchema)]
pub struct InteractionRow {
    pub content_id: i64,
    pub kind: Option<String>,
    pub title: Option<String>,
    pub rating: Option<i64>,
    pub views: Option<i64>,
    pub count: Option<i64>,
    pub last_at: Option<String>,
}

impl From<stored::InteractionRow> for InteractionRow {
    fn from(row: stored::InteractionRow) -> Self {
        InteractionRow {
            content_id: row.content_id,
            kind: row.kind,
            title: row.title,
            rating: row.rating,
            views: row.views,
            count: row.count,
            last_at: format_option(row.last_at),
        }
    }
}

/// A user worth looking up.
#[derive(Serialize, ToSchema)]
pub struct SampleUser {
    pub uuid: String,
    pub username: String,
}

impl From<stored::SampleUser> for SampleUser {
    fn from(row: stored::SampleUser) -> Self {
        SampleUser {
            uuid: row.uuid,
            username: row.username,
        }
    }
}

/// A stored offline evaluation.
#[derive(Serialize, ToSchema)]
pub struct StoredEvaluation {
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

impl From<runs::StoredEvaluation> for StoredEvaluation {
    fn from(row: runs::StoredEvaluation) -> Self {
        StoredEvaluation {
            id: row.id,
            created_at: format(&row.created_at),
            seed: row.seed,
            scale: row.scale,
            parameters: json_text(row.parameters),
            report: json_text(row.report),
        }
    }
}
