//! The timing loop: calibrate a batch size per side, warm up, then run the
//! two sides' batches interleaved (alternating which goes first) and take
//! the median time per operation of each.

use std::time::{Duration, Instant};

/// How long and how often to measure.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// Warm-up time per side before any batch counts.
    pub warmup: Duration,
    /// Target duration of one batch.
    pub batch: Duration,
    /// Number of measured batches per side.
    pub batches: usize,
    /// Budget per side: fewer batches are taken (but at least 5) when the
    /// operation is so slow that `batches` would exceed it.
    pub budget: Duration,
}

impl Config {
    /// `--quick`: the whole run within a minute.
    pub fn quick() -> Self {
        Self {
            warmup: Duration::from_millis(40),
            batch: Duration::from_millis(4),
            batches: 31,
            budget: Duration::from_millis(600),
        }
    }

    /// The full run: a few minutes.
    pub fn full() -> Self {
        Self {
            warmup: Duration::from_millis(300),
            batch: Duration::from_millis(10),
            batches: 101,
            budget: Duration::from_secs(4),
        }
    }
}

/// One side of a comparison: runs `n` operations and returns the time they
/// took (setup that must not be measured happens inside, outside the
/// returned duration).
pub trait Side {
    /// Runs `n` operations; returns the measured time.
    fn run(&mut self, n: u64) -> Duration;
}

impl<F: FnMut(u64) -> Duration> Side for F {
    fn run(&mut self, n: u64) -> Duration {
        self(n)
    }
}

/// A side whose operation has no setup: times `n` calls of `op`.
pub fn plain<T>(mut op: impl FnMut() -> T) -> impl FnMut(u64) -> Duration {
    move |n| {
        let start = Instant::now();
        for _ in 0..n {
            std::hint::black_box(op());
        }
        start.elapsed()
    }
}

/// Nanoseconds per operation, median over batches, of two sides measured in
/// the same run, batches interleaved.
pub fn compare(cfg: &Config, a: &mut dyn Side, b: &mut dyn Side) -> (f64, f64) {
    let na = calibrate(cfg, a);
    let nb = calibrate(cfg, b);
    warm(cfg, a, na);
    warm(cfg, b, nb);
    let per_batch = |n: u64, d: Duration| d.as_secs_f64() * 1e9 / n as f64;
    let mut ta = Vec::with_capacity(cfg.batches);
    let mut tb = Vec::with_capacity(cfg.batches);
    let started = Instant::now();
    for i in 0..cfg.batches {
        if i >= 5 && started.elapsed() > cfg.budget * 2 {
            break;
        }
        if i % 2 == 0 {
            ta.push(per_batch(na, a.run(na)));
            tb.push(per_batch(nb, b.run(nb)));
        } else {
            tb.push(per_batch(nb, b.run(nb)));
            ta.push(per_batch(na, a.run(na)));
        }
    }
    (median(&mut ta), median(&mut tb))
}

fn warm(cfg: &Config, s: &mut dyn Side, n: u64) {
    let start = Instant::now();
    while start.elapsed() < cfg.warmup {
        s.run(n);
    }
}

/// Median time per operation of one side alone.
pub fn single(cfg: &Config, a: &mut dyn Side) -> f64 {
    let n = calibrate(cfg, a);
    warm(cfg, a, n);
    let mut t = Vec::with_capacity(cfg.batches);
    let started = Instant::now();
    for i in 0..cfg.batches {
        if i >= 5 && started.elapsed() > cfg.budget {
            break;
        }
        t.push(a.run(n).as_secs_f64() * 1e9 / n as f64);
    }
    median(&mut t)
}

/// The number of operations that takes about one batch's time.
fn calibrate(cfg: &Config, s: &mut dyn Side) -> u64 {
    let mut n = 1u64;
    loop {
        let d = s.run(n);
        if d >= cfg.batch / 4 || n >= 1 << 24 {
            let per_op = d.as_secs_f64() / n as f64;
            let want = (cfg.batch.as_secs_f64() / per_op.max(1e-9)).round() as u64;
            return want.clamp(1, 1 << 24);
        }
        n *= 4;
    }
}

/// Median of a non-empty sample (0 for an empty one).
pub fn median(v: &mut [f64]) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}
