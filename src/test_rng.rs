//! A tiny deterministic generator for tests that sweep many inputs.

/// Xorshift32 from `seed` (not zero): the same sequence on every run.
pub(crate) fn xorshift(seed: u32) -> impl FnMut() -> u32 {
    let mut x = seed;
    move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x
    }
}
