//! Seeded planted-data generator (spec §11.1). Everything derives from one
//! `StdRng`, so a seed and a scale always give the same data.

use crate::text::name_token;
use crate::{ContentKind, Group, Interaction, Item};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

/// Size presets: `S` keeps the test suite fast; `M` and `L` follow the
/// spirit of §11.3 for offline runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Scale {
    S,
    M,
    L,
}

impl Scale {
    pub fn parse(s: &str) -> Option<Scale> {
        match s.to_ascii_lowercase().as_str() {
            "s" => Some(Scale::S),
            "m" => Some(Scale::M),
            "l" => Some(Scale::L),
            _ => None,
        }
    }
}

/// Generator parameters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenParams {
    pub users: usize,
    pub items_per_kind: usize,
    pub genres_per_kind: usize,
    pub latent_dim: usize,
    pub clusters: usize,
    /// Minimum and mean number of interactions per user.
    pub min_activity: usize,
    pub mean_activity: usize,
    /// Exponent on the item popularity weight when sampling interactions.
    pub beta: f64,
    /// Weight of the user-item affinity when sampling interactions.
    pub gamma: f64,
    /// Standard deviation of item latent vectors around their cluster centre.
    pub item_noise: f64,
    /// Standard deviation of the rating noise ε.
    pub rating_noise: f64,
    /// Fraction of movies given a serie and/or book with the same title.
    pub link_fraction: f64,
    pub groups: usize,
}

impl GenParams {
    pub fn for_scale(scale: Scale) -> Self {
        let base = GenParams {
            users: 600,
            items_per_kind: 150,
            genres_per_kind: 20,
            latent_dim: 8,
            clusters: 8,
            min_activity: 10,
            mean_activity: 30,
            beta: 0.5,
            gamma: 3.0,
            item_noise: 0.25,
            rating_noise: 0.5,
            link_fraction: 0.2,
            groups: 20,
        };
        match scale {
            Scale::S => base,
            Scale::M => GenParams {
                users: 20_000,
                items_per_kind: 3_000,
                clusters: 20,
                genres_per_kind: 50,
                mean_activity: 50,
                groups: 500,
                ..base
            },
            Scale::L => GenParams {
                users: 100_000,
                items_per_kind: 10_000,
                clusters: 40,
                genres_per_kind: 100,
                mean_activity: 60,
                groups: 2_000,
                ..base
            },
        }
    }
}

/// One interaction event with its position in the event log.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Event {
    /// Increasing event id (order of `time`).
    pub id: i64,
    pub time: f64,
    pub interaction: Interaction,
}

/// Generated data plus the planted truth.
#[derive(Debug, Clone)]
pub struct Planted {
    pub items: Vec<Item>,
    /// Planted cluster of each item, by position in `items`.
    pub item_cluster: Vec<usize>,
    /// Events sorted by id.
    pub events: Vec<Event>,
    /// `(user, genre)` declared interests.
    pub interests: Vec<(i64, i64)>,
    pub groups: Vec<Group>,
    /// Unordered planted cross-kind links `(smaller id, larger id)`.
    pub links: Vec<(i64, i64)>,
    pub users: Vec<i64>,
}

fn normal(rng: &mut StdRng) -> f64 {
    // Box-Muller; rand 0.9 has no normal distribution without rand_distr.
    let u1: f64 = rng.random::<f64>().max(1e-12);
    let u2: f64 = rng.random();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

fn poisson(rng: &mut StdRng, mean: f64) -> u32 {
    let l = (-mean).exp();
    let mut k = 0;
    let mut p = 1.0;
    loop {
        p *= rng.random::<f64>();
        if p <= l || k > 1000 {
            return k;
        }
        k += 1;
    }
}

const SYLLABLES: [&str; 24] = [
    "ka", "lo", "mi", "ra", "tu", "ve", "zo", "ni", "sa", "po", "de", "fu", "gi", "ha", "jo", "ke",
    "lu", "ma", "no", "pe", "ri", "so", "ta", "vi",
];

fn word(rng: &mut StdRng, syllables: usize) -> String {
    (0..syllables)
        .map(|_| SYLLABLES[rng.random_range(0..SYLLABLES.len())])
        .collect()
}

fn capitalise(w: &str) -> String {
    let mut c = w.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The clusters' shared material: latent centres and the words, people
/// and companies their items are described with.
struct World {
    centres: Vec<Vec<f64>>,
    vocab: Vec<Vec<String>>,
    people: Vec<Vec<String>>,
    companies: Vec<Vec<String>>,
    /// Noise words any item may use.
    shared: Vec<String>,
}

fn world(rng: &mut StdRng, p: &GenParams) -> World {
    let k = p.latent_dim;
    let centres: Vec<Vec<f64>> = (0..p.clusters)
        .map(|_| {
            let v: Vec<f64> = (0..k).map(|_| normal(rng)).collect();
            let n = dot(&v, &v).sqrt();
            v.into_iter().map(|x| x / n).collect()
        })
        .collect();
    // Per-cluster vocabularies; a shared pool adds noise tokens.
    let vocab: Vec<Vec<String>> = (0..p.clusters)
        .map(|_| (0..40).map(|_| word(rng, 3)).collect())
        .collect();
    let people: Vec<Vec<String>> = (0..p.clusters)
        .map(|_| {
            (0..12)
                .map(|_| {
                    format!(
                        "{} {}",
                        capitalise(&word(rng, 2)),
                        capitalise(&word(rng, 3))
                    )
                })
                .collect()
        })
        .collect();
    let companies: Vec<Vec<String>> = (0..p.clusters)
        .map(|_| {
            (0..4)
                .map(|_| format!("{} Studios", capitalise(&word(rng, 3))))
                .collect()
        })
        .collect();
    let shared: Vec<String> = (0..300).map(|_| word(rng, 3)).collect();
    World {
        centres,
        vocab,
        people,
        companies,
        shared,
    }
}

/// The items of every kind with what the users' choices are drawn from.
#[derive(Default)]
struct Catalogue {
    items: Vec<Item>,
    item_cluster: Vec<usize>,
    latent: Vec<Vec<f64>>,
    pop_weight: Vec<f64>,
    quality: Vec<f64>,
    movie_positions: Vec<usize>,
}

/// Genres of an item of cluster `c`: cluster c owns genres 2c and 2c + 1
/// (mod G) of each kind.
fn item_genres(
    rng: &mut StdRng,
    p: &GenParams,
    kind: ContentKind,
    c: usize,
    genre_base: i64,
) -> Vec<i64> {
    let g = p.genres_per_kind as i64;
    let mut genres = Vec::new();
    let n_genres = match kind {
        ContentKind::Book => 0,
        ContentKind::Application => 1,
        _ => rng.random_range(1..=3),
    };
    while genres.len() < n_genres {
        let local = if rng.random::<f64>() < 0.8 {
            (2 * c as i64 + rng.random_range(0..2)) % g
        } else {
            rng.random_range(0..g)
        };
        let id = genre_base + local;
        if !genres.contains(&id) {
            genres.push(id);
        }
    }
    genres
}

/// An item's text: words mostly of its cluster, two people, a company.
fn item_text(rng: &mut StdRng, p: &GenParams, world: &World, c: usize) -> Vec<String> {
    let mut text = Vec::new();
    let words: Vec<String> = (0..12)
        .map(|_| {
            if rng.random::<f64>() < 0.75 {
                world.vocab[c][rng.random_range(0..world.vocab[c].len())].clone()
            } else {
                world.shared[rng.random_range(0..world.shared.len())].clone()
            }
        })
        .collect();
    text.push(words.join(" "));
    for _ in 0..2 {
        let who = if rng.random::<f64>() < 0.85 {
            &world.people[c][rng.random_range(0..world.people[c].len())]
        } else {
            let o = rng.random_range(0..p.clusters);
            &world.people[o][rng.random_range(0..world.people[o].len())]
        };
        text.push(name_token(who));
    }
    let companies = &world.companies[c];
    text.push(name_token(&companies[rng.random_range(0..companies.len())]));
    text
}

fn catalogue(rng: &mut StdRng, p: &GenParams, world: &World) -> Catalogue {
    let mut out = Catalogue::default();
    let mut next_id = 1i64;
    let mut genre_base = 1i64;
    for kind in ContentKind::ALL {
        let mut ranks: Vec<usize> = (0..p.items_per_kind).collect();
        ranks.shuffle(rng);
        for &rank in ranks.iter() {
            let c = rng.random_range(0..p.clusters);
            let y: Vec<f64> = world.centres[c]
                .iter()
                .map(|m| m + p.item_noise * normal(rng))
                .collect();
            let genres = item_genres(rng, p, kind, c, genre_base);
            let mut text = item_text(rng, p, world, c);
            let title = format!(
                "{} {} {}",
                capitalise(&word(rng, 3)),
                word(rng, 2),
                word(rng, 3)
            );
            text.insert(0, title.clone());
            if kind == ContentKind::Movie {
                out.movie_positions.push(out.items.len());
            }
            out.items.push(Item {
                id: next_id,
                kind,
                title,
                text,
                genres,
                rating: None,
                rating_count: 0,
            });
            next_id += 1;
            out.item_cluster.push(c);
            out.latent.push(y);
            out.pop_weight.push(1.0 / ((rank + 1) as f64).powf(1.1));
            out.quality.push(0.5 * normal(rng));
        }
        genre_base += p.genres_per_kind as i64;
    }
    out
}

/// Planted links: some movies give their title (re-cased, re-punctuated)
/// to a serie and/or a book; answers the linked id pairs.
fn plant_links(p: &GenParams, items: &mut [Item], movie_positions: &[usize]) -> Vec<(i64, i64)> {
    let series: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].kind == ContentKind::Serie)
        .collect();
    let books: Vec<usize> = (0..items.len())
        .filter(|&i| items[i].kind == ContentKind::Book)
        .collect();
    let n_links = (p.link_fraction * movie_positions.len() as f64) as usize;
    let mut links = Vec::new();
    for (n, &m) in movie_positions.iter().take(n_links).enumerate() {
        let title = items[m].title.clone();
        let mut targets = Vec::new();
        match n % 3 {
            0 => targets.push(series[n % series.len()]),
            1 => targets.push(books[n % books.len()]),
            _ => {
                targets.push(series[n % series.len()]);
                targets.push(books[n % books.len()]);
            }
        }
        for (v, &t) in targets.iter().enumerate() {
            items[t].title = if v == 0 {
                format!("The {}!", title.to_uppercase())
            } else {
                format!("{}: ", title.to_lowercase().replace(' ', " - "))
            };
            items[t].text[0] = items[t].title.clone();
        }
        let mut ids: Vec<i64> = std::iter::once(m)
            .chain(targets)
            .map(|i| items[i].id)
            .collect();
        ids.sort_unstable();
        for a in 0..ids.len() {
            for b in a + 1..ids.len() {
                links.push((ids[a], ids[b]));
            }
        }
    }
    links
}

/// What the users did: events, declared interests, each user's cluster.
#[derive(Default)]
struct Behaviour {
    events: Vec<Event>,
    interests: Vec<(i64, i64)>,
    user_cluster: Vec<usize>,
}

/// Declared interests of user `u` of main cluster `c1`: the cluster's
/// genres of each kind with probability 0.5, plus one noise genre now and
/// then.
fn declare_interests(
    rng: &mut StdRng,
    p: &GenParams,
    u: i64,
    c1: usize,
    interests: &mut Vec<(i64, i64)>,
) {
    let mut gb = 1i64;
    for kind in ContentKind::ALL {
        let g = p.genres_per_kind as i64;
        if kind != ContentKind::Book {
            for j in 0..2 {
                if rng.random::<f64>() < 0.5 {
                    interests.push((u, gb + (2 * c1 as i64 + j) % g));
                }
            }
            if rng.random::<f64>() < 0.1 {
                interests.push((u, gb + rng.random_range(0..g)));
            }
        }
        gb += g;
    }
}

/// A user's hidden taste: a latent vector and a rating bias.
struct Taste {
    user: i64,
    x: Vec<f64>,
    bias: f64,
}

/// A user's interactions: how many from a Pareto tail, which ones by
/// popularity and affinity, each with a rating (60 %) and a count.
fn interact(
    rng: &mut StdRng,
    p: &GenParams,
    cat: &Catalogue,
    pool: &mut [usize],
    taste: &Taste,
    events: &mut Vec<Event>,
) {
    let Taste { user: u, x, bias } = taste;
    let n_items = cat.items.len();
    // Activity: minimum plus a Pareto tail (shape 2 has mean 2·scale).
    let extra = (p.mean_activity - p.min_activity) as f64 / 2.0;
    let pareto = extra * (1.0 / rng.random::<f64>().max(1e-9)).sqrt();
    let activity = (p.min_activity + pareto as usize).min(n_items / 4);
    // Weighted sampling without replacement (Efraimidis-Spirakis keys)
    // over the whole catalogue, or over a uniform pool on large scales.
    let cands: &[usize] = if n_items <= 5000 {
        pool
    } else {
        let m = (activity * 40).min(n_items);
        let (head, _) = pool.partial_shuffle(rng, m);
        head
    };
    let mut keys: Vec<(f64, usize)> = cands
        .iter()
        .map(|&i| {
            let w = p.beta * cat.pop_weight[i].ln() + p.gamma * dot(x, &cat.latent[i]);
            let e: f64 = rng.random::<f64>().max(1e-300);
            (e.ln() / w.exp(), i)
        })
        .collect();
    let take = activity.min(keys.len());
    keys.select_nth_unstable_by(take.saturating_sub(1), |a, b| b.0.total_cmp(&a.0));
    keys.truncate(take);
    keys.sort_unstable_by_key(|e| e.1);
    for (_, i) in keys {
        let aff = dot(x, &cat.latent[i]);
        let rating = if rng.random::<f64>() < 0.6 {
            let r = 3.0 + *bias + cat.quality[i] + 1.2 * aff + p.rating_noise * normal(rng);
            Some(r.round().clamp(1.0, 5.0) as f32)
        } else {
            None
        };
        let count = poisson(rng, 1.0 + 2.0 * aff.max(0.0));
        events.push(Event {
            id: 0,
            time: rng.random::<f64>(),
            interaction: Interaction {
                user: *u,
                item: cat.items[i].id,
                rating,
                count,
            },
        });
    }
}

fn behaviour(
    rng: &mut StdRng,
    p: &GenParams,
    world: &World,
    cat: &Catalogue,
    users: &[i64],
) -> Behaviour {
    let mut out = Behaviour::default();
    let mut pool: Vec<usize> = (0..cat.items.len()).collect();
    for &u in users {
        let c1 = rng.random_range(0..p.clusters);
        let c2 = if rng.random::<f64>() < 0.5 {
            rng.random_range(0..p.clusters)
        } else {
            c1
        };
        out.user_cluster.push(c1);
        let centres = &world.centres;
        let x: Vec<f64> = (0..p.latent_dim)
            .map(|d| 0.7 * centres[c1][d] + 0.3 * centres[c2][d] + 0.15 * normal(rng))
            .collect();
        let bias = 0.3 * normal(rng);
        declare_interests(rng, p, u, c1, &mut out.interests);
        let taste = Taste { user: u, x, bias };
        interact(rng, p, cat, &mut pool, &taste, &mut out.events);
    }
    out.events.sort_by(|a, b| a.time.total_cmp(&b.time));
    for (n, e) in out.events.iter_mut().enumerate() {
        e.id = n as i64 + 1;
    }
    out
}

/// Groups: half from one cluster, half mixed.
fn groups(rng: &mut StdRng, p: &GenParams, users: &[i64], user_cluster: &[usize]) -> Vec<Group> {
    let mut groups = Vec::new();
    for g in 0..p.groups {
        let size = rng.random_range(2..=5);
        let target = rng.random_range(0..p.clusters);
        let mut members = Vec::new();
        let mut tries = 0;
        while members.len() < size && tries < 10_000 {
            tries += 1;
            let u = rng.random_range(0..users.len());
            if (g % 2 == 1 || user_cluster[u] == target) && !members.contains(&users[u]) {
                members.push(users[u]);
            }
        }
        groups.push(Group {
            id: g as i64 + 1,
            members,
        });
    }
    groups
}

/// Generates the data set of `p` from `seed`.
pub fn generate(seed: u64, p: &GenParams) -> Planted {
    let mut rng = StdRng::seed_from_u64(seed);
    let world = world(&mut rng, p);
    let mut cat = catalogue(&mut rng, p, &world);
    let links = plant_links(p, &mut cat.items, &cat.movie_positions);
    let users: Vec<i64> = (1..=p.users as i64).collect();
    let behaviour = behaviour(&mut rng, p, &world, &cat, &users);
    let groups = groups(&mut rng, p, &users, &behaviour.user_cluster);
    Planted {
        items: cat.items,
        item_cluster: cat.item_cluster,
        events: behaviour.events,
        interests: behaviour.interests,
        groups,
        links,
        users,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_data_and_events_are_ordered() {
        let p = GenParams {
            users: 50,
            items_per_kind: 30,
            ..GenParams::for_scale(Scale::S)
        };
        let a = generate(7, &p);
        let b = generate(7, &p);
        assert_eq!(a.events, b.events);
        assert_eq!(a.items, b.items);
        assert_ne!(generate(8, &p).events, a.events);
        assert!(
            a.events
                .windows(2)
                .all(|w| w[0].id < w[1].id && w[0].time <= w[1].time)
        );
        assert!(!a.links.is_empty());
        // Every user has at least the minimum activity.
        for u in &a.users {
            let n = a.events.iter().filter(|e| e.interaction.user == *u).count();
            assert!(n >= p.min_activity, "user {u} has {n}");
        }
    }
}
