//! The simulator's own speed (`cargo bench -p blankslate-sim`): a generated office day of
//! 1,000 desks, and the 10,000-pupil school rush over 24 simulated hours, both with
//! blankslate's policy, every invariant checked as the run goes.
//!
//! `cargo test --all-targets` runs each benchmark once in a debug build; there the fleets
//! are cut to 100 desks so the smoke test stays quick (a full-size run is a `cargo bench`
//! matter). Measured figures and the command are in docs/BENCHMARKS.md.

use blankslate_sim::{run, scenarios, Policy};
use divan::Bencher;

fn main() {
    divan::main();
}

/// True under `cargo bench` (which passes `--bench`), false under `cargo test`.
fn benchmarking() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

fn size(full: usize) -> usize {
    if benchmarking() {
        full
    } else {
        100
    }
}

#[divan::bench(sample_count = 10)]
fn office_day_1000_desks(bencher: Bencher) {
    let desks = size(1_000);
    bencher.bench_local(|| {
        let outcome = run(scenarios::office_day(desks, 7).unwrap(), Policy::Blankslate, 7);
        assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
        outcome
    });
}

#[divan::bench(sample_count = 3)]
fn school_rush_10000_desks_24h(bencher: Bencher) {
    let desks = size(10_000);
    bencher.bench_local(|| {
        let outcome = run(scenarios::school_rush(desks, 24, 7).unwrap(), Policy::Blankslate, 7);
        assert!(outcome.violations.is_empty(), "{:?}", outcome.violations);
        outcome
    });
}
