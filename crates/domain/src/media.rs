//! Each media kind described once: its table and columns, JSON names,
//! title column, popular order, bad-recommendation categories, messages and
//! extras. The generic router and store read these descriptions; adding a
//! kind means adding one `MediaSpec`.

use crate::ContentKind;

/// How a media column is typed, checked and rendered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnType {
    /// Text of at most this many characters.
    Text(usize),
    Integer,
    /// Text holding a UUID (rendered lower-case).
    Uuid,
    /// Text that clients may also send as a number (`spotify_id`, AC-7).
    TextOrNumber(usize),
}

#[derive(Clone, Copy, Debug)]
pub struct Column {
    pub name: &'static str,
    pub ty: ColumnType,
    /// Holds a URL: only `http`/`https` schemes are accepted (AC-25).
    pub url: bool,
    /// Part of a submission (false for engine/dataset-only columns).
    pub submitted: bool,
}

/// Longest value accepted for an unbounded TEXT column (AC-24).
pub const LONG_TEXT: usize = 10_000;

const fn text(name: &'static str, max: usize) -> Column {
    Column {
        name,
        ty: ColumnType::Text(max),
        url: false,
        submitted: true,
    }
}
const fn url(name: &'static str, max: usize) -> Column {
    Column {
        name,
        ty: ColumnType::Text(max),
        url: true,
        submitted: true,
    }
}
const fn int(name: &'static str) -> Column {
    Column {
        name,
        ty: ColumnType::Integer,
        url: false,
        submitted: true,
    }
}

/// A text column of an item's "soup", the words content similarity compares
/// (spec engine §5.2).
#[derive(Clone, Copy, Debug)]
pub struct SoupColumn {
    pub name: &'static str,
    /// The column lists person or company names split by this character:
    /// each name is kept as one token, and only the first five (as the
    /// original did).
    pub names: Option<char>,
}

const fn words(name: &'static str) -> SoupColumn {
    SoupColumn { name, names: None }
}
const fn names(name: &'static str, separator: char) -> SoupColumn {
    SoupColumn {
        name,
        names: Some(separator),
    }
}

/// Which columns give a kind's "popular" order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PopularOrder {
    /// `content.rating_count`, then `content.rating`.
    Ratings,
    /// `content.popularity_score` (written by the engine).
    Popularity,
    /// `game.recommendations`.
    GameRecommendations,
}

/// Which item shape a list uses (spec §2 of the content API).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shape {
    Base,
    WithGenres,
}

/// How a kind's two public lists are ordered and shaped: the popular list
/// (`GET /api/{t}`) and search results.
#[derive(Clone, Copy, Debug)]
pub struct Lists {
    pub popular: PopularOrder,
    pub popular_shape: Shape,
    pub search_shape: Shape,
}

/// Movies and series: ranked by the engine's popularity score, listed with
/// their genres, found without them.
const SCREEN_LISTS: Lists = Lists {
    popular: PopularOrder::Popularity,
    popular_shape: Shape::WithGenres,
    search_shape: Shape::Base,
};

#[derive(Debug)]
pub struct MediaSpec {
    pub kind: ContentKind,
    /// Media table (also the lower-case name).
    pub table: &'static str,
    /// JSON alias of `content_id` (`app_id`…); books have none.
    pub alias: Option<&'static str>,
    /// Id name of a pending item (`app_id`, `book_id`…).
    pub pending_id: &'static str,
    pub columns: &'static [Column],
    pub lists: Lists,
    /// The soup's columns; the first is the title (see
    /// [`MediaSpec::title_column`]).
    pub soup: &'static [SoupColumn],
    /// Whether items carry genres at all (books do not).
    pub has_genres: bool,
    /// `GET /api/{t}/genres` exists; `Some(true)` when it needs `indicate_interest`.
    pub genres_route: Option<bool>,
    pub reasons: &'static [&'static str],
    /// Fields a submission must carry besides `genres`.
    pub required: &'static [&'static str],
    /// A column whose value must be unique among items and proposals.
    pub unique: Option<&'static str>,
    /// Capitalised name in messages (`Application`…).
    pub title: &'static str,
    /// Name in the pending-item messages (`series` for series).
    pub pending_name: &'static str,
    pub additional_list_message: &'static str,
    pub genres_message: &'static str,
}

impl MediaSpec {
    pub fn submitted_columns(&self) -> impl Iterator<Item = &Column> {
        self.columns.iter().filter(|c| c.submitted)
    }
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The title column (`name` for applications and games): what a search
    /// looks in, what cross-kind links compare and what the dashboard shows.
    /// Written once, as the soup's first column.
    pub fn title_column(&self) -> &'static str {
        self.soup[0].name
    }
}

pub const APPLICATION: MediaSpec = MediaSpec {
    kind: ContentKind::Application,
    table: "application",
    alias: Some("app_id"),
    pending_id: "app_id",
    columns: &[
        text("name", 255),
        text("size", 255),
        text("installs", 255),
        text("type", 45),
        text("price", 45),
        text("content_rating", 255),
        text("last_updated", 255),
        text("current_version", 255),
        text("android_version", 255),
        url("cover", LONG_TEXT),
    ],
    lists: Lists {
        popular: PopularOrder::Ratings,
        popular_shape: Shape::Base,
        search_shape: Shape::Base,
    },
    soup: &[words("name"), words("type"), words("content_rating")],
    has_genres: true,
    genres_route: Some(true),
    reasons: &["categorie"],
    required: &["name"],
    unique: Some("name"),
    title: "Application",
    pending_name: "application",
    additional_list_message: "Additional application data sent",
    genres_message: "Application genres data sent",
};

pub const BOOK: MediaSpec = MediaSpec {
    kind: ContentKind::Book,
    table: "book",
    alias: None,
    pending_id: "book_id",
    columns: &[
        text("isbn", 13),
        text("title", 255),
        text("author", 255),
        int("year_of_publication"),
        text("publisher", 255),
        url("image_url_s", LONG_TEXT),
        url("image_url_m", LONG_TEXT),
        url("image_url_l", LONG_TEXT),
    ],
    lists: Lists {
        popular: PopularOrder::Popularity,
        popular_shape: Shape::Base,
        search_shape: Shape::Base,
    },
    soup: &[
        words("title"),
        names("author", ','),
        names("publisher", ','),
    ],
    has_genres: false,
    genres_route: None,
    reasons: &["author", "publisher", "year_of_publication"],
    required: &["isbn", "title"],
    unique: Some("isbn"),
    title: "Book",
    pending_name: "book",
    additional_list_message: "Additional Book data sent",
    genres_message: "",
};

pub const GAME: MediaSpec = MediaSpec {
    kind: ContentKind::Game,
    table: "game",
    alias: Some("game_id"),
    pending_id: "game_id",
    columns: &[
        int("steamid"),
        text("name", 255),
        text("short_description", LONG_TEXT),
        url("header_image", 255),
        url("website", 255),
        text("developers", 255),
        text("publishers", 255),
        text("price", 255),
        Column {
            name: "recommendations",
            ty: ColumnType::Integer,
            url: false,
            submitted: false,
        },
        text("release_date", 255),
    ],
    lists: Lists {
        popular: PopularOrder::GameRecommendations,
        popular_shape: Shape::WithGenres,
        search_shape: Shape::Base,
    },
    soup: &[
        words("name"),
        words("short_description"),
        names("developers", ','),
        names("publishers", ','),
    ],
    has_genres: true,
    genres_route: Some(false),
    reasons: &["developers", "publishers", "genres", "release_date"],
    required: &["name", "steamid"],
    unique: None,
    title: "Game",
    pending_name: "game",
    additional_list_message: "Additional game data sent",
    genres_message: "Game genres data sent",
};

pub const MOVIE: MediaSpec = MediaSpec {
    kind: ContentKind::Movie,
    table: "movie",
    alias: Some("movie_id"),
    pending_id: "movie_id",
    columns: &[
        text("title", 255),
        text("language", 255),
        text("actors", LONG_TEXT),
        text("year", 255),
        text("producers", LONG_TEXT),
        text("director", LONG_TEXT),
        text("writer", LONG_TEXT),
        text("imdbid", 255),
        text("tmdbid", 255),
        url("cover", LONG_TEXT),
        text("plot_outline", LONG_TEXT),
    ],
    lists: SCREEN_LISTS,
    soup: &[
        words("title"),
        words("language"),
        names("actors", '|'),
        names("producers", '|'),
        names("director", ','),
        names("writer", ','),
        words("plot_outline"),
    ],
    has_genres: true,
    genres_route: Some(false),
    reasons: &[
        "actors",
        "year",
        "producers",
        "director",
        "genres",
        "writer",
    ],
    required: &["title"],
    unique: None,
    title: "Movie",
    pending_name: "movie",
    additional_list_message: "Additional movie data sent",
    genres_message: "Movie genres data sent",
};

pub const SERIE: MediaSpec = MediaSpec {
    kind: ContentKind::Serie,
    table: "serie",
    alias: Some("serie_id"),
    pending_id: "serie_id",
    columns: &[
        text("imdbid", 255),
        text("title", 255),
        int("start_year"),
        int("end_year"),
        text("writers", LONG_TEXT),
        text("directors", LONG_TEXT),
        text("actors", LONG_TEXT),
        url("cover", LONG_TEXT),
        text("plot_outline", LONG_TEXT),
    ],
    lists: SCREEN_LISTS,
    soup: &[
        words("title"),
        names("writers", ','),
        names("directors", ','),
        names("actors", '|'),
        words("plot_outline"),
    ],
    has_genres: true,
    genres_route: Some(false),
    reasons: &[
        "directors",
        "writers",
        "start_year",
        "end_year",
        "genres",
        "actors",
    ],
    required: &["title"],
    unique: None,
    title: "Serie",
    pending_name: "series",
    additional_list_message: "Additional series data sent",
    genres_message: "Serie genres data sent",
};

pub const TRACK: MediaSpec = MediaSpec {
    kind: ContentKind::Track,
    table: "track",
    alias: Some("track_id"),
    pending_id: "track_id",
    columns: &[
        text("title", 255),
        int("year"),
        text("artist_name", 255),
        text("release", 255),
        text("track_mmid", 45),
        Column {
            name: "recording_mbid",
            ty: ColumnType::Uuid,
            url: false,
            submitted: true,
        },
        Column {
            name: "spotify_id",
            ty: ColumnType::TextOrNumber(45),
            url: false,
            submitted: true,
        },
        url("covert_art_url", LONG_TEXT),
    ],
    lists: Lists {
        popular: PopularOrder::Ratings,
        popular_shape: Shape::WithGenres,
        search_shape: Shape::WithGenres,
    },
    soup: &[
        words("title"),
        words("year"),
        names("artist_name", ','),
        words("release"),
    ],
    has_genres: true,
    genres_route: Some(false),
    reasons: &["year", "artist_name", "release", "genres"],
    required: &["title"],
    unique: None,
    title: "Track",
    pending_name: "track",
    additional_list_message: "Additional track data sent",
    genres_message: "track genres data sent",
};

/// Episodes are content rows of their own, described the same way.
pub const EPISODE_COLUMNS: &[Column] = &[
    text("imdbid", 255),
    text("title", 512),
    int("year"),
    int("season_number"),
    int("episode_number"),
];

pub const ALL: [&MediaSpec; 6] = [&APPLICATION, &BOOK, &GAME, &MOVIE, &SERIE, &TRACK];

pub fn spec(kind: ContentKind) -> &'static MediaSpec {
    match kind {
        ContentKind::Application => &APPLICATION,
        ContentKind::Book => &BOOK,
        ContentKind::Game => &GAME,
        ContentKind::Movie => &MOVIE,
        ContentKind::Serie => &SERIE,
        ContentKind::Track => &TRACK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_spec_and_its_title_column() {
        for kind in ContentKind::ALL {
            let s = spec(kind);
            assert_eq!(s.kind, kind);
            assert_eq!(s.table, kind.as_str());
            assert!(s.column(s.title_column()).is_some());
            for r in s.required {
                assert!(s.column(r).is_some(), "{r}");
            }
        }
    }
}
