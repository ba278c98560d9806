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
use std::io;
use std::path::Path;

use rand::seq::{IndexedRandom, SliceRandom};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use recofinement_dataset::roles::{self, ROLES};
use recofinement_dataset::schema::{MEDIA_LOAD_ORDER, media_file_name};
use recofinement_dataset::{CsvWriter, INTERACTIONS_PREFIX, file_spec, interaction_file_name};
use recofinement_domain::ContentKind;

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
    /// Users that can log in (the others are dataset accounts).
    pub accounts: usize,
}

/// What the command line asks for: the set and its share of accounts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GeneratePlan {
    pub options: GenerateOptions,
    pub accounts: Accounts,
}

/// The set `recofinement demo` loads by default (and `generate`'s default
/// size); the OpenAPI document's path examples name items of it.
pub const DEMO: GenerateOptions = GenerateOptions {
    users: 200,
    items: 2_000,
    interactions: 20_000,
    seed: 42,
};

/// The password of the generated accounts that can log in.
pub const GENERATED_PASSWORD: &str = "Generated!2024";

/// bcrypt cost of their (shared) hash: the server's default.
const ACCOUNT_BCRYPT_COST: u32 = 12;

/// The share of generated users that can log in (`--accounts 10%`); the
/// others are dataset accounts (`no_pwd`), which feed the models but are
/// no engine subjects. They are spread evenly over the user ids.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Accounts {
    /// 0 to 100.
    pub percent: u8,
}

impl Accounts {
    pub const NONE: Accounts = Accounts { percent: 0 };

    /// Whether user `index` (0-based) can log in: exactly
    /// ⌊users × percent / 100⌋ of the first `users` can.
    pub fn can_log_in(self, index: usize) -> bool {
        let p = usize::from(self.percent);
        (index + 1) * p / 100 > index * p / 100
    }
}

impl std::str::FromStr for Accounts {
    type Err = String;

    /// `10%` or `10`: a whole percentage from 0 to 100.
    fn from_str(text: &str) -> Result<Self, String> {
        let number = text.trim().trim_end_matches('%').trim();
        match number.parse::<u8>() {
            Ok(percent) if percent <= 100 => Ok(Accounts { percent }),
            _ => Err(format!("{text:?} is not a percentage from 0% to 100%")),
        }
    }
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

/// A set's genres and items, before any file is written.
struct World {
    genres: Vec<Genre>,
    items: Vec<Item>,
}

/// A writer for `name`, with the columns the format gives it.
fn writer(dir: &Path, name: &str, spec_file: &str) -> io::Result<CsvWriter> {
    let spec = file_spec(spec_file).expect("a file of the dataset format");
    CsvWriter::create(dir, name, &spec)
}

/// Writes a dataset into `dir` (created if missing); every account is a
/// dataset account (`no_pwd`).
pub fn generate(dir: &Path, options: &GenerateOptions) -> io::Result<GenerateSummary> {
    generate_with(dir, options, Accounts::NONE)
}

/// Writes a dataset into `dir` (created if missing) with a share of
/// accounts that can log in.
pub fn generate_with(
    dir: &Path,
    options: &GenerateOptions,
    accounts: Accounts,
) -> io::Result<GenerateSummary> {
    std::fs::create_dir_all(dir)?;
    let mut rng = ChaCha8Rng::seed_from_u64(options.seed);
    let mut summary = GenerateSummary {
        users: options.users,
        items: options.items,
        ..GenerateSummary::default()
    };
    let genres = make_genres(&mut rng);
    let mut world = make_items(&mut rng, genres, options.items);
    set_popularity(&mut rng, &mut world);
    let (interaction_rows, written) = write_interactions(dir, &mut rng, &mut world, options)?;
    summary.interactions = written;
    summary
        .files
        .push(("genres.csv".into(), write_genres(dir, &world.genres)?));

    let mut words = Words { rng: &mut rng };
    let (media_rows, episodes) = write_media(dir, &mut words, &world)?;
    let first_episode = world.items.len() as i64 + 1;
    let episode_rows = write_episodes(dir, &episodes, first_episode)?;
    summary.episodes = episodes.len();
    let content_rows = write_content(dir, &world.items, episodes.len(), first_episode)?;
    summary.files.push(("content.csv".into(), content_rows));
    for kind in MEDIA_LOAD_ORDER {
        let name = media_file_name(kind);
        if let Some((name, rows)) = media_rows.iter().find(|(n, _)| n == name) {
            summary.files.push((name.clone(), *rows));
        }
    }
    summary.files.push(("episode.csv".into(), episode_rows));
    let (user_rows, logins) = write_users(dir, &mut words, options, accounts)?;
    summary.accounts = logins;
    summary.files.push(("user.csv".into(), user_rows));
    summary.files.push((
        "content_genres.csv".into(),
        write_content_genres(dir, &world)?,
    ));
    summary.files.extend(interaction_rows);
    summary.files.extend(write_roles(dir)?);
    Ok(summary)
}

/// The genres of every kind, each with its own vocabulary.
fn make_genres(rng: &mut ChaCha8Rng) -> Vec<Genre> {
    let mut genres: Vec<Genre> = Vec::new();
    for kind in ContentKind::ALL {
        for &name in genre_names(kind) {
            let mut vocabulary: Vec<&'static str> =
                NOUNS.choose_multiple(rng, 8).copied().collect();
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
    genres
}

/// Items: contiguous ids per kind, one to three genres of their kind.
fn make_items(rng: &mut ChaCha8Rng, mut genres: Vec<Genre>, wanted: usize) -> World {
    let mut counts = KIND_SHARES.map(|share| (wanted as f64 * share).floor() as usize);
    let assigned: usize = counts.iter().sum();
    counts[3] += wanted - assigned;
    let mut items: Vec<Item> = Vec::with_capacity(wanted);
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
                .choose_multiple(rng, n_genres)
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
                quality: normal(rng) * 0.4,
                rating_sum: 0,
                rating_count: 0,
            });
        }
    }
    World { genres, items }
}

/// Popularity from a shuffled Zipf rank, and each genre's sampling weights.
fn set_popularity(rng: &mut ChaCha8Rng, world: &mut World) {
    let mut ranks: Vec<usize> = (0..world.items.len()).collect();
    ranks.shuffle(rng);
    for (rank, &index) in ranks.iter().enumerate() {
        world.items[index].weight = (rank as f64 + 1.0).powf(-0.9);
    }
    let items = &world.items;
    for genre in &mut world.genres {
        genre.cumulative = cumulate(genre.items.iter().map(|&i| items[i].weight));
    }
}

/// Interactions wanted per user: Zipf-like activity, at most half the
/// catalogue each, topped up one by one to the total asked for.
fn interactions_per_user(
    rng: &mut ChaCha8Rng,
    options: &GenerateOptions,
    items: usize,
) -> Vec<usize> {
    let mut activity: Vec<f64> = (0..options.users)
        .map(|rank| (rank as f64 + 1.0).powf(-0.6))
        .collect();
    activity.shuffle(rng);
    let total_activity: f64 = activity.iter().sum();
    let cap = (items / 2).max(1);
    let mut per_user: Vec<usize> = activity
        .iter()
        .map(|a| ((options.interactions as f64 * a / total_activity).floor() as usize).min(cap))
        .collect();
    let mut missing = options.interactions.saturating_sub(per_user.iter().sum());
    'fill: while missing > 0 && items > 0 && options.users > 0 {
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
    per_user
}

/// One interaction row.
struct Interaction {
    content_id: i64,
    rating: Option<i64>,
    count: i64,
}

/// Rating (none for a consumption-only row) and count of one interaction.
fn interaction(rng: &mut ChaCha8Rng, item: &mut Item, favourite: bool) -> Interaction {
    let rating = if rng.random_bool(0.15) {
        None
    } else {
        let shift = if favourite { 0.4 } else { -0.2 };
        let value = 3.7 + item.quality + shift + normal(rng) * 0.8;
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
    Interaction {
        content_id: item.content_id,
        rating,
        count,
    }
}

/// A user's interactions: mostly within two or three favourite genres, never
/// twice the same item.
fn user_interactions(
    rng: &mut ChaCha8Rng,
    world: &mut World,
    global: &[f64],
    usable_genres: &[usize],
    wanted: usize,
    seen: &mut HashSet<usize>,
    mut emit: impl FnMut(Interaction),
) {
    let n_fav = rng.random_range(2..=3).min(usable_genres.len());
    let favourites: Vec<usize> = usable_genres.choose_multiple(rng, n_fav).copied().collect();
    if world.items.is_empty() {
        return;
    }
    seen.clear();
    let mut attempts = 0;
    while seen.len() < wanted && attempts < wanted * 20 {
        attempts += 1;
        let (index, favourite) = if !favourites.is_empty() && rng.random_bool(0.8) {
            let genre = &world.genres[*favourites.choose(rng).expect("favourites")];
            (genre.items[sample(rng, &genre.cumulative)], true)
        } else {
            (sample(rng, global), false)
        };
        if !seen.insert(index) {
            continue;
        }
        emit(interaction(rng, &mut world.items[index], favourite));
    }
}

/// Interactions, user by user, streamed into four files of equal share.
fn write_interactions(
    dir: &Path,
    rng: &mut ChaCha8Rng,
    world: &mut World,
    options: &GenerateOptions,
) -> io::Result<(FileRows, usize)> {
    let names: Vec<String> = (1..=4).map(interaction_file_name).collect();
    let mut files = names
        .iter()
        .map(|name| writer(dir, name, INTERACTIONS_PREFIX))
        .collect::<io::Result<Vec<_>>>()?;
    let global = cumulate(world.items.iter().map(|i| i.weight));
    let usable_genres: Vec<usize> = (0..world.genres.len())
        .filter(|&g| !world.genres[g].items.is_empty())
        .collect();
    let per_user = interactions_per_user(rng, options, world.items.len());
    let total: usize = if world.items.is_empty() {
        0
    } else {
        per_user.iter().sum()
    };
    let mut written = 0usize;
    let mut seen: HashSet<usize> = HashSet::new();
    for (u, &wanted) in per_user.iter().enumerate() {
        let user_id = u as i64 + 1;
        let emit = |row: Interaction| {
            let file = (written * 4 / total.max(1)).min(3);
            files[file]
                .int(row.content_id)
                .int(user_id)
                .opt_int(row.rating)
                .int(row.count)
                .end();
            written += 1;
        };
        user_interactions(rng, world, &global, &usable_genres, wanted, &mut seen, emit);
    }
    let mut rows = Vec::with_capacity(files.len());
    for (name, file) in names.into_iter().zip(files) {
        rows.push((name, file.finish()?));
    }
    Ok((rows, written))
}

/// Genres (count = items in the genre).
fn write_genres(dir: &Path, genres: &[Genre]) -> io::Result<u64> {
    let mut out = writer(dir, "genres.csv", "genres.csv")?;
    for genre in genres {
        out.int(genre.id)
            .text(genre.name)
            .int(genre.items.len() as i64)
            .text(genre.kind.label())
            .end();
    }
    out.finish()
}

/// Data rows written per file.
type FileRows = Vec<(String, u64)>;

/// An episode to write: (serie, season, number, year, title).
type Episode = (i64, i64, i64, i64, String);

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

/// The media files, one writer per kind, in item order; the episodes of the
/// series are collected on the way.
fn write_media(
    dir: &Path,
    words: &mut Words,
    world: &World,
) -> io::Result<(FileRows, Vec<Episode>)> {
    let mut files = ContentKind::ALL
        .iter()
        .map(|&kind| {
            let name = media_file_name(kind);
            Ok((name, writer(dir, name, name)?))
        })
        .collect::<io::Result<Vec<_>>>()?;
    let mut episodes: Vec<Episode> = Vec::new();
    let mut app_names = HashSet::new();
    let no_theme: Vec<&'static str> = Vec::new();
    for item in &world.items {
        let theme = item
            .genres
            .first()
            .map(|&g| &world.genres[g].vocabulary)
            .unwrap_or(&no_theme);
        let k = ContentKind::ALL
            .iter()
            .position(|&kind| kind == item.kind)
            .expect("kind");
        let out = &mut files[k].1;
        match item.kind {
            ContentKind::Application => write_application(out, words, item, theme, &mut app_names),
            ContentKind::Book => write_book(out, words, item, theme),
            ContentKind::Game => write_game(out, words, item, theme),
            ContentKind::Movie => write_movie(out, words, item, theme),
            ContentKind::Serie => write_serie(out, words, item, theme, &mut episodes),
            ContentKind::Track => write_track(out, words, item, theme),
        }
    }
    let mut rows = Vec::new();
    for (name, out) in files {
        rows.push((name.to_string(), out.finish()?));
    }
    Ok((rows, episodes))
}

fn write_application(
    out: &mut CsvWriter,
    words: &mut Words,
    item: &Item,
    theme: &[&'static str],
    names: &mut HashSet<String>,
) {
    let id = item.content_id;
    let mut name = words.title(theme);
    while !names.insert(name.clone()) {
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

fn write_book(out: &mut CsvWriter, words: &mut Words, item: &Item, theme: &[&'static str]) {
    let id = item.content_id;
    let title = words.title(theme);
    let author = words.name();
    let publisher = format!("{} Press", LAST_NAMES.choose(words.rng).expect("publisher"));
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

fn write_game(out: &mut CsvWriter, words: &mut Words, item: &Item, theme: &[&'static str]) {
    let id = item.content_id;
    let name = words.title(theme);
    let description = words.plot(theme);
    let studio = format!("{} Studios", LAST_NAMES.choose(words.rng).expect("studio"));
    let publisher = format!("{} Games", LAST_NAMES.choose(words.rng).expect("publisher"));
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

fn write_movie(out: &mut CsvWriter, words: &mut Words, item: &Item, theme: &[&'static str]) {
    let id = item.content_id;
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

fn write_serie(
    out: &mut CsvWriter,
    words: &mut Words,
    item: &Item,
    theme: &[&'static str],
    episodes: &mut Vec<Episode>,
) {
    let id = item.content_id;
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

fn write_track(out: &mut CsvWriter, words: &mut Words, item: &Item, theme: &[&'static str]) {
    let id = item.content_id;
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

/// Episodes: content ids after the items.
fn write_episodes(dir: &Path, episodes: &[Episode], first_id: i64) -> io::Result<u64> {
    let mut out = writer(dir, "episode.csv", "episode.csv")?;
    for (n, (serie, season, number, year, title)) in episodes.iter().enumerate() {
        let id = first_id + n as i64;
        out.int(id)
            .text(&format!("tt{:07}", 100_000 + id))
            .text(title)
            .int(*year)
            .int(*serie)
            .int(*season)
            .int(*number)
            .end();
    }
    out.finish()
}

/// Content: the items' ratings, then the episodes (unrated).
fn write_content(
    dir: &Path,
    items: &[Item],
    episodes: usize,
    first_episode: i64,
) -> io::Result<u64> {
    let mut out = writer(dir, "content.csv", "content.csv")?;
    for item in items {
        out.int(item.content_id);
        if item.rating_count > 0 {
            let average = item.rating_sum as f64 / item.rating_count as f64;
            out.text(&format!("{average:.2}"));
        } else {
            out.null();
        }
        out.int(item.rating_count).end();
    }
    for n in 0..episodes {
        out.int(first_episode + n as i64).null().int(0).end();
    }
    out.finish()
}

/// Users: dataset accounts (`no_pwd`, which cannot log in) except the
/// share `accounts` asks for, which get [`GENERATED_PASSWORD`]. Returns the
/// rows and the accounts that can log in.
fn write_users(
    dir: &Path,
    words: &mut Words,
    options: &GenerateOptions,
    accounts: Accounts,
) -> io::Result<(u64, usize)> {
    // One hash for every login account, salted from the seed, so the same
    // options still write the same bytes (and bcrypt runs once).
    let hash = (accounts.percent > 0)
        .then(|| password_hash(options.seed))
        .transpose()?;
    let mut out = writer(dir, "user.csv", "user.csv")?;
    let mut logins = 0;
    for u in 0..options.users {
        let id = u as i64 + 1;
        let uuid = words.uuid();
        let first = FIRST_NAMES.choose(words.rng).expect("first").to_lowercase();
        let last = LAST_NAMES.choose(words.rng).expect("last").to_lowercase();
        let password = match &hash {
            Some(hash) if accounts.can_log_in(u) => {
                logins += 1;
                hash.as_str()
            }
            _ => "no_pwd",
        };
        out.int(id)
            .text(&uuid)
            .text(&format!("{first}.{last}.{id}@example.org"))
            .text(&format!("{first}_{last}_{id}"))
            .text(password)
            .end();
    }
    Ok((out.finish()?, logins))
}

/// The bcrypt hash of [`GENERATED_PASSWORD`], salted from `seed`.
fn password_hash(seed: u64) -> io::Result<String> {
    let mut salt = [0u8; 16];
    ChaCha8Rng::seed_from_u64(seed ^ 0x5EED_5A17).fill(&mut salt);
    bcrypt::hash_with_salt(GENERATED_PASSWORD, ACCOUNT_BCRYPT_COST, salt)
        .map(|parts| parts.to_string())
        .map_err(io::Error::other)
}

fn write_content_genres(dir: &Path, world: &World) -> io::Result<u64> {
    let mut out = writer(dir, "content_genres.csv", "content_genres.csv")?;
    for item in &world.items {
        for &g in &item.genres {
            out.int(item.content_id).int(world.genres[g].id).end();
        }
    }
    out.finish()
}

/// Roles and permissions as the migrations seed them.
fn write_roles(dir: &Path) -> io::Result<FileRows> {
    let mut out = writer(dir, "role.csv", "role.csv")?;
    for role in &ROLES {
        out.int(role.id).text(role.name).end();
    }
    let mut files = vec![("role.csv".to_string(), out.finish()?)];
    let mut out = writer(dir, "permission.csv", "permission.csv")?;
    for p in roles::permissions() {
        out.text(p.as_str()).end();
    }
    files.push(("permission.csv".into(), out.finish()?));
    let mut out = writer(dir, "role_permission.csv", "role_permission.csv")?;
    for role in &ROLES {
        for p in role.permissions {
            out.int(role.id).text(p.as_str()).end();
        }
    }
    files.push(("role_permission.csv".into(), out.finish()?));
    Ok(files)
}
