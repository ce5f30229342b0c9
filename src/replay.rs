//! Replay window and frame-load binding.
//!
//! Per window the core keeps the current frame load, the highest accepted
//! sequence number and a bitmap of the [`REPLAY_WINDOW`] numbers below it, so
//! envelopes may arrive out of order by up to that many and still be
//! accepted once. The state is fixed-size: [`STATE_BYTES`] bytes per window
//! plus the label, and at most [`MAX_WINDOWS`] windows.

use std::collections::HashMap;

/// How far behind the highest accepted sequence number an envelope may be.
pub const REPLAY_WINDOW: u64 = 256;
const WORDS: usize = (REPLAY_WINDOW / 64) as usize;
/// Bytes of replay state per window, not counting its label.
#[cfg(any(test, feature = "test-util"))]
pub const STATE_BYTES: usize = std::mem::size_of::<WindowState>();
/// Most windows the core tracks at once; envelopes for further windows are
/// discarded (`over_limit`).
pub const MAX_WINDOWS: usize = 65_536;

#[derive(Debug, Clone, Copy)]
struct WindowState {
    load_id: u32,
    /// Whether any envelope of `load_id` has been accepted yet.
    started: bool,
    highest: u64,
    /// Bit `i` set means `highest - i` was accepted.
    seen: [u64; WORDS],
}

impl WindowState {
    fn fresh(load_id: u32) -> Self {
        Self {
            load_id,
            started: false,
            highest: 0,
            seen: [0; WORDS],
        }
    }

    fn bit(&self, offset: u64) -> bool {
        let (word, bit) = split(offset);
        self.seen.get(word).is_some_and(|w| w & (1 << bit) != 0)
    }

    fn set(&mut self, offset: u64) {
        let (word, bit) = split(offset);
        if let Some(w) = self.seen.get_mut(word) {
            *w |= 1 << bit;
        }
    }

    /// Moves the window up by `by`, so bit offsets grow by `by`.
    fn shift(&mut self, by: u64) {
        if by >= REPLAY_WINDOW {
            self.seen = [0; WORDS];
            return;
        }
        // Multi-word left shift: bit `o` moves to bit `o + by`.
        let (word_shift, bit_shift) = split(by);
        let mut shifted = [0u64; WORDS];
        for (i, out) in shifted.iter_mut().enumerate().skip(word_shift) {
            let src = i - word_shift;
            let low = self.seen.get(src).copied().unwrap_or(0);
            *out = low << bit_shift;
            if bit_shift > 0 && src > 0 {
                let carry = self.seen.get(src - 1).copied().unwrap_or(0);
                *out |= carry >> (64 - bit_shift);
            }
        }
        self.seen = shifted;
    }
}

fn split(offset: u64) -> (usize, u32) {
    ((offset / 64) as usize, (offset % 64) as u32)
}

/// Why the replay guard refused an envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayError {
    /// The envelope belongs to an older load of the window's frame.
    StaleLoad,
    /// The sequence number was accepted before, or is too far behind.
    Replay,
    /// The guard already tracks [`MAX_WINDOWS`] windows.
    TooManyWindows,
}

/// Tracks, per window, which envelopes have been accepted.
#[derive(Debug, Default)]
pub struct ReplayGuard {
    /// The windows. SipHash with a random key (std's default), not the fast
    /// hasher of the policy's tables: a host may let pages name their
    /// windows (the demo does), and chosen labels must not be able to
    /// degrade the table.
    windows: HashMap<Box<str>, WindowState>,
    /// The newest load of any forgotten window: a window the guard does not
    /// track cannot start at or below it, so forgetting a window does not
    /// make its accepted envelopes acceptable again.
    retired: Option<u32>,
}

impl ReplayGuard {
    /// An empty guard.
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `load_id` the window's current load (the core rendered a new
    /// frame for it), retiring older loads. Never moves backwards.
    pub fn begin_load(&mut self, window: &str, load_id: u32) -> Result<(), ReplayError> {
        match self.find(window) {
            Some(state) if state.load_id >= load_id => Ok(()),
            Some(state) => {
                *state = WindowState::fresh(load_id);
                Ok(())
            }
            None => self.insert(window, WindowState::fresh(load_id)),
        }
    }

    /// The state of `window`, if tracked.
    fn find(&mut self, window: &str) -> Option<&mut WindowState> {
        self.windows.get_mut(window)
    }

    /// Starts tracking `window` (not tracked yet).
    fn insert(&mut self, window: &str, state: WindowState) -> Result<(), ReplayError> {
        if self.len() >= MAX_WINDOWS {
            return Err(ReplayError::TooManyWindows);
        }
        self.windows.insert(window.into(), state);
        Ok(())
    }

    /// Accepts `(load_id, seq)` for `window` at most once. Call only after the
    /// envelope's tag has been verified, so forgeries cannot move the window.
    pub fn accept(&mut self, window: &str, load_id: u32, seq: u64) -> Result<(), ReplayError> {
        let state = match self.find(window) {
            Some(state) => state,
            None => {
                if self.retired.is_some_and(|r| load_id <= r) {
                    return Err(ReplayError::StaleLoad);
                }
                self.insert(window, WindowState::fresh(load_id))?;
                self.find(window).ok_or(ReplayError::TooManyWindows)?
            }
        };
        if load_id < state.load_id {
            return Err(ReplayError::StaleLoad);
        }
        if load_id > state.load_id {
            *state = WindowState::fresh(load_id);
        }
        if !state.started {
            state.started = true;
            state.highest = seq;
            state.set(0);
            return Ok(());
        }
        if seq > state.highest {
            state.shift(seq - state.highest);
            state.highest = seq;
            state.set(0);
            return Ok(());
        }
        let behind = state.highest - seq;
        if behind >= REPLAY_WINDOW || state.bit(behind) {
            return Err(ReplayError::Replay);
        }
        state.set(behind);
        Ok(())
    }

    /// Number of windows tracked.
    pub fn len(&self) -> usize {
        self.windows.len()
    }

    /// The newest frame load of `window`, if tracked.
    pub fn current_load(&self, window: &str) -> Option<u32> {
        self.windows.get(window).map(|state| state.load_id)
    }

    /// Whether no window is tracked.
    #[cfg(any(test, feature = "test-util"))]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets a window (it was closed), freeing its state. Its loads, and
    /// every older load, stay retired: a window seen again must start with
    /// a newer load (as [`ReplayGuard::begin_load`] gives it).
    pub fn forget(&mut self, window: &str) {
        if let Some(state) = self.windows.remove(window) {
            self.retired = Some(self.retired.map_or(state.load_id, |r| r.max(state.load_id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Windows taking turns, loads renewed, windows forgotten: the guard
    /// answers as a plain map of windows would (the
    /// model: one list of `(label, load, accepted (load, seq) pairs)`).
    #[test]
    fn windows_in_turn_answer_as_a_plain_model_does() {
        use std::collections::{HashMap, HashSet};
        #[derive(Default)]
        struct Model {
            windows: HashMap<String, (u32, HashSet<u64>, u64)>,
            retired: Option<u32>,
        }
        let labels = [
            "main",
            "editor-1",
            "editor-2",
            "a-much-longer-window-label-than-32-bytes",
        ];
        let mut g = ReplayGuard::new();
        let mut m = Model::default();
        let mut next = crate::test_rng::xorshift(0x2545_f491);
        let mut load = 1u32;
        for _ in 0..20_000 {
            let w = labels[next() as usize % labels.len()];
            match next() % 16 {
                0 => {
                    load += 1;
                    let ours = g.begin_load(w, load);
                    let entry = m
                        .windows
                        .entry(w.to_owned())
                        .or_insert((load, HashSet::new(), 0));
                    if entry.0 < load {
                        *entry = (load, HashSet::new(), 0);
                    }
                    assert_eq!(ours, Ok(()));
                }
                1 => {
                    g.forget(w);
                    if let Some((l, _, _)) = m.windows.remove(w) {
                        m.retired = Some(m.retired.map_or(l, |r| r.max(l)));
                    }
                }
                _ => {
                    // Mostly the current load, sometimes an older one.
                    let l = load.saturating_sub(next() % 3 / 2);
                    let seq = u64::from(next() % 40);
                    let ours = g.accept(w, l, seq);
                    let expected = match m.windows.get_mut(w) {
                        None if m.retired.is_some_and(|r| l <= r) => Err(ReplayError::StaleLoad),
                        None => {
                            m.windows
                                .insert(w.to_owned(), (l, HashSet::from([seq]), seq));
                            Ok(())
                        }
                        Some((wl, _, _)) if l < *wl => Err(ReplayError::StaleLoad),
                        Some(entry) => {
                            if l > entry.0 || entry.1.is_empty() {
                                *entry = (l, HashSet::new(), seq);
                            }
                            let (_, seen, highest) = entry;
                            *highest = (*highest).max(seq);
                            if *highest - seq >= REPLAY_WINDOW || !seen.insert(seq) {
                                Err(ReplayError::Replay)
                            } else {
                                Ok(())
                            }
                        }
                    };
                    assert_eq!(ours, expected, "{w} load {l} seq {seq}");
                }
            }
            assert_eq!(g.len(), m.windows.len());
        }
    }

    #[test]
    fn each_sequence_number_is_accepted_once() {
        let mut g = ReplayGuard::new();
        assert_eq!(g.accept("w", 1, 0), Ok(()));
        assert_eq!(g.accept("w", 1, 0), Err(ReplayError::Replay));
        assert_eq!(g.accept("w", 1, 1), Ok(()));
        assert_eq!(g.accept("w", 1, 1), Err(ReplayError::Replay));
    }

    #[test]
    fn reordering_within_the_window_is_tolerated() {
        let mut g = ReplayGuard::new();
        for seq in (0..REPLAY_WINDOW).rev() {
            assert_eq!(g.accept("w", 1, seq + 10), Ok(()));
        }
        for seq in 0..REPLAY_WINDOW {
            assert_eq!(g.accept("w", 1, seq + 10), Err(ReplayError::Replay));
        }
        // Exactly REPLAY_WINDOW behind the highest is too old.
        assert_eq!(
            g.accept("w", 1, 9 + REPLAY_WINDOW),
            Err(ReplayError::Replay)
        );
        assert_eq!(g.accept("w", 1, 10 + 2 * REPLAY_WINDOW), Ok(()));
        assert_eq!(
            g.accept("w", 1, 10 + REPLAY_WINDOW),
            Err(ReplayError::Replay)
        );
        assert_eq!(g.accept("w", 1, 11 + REPLAY_WINDOW), Ok(()));
    }

    #[test]
    fn shifting_keeps_the_bits_that_stay_in_the_window() {
        let mut g = ReplayGuard::new();
        g.accept("w", 1, 100).unwrap();
        g.accept("w", 1, 98).unwrap();
        g.accept("w", 1, 170).unwrap();
        assert_eq!(g.accept("w", 1, 98), Err(ReplayError::Replay));
        assert_eq!(g.accept("w", 1, 100), Err(ReplayError::Replay));
        assert_eq!(g.accept("w", 1, 99), Ok(()));
    }

    #[test]
    fn a_newer_load_retires_the_older_one() {
        let mut g = ReplayGuard::new();
        g.accept("w", 1, 5).unwrap();
        g.accept("w", 2, 0).unwrap();
        assert_eq!(g.accept("w", 1, 6), Err(ReplayError::StaleLoad));
        g.begin_load("w", 7).unwrap();
        assert_eq!(g.accept("w", 2, 1), Err(ReplayError::StaleLoad));
        assert_eq!(g.accept("w", 7, 0), Ok(()));
        // begin_load never moves backwards.
        g.begin_load("w", 3).unwrap();
        assert_eq!(g.accept("w", 7, 0), Err(ReplayError::Replay));
    }

    #[test]
    fn windows_are_independent() {
        let mut g = ReplayGuard::new();
        g.accept("a", 1, 0).unwrap();
        assert_eq!(g.accept("b", 1, 0), Ok(()));
        assert_eq!(g.len(), 2);
        g.forget("a");
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn state_is_small() {
        assert_eq!(STATE_BYTES, 48, "docs/WIRE.md promises 48 bytes per window");
    }
}

/// The guard against a model written from docs/WIRE.md section 3 alone: per
/// window the current load, the highest accepted `seq` of that load and the
/// set of accepted `(load_id, seq)` pairs; closed windows retire their loads.
/// No bitmap, so every shift of the guard's bitmap is checked against plain
/// set membership.
#[cfg(test)]
mod model {
    use super::{ReplayError, ReplayGuard};
    use proptest::prelude::*;
    use std::collections::{BTreeMap, BTreeSet};

    /// `REPLAY_WINDOW` as WIRE.md states it (not the constant of the code).
    const WIDTH: u64 = 256;
    const LABELS: [&str; 3] = ["main", "editor", "a-much-longer-window-label-than-32-bytes"];

    #[derive(Debug)]
    struct Window {
        /// The current load: the newest rendered or accepted.
        load: u32,
        /// The highest accepted `seq` of the current load, if any.
        highest: Option<u64>,
        /// Every `(load_id, seq)` ever accepted for this window.
        accepted: BTreeSet<(u32, u64)>,
    }

    impl Window {
        fn new(load: u32) -> Self {
            Self {
                load,
                highest: None,
                accepted: BTreeSet::new(),
            }
        }
    }

    #[derive(Debug, Default)]
    struct Model {
        windows: BTreeMap<&'static str, Window>,
        /// The newest load of every closed window.
        retired: Option<u32>,
    }

    impl Model {
        /// The core rendered a frame with `load` for `window`: the newest
        /// rendered load is the current one, so an older id changes nothing.
        fn begin_load(&mut self, window: &'static str, load: u32) {
            let w = self
                .windows
                .entry(window)
                .or_insert_with(|| Window::new(load));
            if load > w.load {
                *w = Window::new(load);
            }
        }

        fn accept(&mut self, window: &'static str, load: u32, seq: u64) -> Result<(), ReplayError> {
            if !self.windows.contains_key(window) && self.retired.is_some_and(|r| load <= r) {
                return Err(ReplayError::StaleLoad);
            }
            let w = self
                .windows
                .entry(window)
                .or_insert_with(|| Window::new(load));
            if load < w.load {
                return Err(ReplayError::StaleLoad);
            }
            if load > w.load {
                // A newer load starts (and older ones are retired).
                w.load = load;
                w.highest = None;
            }
            let too_old = w.highest.is_some_and(|h| seq < h && h - seq >= WIDTH);
            if too_old || w.accepted.contains(&(load, seq)) {
                return Err(ReplayError::Replay);
            }
            w.accepted.insert((load, seq));
            w.highest = Some(w.highest.map_or(seq, |h| h.max(seq)));
            Ok(())
        }

        fn forget(&mut self, window: &'static str) {
            if let Some(w) = self.windows.remove(window) {
                self.retired = Some(self.retired.map_or(w.load, |r| r.max(w.load)));
            }
        }
    }

    /// The guard and the model side by side; every answer must agree.
    struct Pair {
        guard: ReplayGuard,
        model: Model,
        /// The newest load id issued so far (the core's counter).
        issued: u32,
    }

    impl Pair {
        fn new() -> Self {
            Self {
                guard: ReplayGuard::new(),
                model: Model::default(),
                issued: 0,
            }
        }

        fn accept(&mut self, window: &'static str, load: u32, seq: u64) -> Result<(), ReplayError> {
            let ours = self.guard.accept(window, load, seq);
            let expected = self.model.accept(window, load, seq);
            assert_eq!(ours, expected, "accept({window:?}, load {load}, seq {seq})");
            self.same_windows();
            ours
        }

        fn same_windows(&self) {
            assert_eq!(self.guard.len(), self.model.windows.len());
            assert_eq!(self.guard.is_empty(), self.model.windows.is_empty());
        }

        /// The highest accepted seq of the window's current load, or 0.
        fn highest(&self, window: &str) -> u64 {
            self.model
                .windows
                .get(window)
                .and_then(|w| w.highest)
                .unwrap_or(0)
        }

        fn apply(&mut self, op: &Op) {
            match *op {
                Op::Render { window } => {
                    self.issued += 1;
                    let w = LABELS[window];
                    assert_eq!(self.guard.begin_load(w, self.issued), Ok(()));
                    self.model.begin_load(w, self.issued);
                }
                Op::RenderOld { window, back } => {
                    // Only a tracked window can be told of an old load: the
                    // core issues ids in increasing order (WIRE.md section 3).
                    let w = LABELS[window];
                    if self.model.windows.contains_key(w) {
                        let load = self.issued.saturating_sub(back);
                        assert_eq!(self.guard.begin_load(w, load), Ok(()));
                        self.model.begin_load(w, load);
                    }
                }
                Op::Close { window } => {
                    self.guard.forget(LABELS[window]);
                    self.model.forget(LABELS[window]);
                    self.same_windows();
                }
                Op::Accept { window, load, seq } => {
                    let w = LABELS[window];
                    let current = self.model.windows.get(w).map_or(self.issued, |s| s.load);
                    let load = match load {
                        LoadPick::Current => current,
                        LoadPick::Older(back) => current.saturating_sub(back),
                        LoadPick::Newer => {
                            self.issued += 1;
                            self.issued
                        }
                        LoadPick::Issued(k) => k % (self.issued + 1),
                    };
                    let highest = if load == current { self.highest(w) } else { 0 };
                    let seq = match seq {
                        SeqPick::Ahead(d) => highest + d,
                        SeqPick::Behind(o) => highest.saturating_sub(o),
                        SeqPick::At(s) => s,
                    };
                    let _ = self.accept(w, load, seq);
                }
            }
        }
    }

    #[derive(Debug, Clone, Copy)]
    enum LoadPick {
        Current,
        Older(u32),
        Newer,
        /// Any id issued so far (possibly another window's, or a closed
        /// window's).
        Issued(u32),
    }

    #[derive(Debug, Clone, Copy)]
    enum SeqPick {
        /// `highest + d`: moves the window up by `d`.
        Ahead(u64),
        /// `highest - o`: probes bit `o`.
        Behind(u64),
        At(u64),
    }

    #[derive(Debug, Clone, Copy)]
    enum Op {
        Render {
            window: usize,
        },
        RenderOld {
            window: usize,
            back: u32,
        },
        Close {
            window: usize,
        },
        Accept {
            window: usize,
            load: LoadPick,
            seq: SeqPick,
        },
    }

    /// Shift amounts on and around every 64-bit word boundary, and past the
    /// window.
    const EDGES: [u64; 11] = [63, 64, 65, 127, 128, 129, 191, 192, 255, 256, 257];

    fn jump() -> impl Strategy<Value = u64> {
        prop_oneof![1..=300u64, proptest::sample::select(EDGES.to_vec())]
    }

    fn offset() -> impl Strategy<Value = u64> {
        prop_oneof![
            0..=300u64,
            proptest::sample::select(vec![0, 1, 62, 126, 190, 254]),
            proptest::sample::select(EDGES.to_vec()),
        ]
    }

    fn op() -> impl Strategy<Value = Op> {
        let window = 0..LABELS.len();
        let load = prop_oneof![
            12 => Just(LoadPick::Current),
            1 => (1..3u32).prop_map(LoadPick::Older),
            1 => Just(LoadPick::Newer),
            1 => any::<u32>().prop_map(LoadPick::Issued),
        ];
        let seq = prop_oneof![
            // Small steps fill the bitmap densely, jumps shift it.
            6 => (1..=3u64).prop_map(SeqPick::Ahead),
            3 => jump().prop_map(SeqPick::Ahead),
            6 => offset().prop_map(SeqPick::Behind),
            1 => (0..700u64).prop_map(SeqPick::At),
        ];
        prop_oneof![
            1 => window.clone().prop_map(|window| Op::Render { window }),
            1 => (window.clone(), 0..3u32).prop_map(|(window, back)| Op::RenderOld { window, back }),
            1 => window.clone().prop_map(|window| Op::Close { window }),
            30 => (window, load, seq).prop_map(|(window, load, seq)| Op::Accept { window, load, seq }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Random renders, envelopes and closes: the guard answers as the
        /// model of WIRE.md section 3 does.
        #[test]
        fn the_guard_answers_as_the_wire_model(ops in proptest::collection::vec(op(), 1..400)) {
            let mut pair = Pair::new();
            for op in &ops {
                pair.apply(op);
            }
        }
    }

    /// Every shift amount from 1 to 300 (every bit offset within a word, and
    /// every word offset), after a full, an alternating and a random bitmap;
    /// then every bit of the moved window, and past it, probed once.
    #[test]
    fn every_shift_keeps_every_bit() {
        let mut bits = crate::test_rng::xorshift(0x9e37_79b9);
        let patterns: [&dyn Fn(u64) -> bool; 3] = [&|_| true, &|o| o % 2 == 1, &|_| false];
        for d in 1..=300u64 {
            for (p, pattern) in patterns.iter().enumerate() {
                // The third pattern is random (a fresh draw per bit).
                let mut set = |o: u64| if p == 2 { bits() % 2 == 0 } else { pattern(o) };
                let mut pair = Pair::new();
                let top = 1_000u64;
                assert_eq!(pair.accept("w", 1, top), Ok(()));
                for o in 1..WIDTH {
                    if set(o) {
                        assert_eq!(pair.accept("w", 1, top - o), Ok(()));
                    }
                }
                assert_eq!(pair.accept("w", 1, top + d), Ok(()), "shift by {d}");
                for o in 0..=300 {
                    let _ = pair.accept("w", 1, top + d - o);
                }
            }
        }
    }

    /// The case a one-character slip in the multi-word shift let through:
    /// 0 to 69, then 100 (a shift by 31 that carries bits into word 1).
    #[test]
    fn a_carried_bit_still_refuses_its_replay() {
        let mut pair = Pair::new();
        for seq in 0..70 {
            assert_eq!(pair.accept("w", 1, seq), Ok(()));
        }
        assert_eq!(pair.accept("w", 1, 100), Ok(()));
        for seq in [20, 5, 0, 69, 100] {
            assert_eq!(
                pair.accept("w", 1, seq),
                Err(ReplayError::Replay),
                "seq {seq}"
            );
        }
        assert_eq!(pair.accept("w", 1, 70), Ok(()));
    }
}
