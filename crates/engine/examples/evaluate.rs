//! Prints the offline evaluation report: `cargo run --release --example
//! evaluate -- [seed] [s|m|l] [--json]`.

use recofinement_engine::evaluate::{self, Scale};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let seed = args.first().and_then(|s| s.parse().ok()).unwrap_or(11);
    let scale = args
        .get(1)
        .and_then(|s| Scale::parse(s))
        .unwrap_or(Scale::S);
    let report = evaluate::run(seed, scale);
    if args.iter().any(|a| a == "--json") {
        println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("serialisable")
        );
    } else {
        print!("{report}");
    }
}
