use super::*;
use crate::als::AlsParams;

#[test]
fn personalised_engines_beat_baselines_on_planted_data() {
    let r = run(11, Scale::S);
    let ndcg = |n: &str| r.engines[n].ndcg;
    assert!(ndcg("CollaborativeFiltering") > ndcg("most_popular"), "{r}");
    assert!(ndcg("FromProfile") > ndcg("most_popular"), "{r}");
    assert!(ndcg("most_popular") > ndcg("random"), "{r}");
    assert!(r.content_similarity.cluster_precision > 0.8, "{r}");
    assert!(r.links.precision > 0.9 && r.links.recall > 0.9, "{r}");
    let json = serde_json::to_value(&r).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["content_similarity", "engines", "links", "timings"]);
    for name in ["merged", "random", "CollaborativeFiltering"] {
        let m = &json["engines"][name];
        for k in [
            "precision@10",
            "recall@10",
            "ndcg@10",
            "hit_rate@10",
            "coverage",
            "popularity_bias",
            "diversity",
            "novelty",
        ] {
            assert!(m[k].is_number(), "{name} {k}");
        }
    }
    // The API's list is never worse than its best engine, and popular
    // items are less novel than random ones.
    let best = [
        "CollaborativeFiltering",
        "FromProfile",
        "FromSimilarContent",
    ]
    .map(ndcg)
    .into_iter()
    .fold(0.0, f64::max);
    assert!(ndcg("merged") >= best, "{r}");
    assert!(
        r.engines["most_popular"].novelty < r.engines["random"].novelty,
        "{r}"
    );
    assert!(
        r.engines["random"].coverage > r.engines["most_popular"].coverage,
        "{r}"
    );
}

#[test]
fn export_writes_the_scored_split() {
    let dir = std::env::temp_dir().join(format!("reco-export-{}", std::process::id()));
    let p = GenParams {
        users: 40,
        items_per_kind: 20,
        ..GenParams::for_scale(Scale::S)
    };
    let sizes = export(&dir, 3, &p).unwrap();
    let planted = generate(3, &p);
    let (train, test) = split(&planted.events);
    assert_eq!((sizes.train, sizes.test), (train.len(), test.len()));
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).unwrap();
    let train_csv = read("train.csv");
    assert_eq!(train_csv.lines().count(), train.len() + 1);
    let first = train[0].interaction;
    let rating = first.rating.map(|r| r.to_string()).unwrap_or_default();
    assert_eq!(
        train_csv.lines().nth(1).unwrap(),
        format!("{},{},{},{}", first.user, first.item, rating, first.count)
    );
    assert_eq!(read("test.csv").lines().count(), test.len() + 1);
    assert_eq!(read("items.csv").lines().count(), planted.items.len() + 1);
    std::fs::remove_dir_all(&dir).unwrap();
}

fn small_dataset(seed: u64) -> (Dataset, Planted) {
    let p = GenParams {
        users: 200,
        items_per_kind: 60,
        ..GenParams::for_scale(Scale::S)
    };
    let planted = generate(seed, &p);
    let inter: Vec<Interaction> = planted.events.iter().map(|e| e.interaction).collect();
    let ds = Dataset::new(planted.items.clone(), &inter, &planted.interests, &[(3, 5)]);
    (ds, planted)
}

fn only(recs: &[Recommendation], users: &[i64]) -> Vec<Recommendation> {
    recs.iter()
        .filter(|r| users.contains(&r.subject))
        .copied()
        .collect()
}

#[test]
fn partial_runs_equal_full_runs_and_runs_are_deterministic() {
    let (ds, _) = small_dataset(5);
    let subset = [17i64, 3, 150, 99_999];
    let sims = similarity::content_similarities(&ds.items, None, &SimilarityParams::default());
    let nb = Neighbours::from_pairs(&ds, &sims);
    let als_params = AlsParams {
        factors: 8,
        iterations: 4,
        ..AlsParams::default()
    };

    let fp_full = from_profile::for_users(&ds, None, &ProfileParams::default());
    let fp_part = from_profile::for_users(&ds, Some(&subset), &ProfileParams::default());
    assert!(!fp_part.is_empty());
    assert_eq!(fp_part, only(&fp_full, &subset));

    let sc = SimilarContentParams::default();
    let fs_full = from_similar_content::for_users(&ds, &nb, None, &sc);
    let fs_part = from_similar_content::for_users(&ds, &nb, Some(&subset), &sc);
    assert!(!fs_part.is_empty());
    assert_eq!(fs_part, only(&fs_full, &subset));

    let cf_full = als::recommend(&ds, None, &als_params);
    let cf_part = als::recommend(&ds, Some(&subset), &als_params);
    assert!(!cf_part.is_empty());
    assert_eq!(cf_part, only(&cf_full, &subset));
    // Same seed, same factors; another seed, other factors.
    assert_eq!(als::recommend(&ds, None, &als_params), cf_full);
    let other = als::recommend(
        &ds,
        None,
        &AlsParams {
            seed: 7,
            ..als_params
        },
    );
    assert_ne!(other, cf_full);
    // Flagged items are never recommended.
    assert!(
        cf_full
            .iter()
            .chain(&fp_full)
            .all(|r| !(r.subject == 3 && r.item == 5))
    );

    // Similarity rows of a few items equal their rows in the full run.
    let ids = [ds.items[4].id, ds.items[200].id];
    let part =
        similarity::content_similarities(&ds.items, Some(&ids), &SimilarityParams::default());
    let full_rows: Vec<_> = sims
        .iter()
        .filter(|p| ids.contains(&p.source))
        .copied()
        .collect();
    assert_eq!(part, full_rows);

    let a = run(3, Scale::S);
    let b = run(3, Scale::S);
    assert_eq!(a.engines, b.engines);
    assert_eq!(a.content_similarity, b.content_similarity);
}

#[test]
fn cold_start_users_get_lists_in_their_genres() {
    let (ds, planted) = small_dataset(9);
    // A newcomer with interests only, in the first movie genre.
    let movie_genre = planted
        .items
        .iter()
        .find(|i| i.kind == ContentKind::Movie)
        .map(|i| i.genres[0])
        .unwrap();
    let inter: Vec<Interaction> = planted.events.iter().map(|e| e.interaction).collect();
    let mut interests = planted.interests.clone();
    interests.push((1_000_000, movie_genre));
    let ds2 = Dataset::new(ds.items.clone(), &inter, &interests, &[]);
    let recs = from_profile::for_users(&ds2, Some(&[1_000_000]), &ProfileParams::default());
    assert!(!recs.is_empty());
    for r in &recs {
        assert_eq!(r.kind, ContentKind::Movie);
        let item = &ds2.items[ds2.item_index.position(r.item).unwrap()];
        assert!(item.genres.contains(&movie_genre));
    }
}
