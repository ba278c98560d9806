//! Trains ALS at the original's full scale (≈120 M interactions over
//! ≈430,000 items) and reports the time per iteration and the peak memory,
//! to check that it fits the 16 GB budget.
//!
//! ```sh
//! cargo run --release -p recofinement-engine --example full_scale -- [users] [items] [nnz] [iterations]
//! ```

use std::time::Instant;

use recofinement_engine::als::{AlsModel, AlsParams};
use recofinement_engine::benchdata;

fn peak_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(str::to_owned)
        })
        .and_then(|l| {
            l.split_whitespace()
                .nth(1)
                .and_then(|v| v.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn main() {
    let arg = |i: usize, default: usize| {
        std::env::args()
            .nth(i)
            .and_then(|a| a.parse().ok())
            .unwrap_or(default)
    };
    let (users, items, nnz, iterations) = (
        arg(1, 1_000_000),
        arg(2, 430_000),
        arg(3, 120_000_000),
        arg(4, 2),
    );
    let started = Instant::now();
    let c = benchdata::interactions(1, users, items, nnz);
    println!(
        "generated {users} users x {items} items, {} interactions in {:.1} s, peak {:.0} MiB",
        c.indices.len(),
        started.elapsed().as_secs_f64(),
        peak_mib()
    );
    let params = AlsParams {
        iterations: 0,
        ..AlsParams::default()
    };
    let ct = c.transpose();
    let mut model = AlsModel::init(c.n_rows, c.n_cols, params.factors, params.seed);
    println!("transposed, factors allocated: peak {:.0} MiB", peak_mib());
    for i in 0..iterations {
        let t = Instant::now();
        model.iterate(&c, &ct, &params);
        println!(
            "iteration {}: {:.2} s, peak {:.0} MiB",
            i + 1,
            t.elapsed().as_secs_f64(),
            peak_mib()
        );
    }
    println!("peak resident memory: {:.2} GiB", peak_mib() / 1024.0);
}
