//! Collaborative-filtering NDCG@10 of chosen ALS configurations on the
//! validation split (the training part split again, as `engine tune` does)
//! or on the test split, at any scale: `engine tune` searches a wide grid at
//! scale s; this checks a few finalists at scale m too.
//!
//! `cargo run --example als_grid -- SCALE SEEDS SPLITS CONFIG...` with SEEDS
//! like `7,11,13`, SPLITS `val`, `test` or `val,test`, and each CONFIG
//! `factors/λ/α/iterations[/cg_steps]`.

use recofinement_engine::Interaction;
use recofinement_engine::als::{AlsModel, AlsParams, ConfidenceMatrix};
use recofinement_engine::evaluate::{self, Event, GenParams, Holdout, Scale};

fn config(text: &str, seed: u64) -> AlsParams {
    let v: Vec<f32> = text
        .split('/')
        .map(|x| x.parse().expect("a number"))
        .collect();
    let defaults = AlsParams::default();
    AlsParams {
        seed,
        factors: v[0] as usize,
        regularization: v[1],
        alpha: v[2],
        iterations: v[3] as usize,
        cg_steps: v.get(4).map_or(defaults.cg_steps, |&c| c as usize),
        ..defaults
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    assert!(
        args.len() >= 4,
        "usage: als_grid SCALE SEEDS SPLITS CONFIG..."
    );
    let scale = Scale::parse(&args[0]).expect("s, m or l");
    let seeds: Vec<u64> = args[1].split(',').map(|s| s.parse().unwrap()).collect();
    let splits: Vec<&str> = args[2].split(',').collect();
    let interactions =
        |e: &[Event]| -> Vec<Interaction> { e.iter().map(|e| e.interaction).collect() };
    for seed in seeds {
        let planted = evaluate::generate(seed, &GenParams::for_scale(scale));
        let (train, test) = evaluate::split(&planted.events);
        let (fit, validation) = evaluate::split(&train);
        for (name, known, held_out) in [("val", &fit, &validation), ("test", &train, &test)] {
            if !splits.contains(&name) {
                continue;
            }
            let holdout = Holdout::new(&planted, &interactions(known), &interactions(held_out));
            for text in &args[3..] {
                let params = config(text, seed);
                let c = ConfidenceMatrix::from_interactions(&holdout.ds.matrix, params.alpha);
                let recs = AlsModel::fit(&c, &params).recommend(&holdout.ds, None, params.n);
                let m = holdout.score(&holdout.lists(&recs));
                println!(
                    "{scale:?} seed {seed} {name} {text} ndcg {:.4} coverage {:.4}",
                    m.ndcg, m.coverage
                );
            }
        }
    }
}
