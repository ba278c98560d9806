//! The files of §13.2: name, target table, columns with their types, in
//! load order. The one description `import`, `generate` and `export` use.

use recofinement_domain::ContentKind;
use recofinement_domain::media::{self, Column, ColumnType, EPISODE_COLUMNS, LONG_TEXT};

/// How a file column is checked and converted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FieldType {
    /// Integer (`BIGINT`).
    Integer,
    /// Number with a fraction allowed, rounded half away from zero (DM-10).
    RoundedInteger,
    /// Rating: a number rounded to an integer in 0..=5.
    Rating,
    Float,
    /// Text of at most this many characters (`None`: unbounded).
    Text(Option<usize>),
    /// A UUID, stored as lower-case hyphenated text.
    Uuid,
    /// An e-mail address, stored trimmed and lower-cased.
    Email,
    /// A content-type label (`MOVIE`…).
    ContentType,
}

#[derive(Clone, Debug)]
pub struct FileColumn {
    pub name: &'static str,
    pub ty: FieldType,
    pub required: bool,
}

/// One row of the table of §13.2.
#[derive(Clone, Debug)]
pub struct FileSpec {
    /// File name; for the interactions, the prefix of `meta_user_content*.csv`.
    pub file: &'static str,
    /// The table the file fills, as written in SQL (quoted when reserved).
    pub table: &'static str,
    pub columns: Vec<FileColumn>,
    /// The `content.content_type` label of the ids this file holds.
    pub content_type: Option<&'static str>,
    /// Serial id column whose sequence must move past the largest id.
    pub serial: Option<&'static str>,
    /// Columns that tell whose row a serial id is (a user's uuid, a
    /// genre's name and kind): a database row under the same id with other
    /// values is someone else's, and loading the file beside it would give
    /// that row the file's dependent rows (ratings, links).
    pub identity: &'static [&'static str],
}

impl FileSpec {
    /// The header line's names, in file order.
    pub fn header(&self) -> Vec<&'static str> {
        self.columns.iter().map(|c| c.name).collect()
    }

    /// Whether this is the spec of the (numbered) interaction files.
    pub fn is_interactions(&self) -> bool {
        self.file == INTERACTIONS_PREFIX
    }
}

/// Prefix of the interaction files (`meta_user_content_1.csv` …).
pub const INTERACTIONS_PREFIX: &str = "meta_user_content";

fn col(name: &'static str, ty: FieldType, required: bool) -> FileColumn {
    FileColumn { name, ty, required }
}

fn id(name: &'static str) -> FileColumn {
    col(name, FieldType::Integer, true)
}

fn text(name: &'static str, max: usize, required: bool) -> FileColumn {
    col(name, FieldType::Text(Some(max)), required)
}

/// A media column as the domain describes it (one description per kind).
fn media_column(column: &Column, required: bool) -> FileColumn {
    let ty = match column.ty {
        // LONG_TEXT is the API's bound of an unbounded TEXT column.
        ColumnType::Text(max) | ColumnType::TextOrNumber(max) if max >= LONG_TEXT => {
            FieldType::Text(None)
        }
        ColumnType::Text(max) | ColumnType::TextOrNumber(max) => FieldType::Text(Some(max)),
        ColumnType::Integer => FieldType::Integer,
        ColumnType::Uuid => FieldType::Uuid,
    };
    col(column.name, ty, required)
}

fn media_file(kind: ContentKind, file: &'static str) -> FileSpec {
    let spec = media::spec(kind);
    let mut columns = vec![id("content_id")];
    for column in spec.columns {
        // book.isbn is the one NOT NULL media column.
        let required = kind == ContentKind::Book && column.name == "isbn";
        columns.push(media_column(column, required));
    }
    FileSpec {
        file,
        table: spec.table,
        columns,
        content_type: Some(kind.label()),
        serial: None,
        identity: &[],
    }
}

fn episode_column(name: &'static str) -> FileColumn {
    let column = EPISODE_COLUMNS
        .iter()
        .find(|c| c.name == name)
        .expect("episode column");
    media_column(column, false)
}

/// The media file of a kind (`movie.csv`, `books.csv`, …).
pub fn media_file_name(kind: ContentKind) -> &'static str {
    match kind {
        ContentKind::Application => "application.csv",
        ContentKind::Book => "books.csv",
        ContentKind::Game => "games.csv",
        ContentKind::Movie => "movie.csv",
        ContentKind::Track => "track.csv",
        ContentKind::Serie => "serie.csv",
    }
}

/// The media kinds in the spec's load order (tracks before series, whose
/// episodes follow).
pub const MEDIA_LOAD_ORDER: [ContentKind; 6] = [
    ContentKind::Application,
    ContentKind::Book,
    ContentKind::Game,
    ContentKind::Movie,
    ContentKind::Track,
    ContentKind::Serie,
];

/// The files of §13.2, in load order.
pub fn file_specs() -> Vec<FileSpec> {
    use FieldType::*;
    let mut specs = vec![
        FileSpec {
            file: "genres.csv",
            table: "genre",
            columns: vec![
                id("genre_id"),
                text("name", 45, true),
                col("count", Integer, false),
                col("content_type", ContentType, false),
            ],
            content_type: None,
            serial: Some("genre_id"),
            identity: &["name", "content_type"],
        },
        FileSpec {
            file: "content.csv",
            table: "content",
            columns: vec![
                id("content_id"),
                col("rating", Float, false),
                col("rating_count", Integer, false),
            ],
            content_type: None,
            serial: Some("content_id"),
            identity: &[],
        },
    ];
    specs.extend(
        MEDIA_LOAD_ORDER
            .iter()
            .map(|&kind| media_file(kind, media_file_name(kind))),
    );
    specs.extend([
        FileSpec {
            file: "episode.csv",
            table: "episode",
            columns: vec![
                id("content_id"),
                episode_column("imdbid"),
                episode_column("title"),
                episode_column("year"),
                col("serie_id", Integer, false),
                episode_column("season_number"),
                episode_column("episode_number"),
            ],
            content_type: Some("EPISODE"),
            serial: None,
            identity: &[],
        },
        FileSpec {
            file: "user.csv",
            table: "\"user\"",
            columns: vec![
                id("user_id"),
                col("uuid", Uuid, true),
                col("email", Email, false),
                text("username", 45, true),
                text("password_hash", 255, true),
            ],
            content_type: None,
            serial: Some("user_id"),
            identity: &["uuid"],
        },
        FileSpec {
            file: "content_genres.csv",
            table: "content_genres",
            columns: vec![id("content_id"), id("genre_id")],
            content_type: None,
            serial: None,
            identity: &[],
        },
        FileSpec {
            file: INTERACTIONS_PREFIX,
            table: "meta_user_content",
            columns: vec![
                id("content_id"),
                id("user_id"),
                col("rating", Rating, false),
                col("count", RoundedInteger, false),
            ],
            content_type: None,
            serial: None,
            identity: &[],
        },
        FileSpec {
            file: "role.csv",
            table: "role",
            columns: vec![id("role_id"), text("name", 45, false)],
            content_type: None,
            serial: Some("role_id"),
            identity: &["name"],
        },
        FileSpec {
            file: "permission.csv",
            table: "permission",
            columns: vec![text("permission", 45, true)],
            content_type: None,
            serial: None,
            identity: &[],
        },
        FileSpec {
            file: "role_permission.csv",
            table: "role_permission",
            columns: vec![id("role_id"), text("permission", 45, true)],
            content_type: None,
            serial: None,
            identity: &[],
        },
    ]);
    specs
}

/// The spec of `file` (`"movie.csv"`, or [`INTERACTIONS_PREFIX`]).
pub fn file_spec(file: &str) -> Option<FileSpec> {
    file_specs().into_iter().find(|spec| spec.file == file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_follow_the_spec_order() {
        let files: Vec<_> = file_specs().iter().map(|f| f.file).collect();
        assert_eq!(files[0], "genres.csv");
        assert_eq!(files[2], "application.csv");
        assert_eq!(files[6], "track.csv");
        assert_eq!(files[7], "serie.csv");
        assert_eq!(files[8], "episode.csv");
        assert_eq!(files[11], INTERACTIONS_PREFIX);
        assert_eq!(files.len(), 15);
        let movie = file_spec("movie.csv").unwrap();
        assert_eq!(movie.columns.len(), 12);
        assert_eq!(movie.columns[11].name, "plot_outline");
    }
}
