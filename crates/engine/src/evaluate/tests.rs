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
    let m = &json["engines"]["random"];
    for k in [
        "precision@10",
        "recall@10",
        "ndcg@10",
        "hit_rate@10",
        "coverage",
        "popularity_bias",
    ] {
        assert!(m[k].is_number(), "{k}");
    }
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
