//! Synthetic datasets in the RecoFinement-Datasets CSV layout (spec
//! data-model §13.2), shaped like the real thing: items over the six kinds
//! (series with episodes), Zipf-like item popularity, users with two or
//! three favourite genres that drive most of their interactions, ratings
//! skewed high with some consumption-only rows, and titles made of words
//! from a built-in list (each genre with its own vocabulary) so that search
//! and TF-IDF have something to work with.
//!
//! Deterministic: one ChaCha8 stream seeded from `seed`, consumed in a fixed
//! order, so the same options give byte-identical files.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use recofinement_domain::ContentKind;
use recofinement_domain::permission::Permission;

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenerateOptions {
    pub users: usize,
    /// Items of the six kinds (episodes come on top).
    pub items: usize,
    /// Interactions wanted; a user never interacts twice with one item, so
    /// tiny catalogues may get fewer.
    pub interactions: usize,
    pub seed: u64,
}

/// What was written.
#[derive(Clone, Debug, Default)]
pub struct GenerateSummary {
    /// File name and data rows, in load order.
    pub files: Vec<(String, u64)>,
    pub users: usize,
    pub items: usize,
    pub episodes: usize,
    pub interactions: usize,
}

#[rustfmt::skip]
const ADJECTIVES: &[&str] = &[
    "silent", "golden", "broken", "hidden", "last", "crimson", "frozen", "wild", "secret",
    "burning", "lost", "electric", "midnight", "hollow", "bright", "dark", "ancient", "little",
    "endless", "quiet", "savage", "velvet", "iron", "paper", "glass", "lonely", "final",
    "rising", "fallen", "sacred", "restless", "distant", "brave", "cold", "scarlet", "emerald",
    "northern", "sleepless", "wandering", "infinite", "gentle", "bitter", "hungry", "lucky",
    "stolen", "forgotten", "shining", "twisted", "royal", "atomic",
];

#[rustfmt::skip]
const NOUNS: &[&str] = &[
    "river", "kingdom", "shadow", "garden", "storm", "empire", "heart", "machine", "city",
    "dream", "ocean", "mountain", "forest", "island", "star", "planet", "galaxy", "robot",
    "detective", "murder", "killer", "secret", "love", "wedding", "summer", "winter", "road",
    "journey", "war", "soldier", "battle", "dragon", "wizard", "castle", "sword", "ghost",
    "house", "night", "blood", "zombie", "family", "school", "friend", "game", "race", "car",
    "ball", "team", "champion", "puzzle", "block", "farm", "train", "plane", "ship", "money",
    "bank", "market", "budget", "photo", "camera", "music", "song", "guitar", "piano", "dance",
    "beat", "rhythm", "voice", "radio", "weather", "cloud", "rain", "sun", "moon", "map",
    "travel", "hotel", "health", "fitness", "runner", "doctor", "lesson", "teacher", "word",
    "book", "letter", "chat", "message", "note", "task", "calendar", "clock", "tool", "key",
    "lock", "code", "hero", "villain", "spy", "mission", "cowboy", "desert", "horse",
    "sheriff", "queen", "king", "prince", "witch", "legend", "history", "empress",
    "revolution", "truth", "story", "island", "harbor", "lighthouse", "engine", "signal",
];

#[rustfmt::skip]
const FIRST_NAMES: &[&str] = &[
    "Alice", "Bruno", "Chloe", "David", "Emma", "Felix", "Grace", "Hugo", "Iris", "Jonas",
    "Karin", "Louis", "Maya", "Nina", "Oscar", "Paula", "Quentin", "Rosa", "Samuel", "Tessa",
    "Ulysse", "Vera", "William", "Xavier", "Yasmine", "Zoe", "Arthur", "Bianca", "Cedric",
    "Diane", "Elias", "Fanny", "Gabriel", "Helena", "Ivan", "Julia", "Kevin", "Lea", "Marc",
    "Noemie",
];

#[rustfmt::skip]
const LAST_NAMES: &[&str] = &[
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy",
    "Moreau", "Simon", "Laurent", "Lefebvre", "Michel", "Garcia", "David", "Bertrand", "Roux",
    "Vincent", "Fournier", "Morel", "Girard", "Andre", "Mercier", "Dupont", "Lambert",
    "Bonnet", "Francois", "Martinez", "Legrand", "Garnier", "Faure", "Rousseau", "Blanc",
    "Guerin", "Muller", "Henry", "Roussel", "Nicolas", "Perrin",
];

const LANGUAGES: &[&str] = &[
    "English", "French", "Spanish", "German", "Italian", "Japanese",
];

/// Genres per kind (books have none, as in the datasets).
fn genre_names(kind: ContentKind) -> &'static [&'static str] {
    match kind {
        ContentKind::Application => &[
            "Tools",
            "Communication",
            "Productivity",
            "Photography",
            "Education",
            "Finance",
            "Health & Fitness",
            "Travel & Local",
            "Entertainment",
            "Music & Audio",
            "Social",
            "Weather",
        ],
        ContentKind::Book => &[],
        ContentKind::Game => &[
            "Action",
            "Adventure",
            "RPG",
            "Strategy",
            "Simulation",
            "Indie",
            "Casual",
            "Racing",
            "Sports",
            "Puzzle",
        ],
        ContentKind::Movie => &[
            "Drama",
            "Comedy",
            "Thriller",
            "Action",
            "Romance",
            "Horror",
            "Science Fiction",
            "Animation",
            "Documentary",
            "Crime",
            "Fantasy",
            "Western",
        ],
        ContentKind::Serie => &[
            "Drama",
            "Comedy",
            "Crime",
            "Mystery",
            "Sci-Fi",
            "Animation",
            "Reality-TV",
            "Documentary",
            "Fantasy",
            "History",
        ],
        ContentKind::Track => &[
            "Rock",
            "Pop",
            "Jazz",
            "Electronic",
            "Hip-Hop",
            "Classical",
            "Folk",
            "Metal",
            "Blues",
            "Reggae",
            "Country",
            "Soul",
        ],
    }
}

/// Share of the items per kind, in `ContentKind::ALL` order.
const KIND_SHARES: [f64; 6] = [0.12, 0.20, 0.12, 0.24, 0.08, 0.24];

/// A CSV file written with PostgreSQL's quoting: NULL is an empty unquoted
/// field, the empty string is `""`.
struct CsvOut {
    out: BufWriter<File>,
    first: bool,
    rows: u64,
    error: Option<io::Error>,
    scratch: String,
}

impl CsvOut {
    fn create(dir: &Path, name: &str, header: &[&str]) -> io::Result<Self> {
        let mut out = BufWriter::with_capacity(1 << 16, File::create(dir.join(name))?);
        out.write_all(header.join(",").as_bytes())?;
        out.write_all(b"\n")?;
        Ok(CsvOut {
            out,
            first: true,
            rows: 0,
            error: None,
            scratch: String::new(),
        })
    }

    fn put(&mut self, bytes: &[u8]) {
        if self.error.is_none()
            && let Err(e) = self.out.write_all(bytes)
        {
            self.error = Some(e);
        }
    }

    fn separator(&mut self) {
        if !self.first {
            self.put(b",");
        }
        self.first = false;
    }

    fn null(&mut self) -> &mut Self {
        self.separator();
        self
    }

    fn text(&mut self, value: &str) -> &mut Self {
        self.separator();
        if value.is_empty() || value.contains([',', '"', '\n', '\r']) {
            let quoted = format!("\"{}\"", value.replace('"', "\"\""));
            self.put(quoted.as_bytes());
        } else {
            self.put(value.as_bytes());
        }
        self
    }

    fn opt_text(&mut self, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.text(v),
            None => self.null(),
        }
    }

    fn int(&mut self, value: i64) -> &mut Self {
        self.separator();
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        let _ = write!(scratch, "{value}");
        self.put(scratch.as_bytes());
        self.scratch = scratch;
        self
    }

    fn opt_int(&mut self, value: Option<i64>) -> &mut Self {
        match value {
            Some(v) => self.int(v),
            None => self.null(),
        }
    }

    fn end(&mut self) {
        self.put(b"\n");
        self.first = true;
        self.rows += 1;
    }

    fn finish(mut self) -> io::Result<u64> {
        if let Some(e) = self.error.take() {
            return Err(e);
        }
        self.out.flush()?;
        Ok(self.rows)
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// Samples an index from cumulative weights.
fn sample(rng: &mut ChaCha8Rng, cumulative: &[f64]) -> usize {
    let total = *cumulative.last().expect("weights");
    let x = rng.random::<f64>() * total;
    cumulative
        .partition_point(|&c| c <= x)
        .min(cumulative.len() - 1)
}

fn cumulate(weights: impl Iterator<Item = f64>) -> Vec<f64> {
    let mut sum = 0.0;
    weights
        .map(|w| {
            sum += w;
            sum
        })
        .collect()
}

/// A roughly normal number of mean 0 and standard deviation 1.
fn normal(rng: &mut ChaCha8Rng) -> f64 {
    (0..4).map(|_| rng.random::<f64>()).sum::<f64>() * 1.732 - 3.464
}

struct Genre {
    id: i64,
    kind: ContentKind,
    name: &'static str,
    /// Themed words used in the titles and plots of its items.
    vocabulary: Vec<&'static str>,
    /// Indices (into `items`) of its items.
    items: Vec<usize>,
    cumulative: Vec<f64>,
}

struct Item {
    content_id: i64,
    kind: ContentKind,
    genres: Vec<usize>,
    weight: f64,
    /// Item quality: shifts its ratings.
    quality: f64,
    rating_sum: i64,
    rating_count: i64,
}

struct Words<'a> {
    rng: &'a mut ChaCha8Rng,
}

impl Words<'_> {
    fn word(&mut self, theme: &[&'static str]) -> &'static str {
        if !theme.is_empty() && self.rng.random_bool(0.6) {
            theme.choose(self.rng).expect("theme")
        } else {
            NOUNS.choose(self.rng).expect("nouns")
        }
    }

    fn adjective(&mut self) -> &'static str {
        ADJECTIVES.choose(self.rng).expect("adjectives")
    }

    fn title(&mut self, theme: &[&'static str]) -> String {
        match self.rng.random_range(0..5) {
            0 => format!(
                "The {} {}",
                capitalise(self.adjective()),
                capitalise(self.word(theme))
            ),
            1 => format!(
                "{} of the {}",
                capitalise(self.word(theme)),
                capitalise(self.word(theme))
            ),
            2 => format!(
                "{} {} {}",
                capitalise(self.adjective()),
                capitalise(self.word(theme)),
                self.rng.random_range(2..5)
            ),
            3 => format!(
                "{} and the {} {}",
                capitalise(self.word(theme)),
                capitalise(self.adjective()),
                capitalise(self.word(theme))
            ),
            _ => format!(
                "{} {}",
                capitalise(self.adjective()),
                capitalise(self.word(theme))
            ),
        }
    }

    fn name(&mut self) -> String {
        format!(
            "{} {}",
            FIRST_NAMES.choose(self.rng).expect("first names"),
            LAST_NAMES.choose(self.rng).expect("last names")
        )
    }

    fn names(&mut self, n: usize, separator: &str) -> String {
        (0..n)
            .map(|_| self.name())
            .collect::<Vec<_>>()
            .join(separator)
    }

    fn plot(&mut self, theme: &[&'static str]) -> String {
        let first = self.adjective();
        let article = if first.starts_with(['a', 'e', 'i', 'o', 'u']) {
            "An"
        } else {
            "A"
        };
        format!(
            "{article} {first} {} must face the {} {}, but the \"{}\" has other plans; {}, {} and {} follow.",
            self.word(theme),
            self.adjective(),
            self.word(theme),
            self.word(theme),
            self.word(theme),
            self.word(theme),
            self.word(theme),
        )
    }

    fn uuid(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .hyphenated()
            .to_string()
    }
}

fn url(kind: &str, id: i64, size: &str) -> String {
    format!("https://img.example.org/{kind}/{id}{size}.jpg")
}

/// Writes a dataset into `dir` (created if missing).
pub fn generate(dir: &Path, options: &GenerateOptions) -> io::Result<GenerateSummary> {
    std::fs::create_dir_all(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut summary = GenerateSummary {
        users: options.users,
        items: options.items,
        ..GenerateSummary::default()
    };

    // Genres, each with its own vocabulary.
    let mut genres: Vec<Genre> = Vec::new();
    for kind in ContentKind::ALL {
        for &name in genre_names(kind) {
            let mut vocabulary: Vec<&'static str> =
                NOUNS.choose_multiple(&mut rng, 8).copied().collect();
            vocabulary.sort_unstable();
            genres.push(Genre {
                id: genres.len() as i64 + 1,
                kind,
                name,
                vocabulary,
                items: Vec::new(),
                cumulative: Vec::new(),
            });
        }
    }

    // Items: contiguous ids per kind, popularity from a shuffled Zipf rank.
    let mut counts = KIND_SHARES.map(|share| (options.items as f64 * share).floor() as usize);
    let assigned: usize = counts.iter().sum();
    counts[3] += options.items - assigned;
    let mut items: Vec<Item> = Vec::with_capacity(options.items);
    for (k, kind) in ContentKind::ALL.into_iter().enumerate() {
        let kind_genres: Vec<usize> = (0..genres.len())
            .filter(|&g| genres[g].kind == kind)
            .collect();
        for _ in 0..counts[k] {
            let n_genres = if kind_genres.is_empty() {
                0
            } else if kind == ContentKind::Application {
                1
            } else {
                rng.random_range(1..=3)
            };
            let mut item_genres: Vec<usize> = kind_genres
                .choose_multiple(&mut rng, n_genres)
                .copied()
                .collect();
            item_genres.sort_unstable();
            let index = items.len();
            for &g in &item_genres {
                genres[g].items.push(index);
            }
            items.push(Item {
                content_id: index as i64 + 1,
                kind,
                genres: item_genres,
                weight: 0.0,
                quality: normal(&mut rng) * 0.4,
                rating_sum: 0,
                rating_count: 0,
            });
        }
    }
    let mut ranks: Vec<usize> = (0..items.len()).collect();
    ranks.shuffle(&mut rng);
    for (rank, &index) in ranks.iter().enumerate() {
        items[index].weight = (rank as f64 + 1.0).powf(-0.9);
    }
    let global = cumulate(items.iter().map(|i| i.weight));
    for genre in &mut genres {
        genre.cumulative = cumulate(genre.items.iter().map(|&i| items[i].weight));
    }
    let usable_genres: Vec<usize> = (0..genres.len())
        .filter(|&g| !genres[g].items.is_empty())
        .collect();

    // Interactions, user by user, streamed into four files.
    let header = ["content_id", "user_id", "rating", "count"];
    let mut interaction_files = (1..=4)
        .map(|n| CsvOut::create(dir, &format!("meta_user_content_{n}.csv"), &header))
        .collect::<io::Result<Vec<_>>>()?;
    let mut activity: Vec<f64> = (0..options.users)
        .map(|rank| (rank as f64 + 1.0).powf(-0.6))
        .collect();
    activity.shuffle(&mut rng);
    let total_activity: f64 = activity.iter().sum();
    let cap = (items.len() / 2).max(1);
    let mut per_user: Vec<usize> = activity
        .iter()
        .map(|a| ((options.interactions as f64 * a / total_activity).floor() as usize).min(cap))
        .collect();
    let mut missing = options.interactions.saturating_sub(per_user.iter().sum());
    'fill: while missing > 0 && !items.is_empty() && options.users > 0 {
        let before = missing;
        for n in per_user.iter_mut() {
            if missing == 0 {
                break 'fill;
            }
            if *n < cap {
                *n += 1;
                missing -= 1;
            }
        }
        if missing == before {
            break;
        }
    }
    let total: usize = if items.is_empty() {
        0
    } else {
        per_user.iter().sum()
    };
    let mut written = 0usize;
    let mut seen: HashSet<usize> = HashSet::new();
    for (u, &wanted) in per_user.iter().enumerate() {
        let user_id = u as i64 + 1;
        let n_fav = rng.random_range(2..=3).min(usable_genres.len());
        let favourites: Vec<usize> = usable_genres
            .choose_multiple(&mut rng, n_fav)
            .copied()
            .collect();
        if items.is_empty() {
            continue;
        }
        seen.clear();
        let mut attempts = 0;
        while seen.len() < wanted && attempts < wanted * 20 {
            attempts += 1;
            let (index, favourite) = if !favourites.is_empty() && rng.random_bool(0.8) {
                let genre = &genres[*favourites.choose(&mut rng).expect("favourites")];
                (genre.items[sample(&mut rng, &genre.cumulative)], true)
            } else {
                (sample(&mut rng, &global), false)
            };
            if !seen.insert(index) {
                continue;
            }
            let item = &mut items[index];
            let rating = if rng.random_bool(0.15) {
                None
            } else {
                let shift = if favourite { 0.4 } else { -0.2 };
                let value = 3.7 + item.quality + shift + normal(&mut rng) * 0.8;
                Some(value.round().clamp(0.0, 5.0) as i64)
            };
            if let Some(r) = rating {
                item.rating_sum += r;
                item.rating_count += 1;
            }
            let count = match item.kind {
                ContentKind::Track => 1 + (-rng.random::<f64>().ln() * 8.0) as i64,
                ContentKind::Game => 1 + (-rng.random::<f64>().ln() * 30.0) as i64,
                ContentKind::Serie => rng.random_range(1..=20),
                ContentKind::Movie => rng.random_range(1..=2),
                ContentKind::Application | ContentKind::Book => 1,
            };
            let file = (written * 4 / total.max(1)).min(3);
            interaction_files[file]
                .int(item.content_id)
                .int(user_id)
                .opt_int(rating)
                .int(count)
                .end();
            written += 1;
        }
    }
    summary.interactions = written;
    let mut interaction_rows = Vec::new();
    for (n, file) in interaction_files.into_iter().enumerate() {
        interaction_rows.push((format!("meta_user_content_{}.csv", n + 1), file.finish()?));
    }

    // Genres (count = items in the genre).
    let mut out = CsvOut::create(
        dir,
        "genres.csv",
        &["genre_id", "name", "count", "content_type"],
    )?;
    for genre in &genres {
        out.int(genre.id)
            .text(genre.name)
            .int(genre.items.len() as i64)
            .text(genre.kind.label())
            .end();
    }
    summary.files.push(("genres.csv".into(), out.finish()?));

    // Media files, episodes collected on the way.
    let mut words = Words { rng: &mut rng };
    let no_theme: Vec<&'static str> = Vec::new();
    let theme_of = |item: &Item| -> &Vec<&'static str> {
        item.genres
            .first()
            .map(|&g| &genres[g].vocabulary)
            .unwrap_or(&no_theme)
    };
    let mut files: Vec<(&str, CsvOut)> = vec![
        (
            "application.csv",
            CsvOut::create(
                dir,
                "application.csv",
                &[
                    "content_id",
                    "name",
                    "size",
                    "installs",
                    "type",
                    "price",
                    "content_rating",
                    "last_updated",
                    "current_version",
                    "android_version",
                    "cover",
                ],
            )?,
        ),
        (
            "books.csv",
            CsvOut::create(
                dir,
                "books.csv",
                &[
                    "content_id",
                    "isbn",
                    "title",
                    "author",
                    "year_of_publication",
                    "publisher",
                    "image_url_s",
                    "image_url_m",
                    "image_url_l",
                ],
            )?,
        ),
        (
            "games.csv",
            CsvOut::create(
                dir,
                "games.csv",
                &[
                    "content_id",
                    "steamid",
                    "name",
                    "short_description",
                    "header_image",
                    "website",
                    "developers",
                    "publishers",
                    "price",
                    "recommendations",
                    "release_date",
                ],
            )?,
        ),
        (
            "movie.csv",
            CsvOut::create(
                dir,
                "movie.csv",
                &[
                    "content_id",
                    "title",
                    "language",
                    "actors",
                    "year",
                    "producers",
                    "director",
                    "writer",
                    "imdbid",
                    "tmdbid",
                    "cover",
                    "plot_outline",
                ],
            )?,
        ),
        (
            "serie.csv",
            CsvOut::create(
                dir,
                "serie.csv",
                &[
                    "content_id",
                    "imdbid",
                    "title",
                    "start_year",
                    "end_year",
                    "writers",
                    "directors",
                    "actors",
                    "cover",
                    "plot_outline",
                ],
            )?,
        ),
        (
            "track.csv",
            CsvOut::create(
                dir,
                "track.csv",
                &[
                    "content_id",
                    "title",
                    "year",
                    "artist_name",
                    "release",
                    "track_mmid",
                    "recording_mbid",
                    "spotify_id",
                    "covert_art_url",
                ],
            )?,
        ),
    ];
    // (serie, season, number, year, title)
    let mut episodes: Vec<(i64, i64, i64, i64, String)> = Vec::new();
    let mut app_names = HashSet::new();
    const MONTHS: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    for item in &items {
        let id = item.content_id;
        let theme = theme_of(item);
        let k = ContentKind::ALL
            .iter()
            .position(|&kind| kind == item.kind)
            .expect("kind");
        let out = &mut files[k].1;
        match item.kind {
            ContentKind::Application => {
                let mut name = words.title(theme);
                while !app_names.insert(name.clone()) {
                    name = format!(
                        "{name} {}",
                        ["Pro", "Lite", "Plus", "Go", "HD"]
                            .choose(words.rng)
                            .expect("suffix")
                    );
                }
                let paid = words.rng.random_bool(0.2);
                out.int(id)
                    .text(&name)
                    .text(&format!("{}M", words.rng.random_range(2..120)))
                    .text(
                        ["1,000+", "10,000+", "100,000+", "1,000,000+"]
                            .choose(words.rng)
                            .expect("installs"),
                    )
                    .text(if paid { "Paid" } else { "Free" })
                    .text(if paid { "$2.99" } else { "0" })
                    .text(
                        ["Everyone", "Teen", "Mature 17+"]
                            .choose(words.rng)
                            .expect("rating"),
                    )
                    .text(&format!(
                        "{} {}, {}",
                        MONTHS.choose(words.rng).expect("month"),
                        words.rng.random_range(1..=28),
                        words.rng.random_range(2012..=2020)
                    ))
                    .text(&format!(
                        "{}.{}.{}",
                        words.rng.random_range(1..6),
                        words.rng.random_range(0..10),
                        words.rng.random_range(0..20)
                    ))
                    .text(&format!(
                        "{}.{} and up",
                        words.rng.random_range(4..9),
                        words.rng.random_range(0..4)
                    ))
                    .text(&url("app", id, ""))
                    .end();
            }
            ContentKind::Book => {
                let title = words.title(theme);
                let author = words.name();
                let publisher =
                    format!("{} Press", LAST_NAMES.choose(words.rng).expect("publisher"));
                out.int(id)
                    .text(&format!("978{:010}", id))
                    .text(&title)
                    .text(&author)
                    .int(words.rng.random_range(1950..=2020))
                    .text(&publisher)
                    .text(&url("book", id, "-s"))
                    .text(&url("book", id, "-m"))
                    .text(&url("book", id, "-l"))
                    .end();
            }
            ContentKind::Game => {
                let name = words.title(theme);
                let description = words.plot(theme);
                let studio = format!("{} Studios", LAST_NAMES.choose(words.rng).expect("studio"));
                let publisher =
                    format!("{} Games", LAST_NAMES.choose(words.rng).expect("publisher"));
                let website = words
                    .rng
                    .random_bool(0.7)
                    .then(|| format!("https://games.example.org/{id}"));
                let price = if words.rng.random_bool(0.3) {
                    "Free".to_string()
                } else {
                    format!("{}.99", words.rng.random_range(1..60))
                };
                out.int(id)
                    .int(10_000 + id * 10)
                    .text(&name)
                    .text(&description)
                    .text(&url("game", id, ""))
                    .opt_text(website.as_deref())
                    .text(&studio)
                    .text(&publisher)
                    .text(&price)
                    .int((item.weight * 50_000.0) as i64)
                    .text(&format!(
                        "{} {}, {}",
                        words.rng.random_range(1..=28),
                        &MONTHS.choose(words.rng).expect("month")[..3],
                        words.rng.random_range(2000..=2020)
                    ))
                    .end();
            }
            ContentKind::Movie => {
                let title = words.title(theme);
                let n_actors = words.rng.random_range(2..=5);
                let actors = words.names(n_actors, "|");
                let producers = words.names(2, "|");
                let director = words.name();
                let writer = words.name();
                let plot = words.plot(theme);
                out.int(id)
                    .text(&title)
                    .text(LANGUAGES.choose(words.rng).expect("language"))
                    .text(&actors)
                    .text(&words.rng.random_range(1950..=2020).to_string())
                    .text(&producers)
                    .text(&director)
                    .text(&writer)
                    .text(&format!("tt{:07}", 100_000 + id))
                    .text(&(500 + id).to_string())
                    .text(&url("movie", id, ""))
                    .text(&plot)
                    .end();
            }
            ContentKind::Serie => {
                let title = words.title(theme);
                let start = words.rng.random_range(1980..=2018);
                let end = words
                    .rng
                    .random_bool(0.6)
                    .then(|| start + words.rng.random_range(0..8));
                let writers = words.names(2, ", ");
                let directors = words.names(2, ", ");
                let n_actors = words.rng.random_range(2..=4);
                let actors = words.names(n_actors, ", ");
                let plot = words.plot(theme);
                out.int(id)
                    .text(&format!("tt{:07}", 100_000 + id))
                    .text(&title)
                    .int(start)
                    .opt_int(end)
                    .text(&writers)
                    .text(&directors)
                    .text(&actors)
                    .text(&url("serie", id, ""))
                    .text(&plot)
                    .end();
                let seasons = words.rng.random_range(1..=2);
                for season in 1..=seasons {
                    for number in 1..=words.rng.random_range(2..=6) {
                        let episode_title = if words.rng.random_bool(0.3) {
                            format!("Episode {number}")
                        } else {
                            words.title(theme)
                        };
                        episodes.push((id, season, number, start + season - 1, episode_title));
                    }
                }
            }
            ContentKind::Track => {
                let title = words.title(theme);
                let artist = if words.rng.random_bool(0.5) {
                    words.name()
                } else {
                    format!(
                        "The {} {}s",
                        capitalise(words.adjective()),
                        capitalise(NOUNS.choose(words.rng).expect("noun"))
                    )
                };
                let album = words.title(theme);
                let mmid: String = (0..16)
                    .map(|_| char::from(b"0123456789ABCDEF"[words.rng.random_range(0..16)]))
                    .collect();
                let mbid = words.uuid();
                let spotify: String = (0..22)
                    .map(|_| char::from(BASE62[words.rng.random_range(0..62)]))
                    .collect();
                out.int(id)
                    .text(&title)
                    .int(words.rng.random_range(1960..=2020))
                    .text(&artist)
                    .text(&album)
                    .text(&format!("TR{mmid}"))
                    .text(&mbid)
                    .text(&spotify)
                    .text(&url("track", id, ""))
                    .end();
            }
        }
    }
    let mut media_rows = Vec::new();
    for (name, out) in files {
        media_rows.push((name.to_string(), out.finish()?));
    }

    // Episodes: content ids after the items.
    let mut out = CsvOut::create(
        dir,
        "episode.csv",
        &[
            "content_id",
            "imdbid",
            "title",
            "year",
            "serie_id",
            "season_number",
            "episode_number",
        ],
    )?;
    let first_episode = items.len() as i64 + 1;
    for (n, (serie, season, number, year, title)) in episodes.iter().enumerate() {
        let id = first_episode + n as i64;
        out.int(id)
            .text(&format!("tt{:07}", 100_000 + id))
            .text(title)
            .int(*year)
            .int(*serie)
            .int(*season)
            .int(*number)
            .end();
    }
    let episode_rows = out.finish()?;
    summary.episodes = episodes.len();

    // Content: the items' ratings, then the episodes (unrated).
    let mut out = CsvOut::create(
        dir,
        "content.csv",
        &["content_id", "rating", "rating_count"],
    )?;
    for item in &items {
        out.int(item.content_id);
        if item.rating_count > 0 {
            let average = item.rating_sum as f64 / item.rating_count as f64;
            out.text(&format!("{average:.2}"));
        } else {
            out.null();
        }
        out.int(item.rating_count).end();
    }
    for n in 0..episodes.len() {
        out.int(first_episode + n as i64).null().int(0).end();
    }
    summary.files.push(("content.csv".into(), out.finish()?));
    // The spec loads tracks before series, and episodes after them.
    for name in [
        "application.csv",
        "books.csv",
        "games.csv",
        "movie.csv",
        "track.csv",
        "serie.csv",
    ] {
        if let Some((name, rows)) = media_rows.iter().find(|(n, _)| n == name) {
            summary.files.push((name.clone(), *rows));
        }
    }
    summary.files.push(("episode.csv".into(), episode_rows));

    // Users: dataset users cannot log in.
    let mut out = CsvOut::create(
        dir,
        "user.csv",
        &["user_id", "uuid", "email", "username", "password_hash"],
    )?;
    for u in 0..options.users {
        let id = u as i64 + 1;
        let uuid = words.uuid();
        let first = FIRST_NAMES.choose(words.rng).expect("first").to_lowercase();
        let last = LAST_NAMES.choose(words.rng).expect("last").to_lowercase();
        out.int(id)
            .text(&uuid)
            .text(&format!("{first}.{last}.{id}@example.org"))
            .text(&format!("{first}_{last}_{id}"))
            .text("no_pwd")
            .end();
    }
    summary.files.push(("user.csv".into(), out.finish()?));

    let mut out = CsvOut::create(dir, "content_genres.csv", &["content_id", "genre_id"])?;
    for item in &items {
        for &g in &item.genres {
            out.int(item.content_id).int(genres[g].id).end();
        }
    }
    summary
        .files
        .push(("content_genres.csv".into(), out.finish()?));
    summary.files.extend(interaction_rows);

    // Roles and permissions as the migrations seed them.
    let user_permissions = [
        Permission::IndicateInterest,
        Permission::ModifyUserProfil,
        Permission::ViewRecommendation,
        Permission::PlayMusic,
        Permission::AddContent,
    ];
    let admin_only = [
        Permission::AccessSandbox,
        Permission::ModifyContent,
        Permission::ValidateAddedContent,
        Permission::DeleteContent,
    ];
    let mut out = CsvOut::create(dir, "role.csv", &["role_id", "name"])?;
    out.int(1).text("user").end();
    out.int(2).text("admin").end();
    summary.files.push(("role.csv".into(), out.finish()?));
    let mut out = CsvOut::create(dir, "permission.csv", &["permission"])?;
    for p in user_permissions.iter().chain(&admin_only) {
        out.text(p.as_str()).end();
    }
    summary.files.push(("permission.csv".into(), out.finish()?));
    let mut out = CsvOut::create(dir, "role_permission.csv", &["role_id", "permission"])?;
    for p in &user_permissions {
        out.int(1).text(p.as_str()).end();
    }
    for p in user_permissions.iter().chain(&admin_only) {
        out.int(2).text(p.as_str()).end();
    }
    summary
        .files
        .push(("role_permission.csv".into(), out.finish()?));
    Ok(summary)
}
