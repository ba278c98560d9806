use super::*;

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
