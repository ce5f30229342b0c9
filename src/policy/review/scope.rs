//! Scopes as sets, for comparing policies exactly: which combinations of
//! window globs (and of origin patterns) some real sender can match at once,
//! each with an example sender, and regions of such combinations described
//! back as globs and patterns.
//!
//! Windows: the `*` globs run together as one product automaton over the
//! characters they name plus one character none of them names (every other
//! character behaves like it), searched cheapest first by bytes from every
//! one-character start, so a combination counts only if a label of 1 to 128
//! bytes has it. Origins: a finite set of representative origins (every
//! listed scheme, host, IPv6 address and port, a fresh one of each, a fresh
//! label under every `*.` suffix, and `null`) meets every combination any
//! origin can have.

use super::super::glob::Star;
use super::super::origin::{HostPattern, Origin, OriginPattern, PortPattern};
use crate::names::{is_window_label, MAX_WINDOW_LEN};
use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

/// Most product states explored for one set of window globs, and most
/// representative origins tried for one set of origin patterns. Past them
/// the comparison gives up on that name (and says so), rather than run long.
pub(crate) const MAX_STATES: usize = 20_000;

/// Which of a list of matchers one sender matches, and an example sender.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Signature {
    pub bits: Vec<bool>,
    pub example: String,
}

/// The scope space of a list of matchers was too large to explore.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TooComplex;

/// Every combination of `globs` that some window label matches, with the
/// shortest such label (fewest bytes, then smallest).
pub(crate) fn window_signatures(
    globs: &[Star],
    max_states: usize,
) -> Result<Vec<Signature>, TooComplex> {
    let tokens: Vec<Vec<Option<char>>> = globs
        .iter()
        .map(|g| {
            g.source()
                .chars()
                .map(|c| (c != '*').then_some(c))
                .collect()
        })
        .collect();
    let mut alphabet: BTreeSet<char> = tokens.iter().flatten().flatten().copied().collect();
    let fresh = ('a'..='z')
        .chain('0'..='9')
        .chain('!'..='~')
        .chain(['\u{a1}', '\u{3b1}'])
        .find(|c| !alphabet.contains(c) && is_window_label(&c.to_string()));
    alphabet.extend(fresh);
    let mut start: State = Vec::new();
    for t in &tokens {
        start.extend(closure(t, vec![0]));
        start.push(SEP);
    }
    let mut search = Search {
        ids: HashMap::new(),
        states: Vec::new(),
        dist: Vec::new(),
        heap: BinaryHeap::new(),
        max_states,
    };
    for &c in &alphabet {
        let next = step(&tokens, &start, c);
        search.offer(next, (c.len_utf8(), odd(c), c.to_string()))?;
    }
    let mut done: Vec<(usize, String)> = Vec::new();
    while let Some(Reverse((cost, penalty, label, id))) = search.heap.pop() {
        match search.dist.get_mut(id) {
            Some(d) if !d.3 && d.2 == label => d.3 = true,
            _ => continue,
        }
        let Some(state) = search.states.get(id).cloned() else {
            continue;
        };
        for &c in &alphabet {
            let more = cost + c.len_utf8();
            if more > MAX_WINDOW_LEN {
                continue;
            }
            let next = step(&tokens, &state, c);
            let mut longer = label.clone();
            longer.push(c);
            search.offer(next, (more, penalty + odd(c), longer))?;
        }
        done.push((id, label));
    }
    let states = search.states;
    let best = done
        .into_iter()
        .filter_map(|(id, label)| states.get(id).map(|s| (s.clone(), label)));
    let mut found: HashMap<Vec<bool>, String> = HashMap::new();
    for (state, label) in best {
        let bits: Vec<bool> = tokens
            .iter()
            .zip(state.split(|&x| x == SEP))
            .map(|(t, s)| s.contains(&len16(t.len())))
            .collect();
        let key = |l: &str| (l.len(), l.chars().map(odd).sum::<usize>(), l.to_owned());
        let slot = found.entry(bits).or_insert_with(|| label.clone());
        if key(&label) < key(slot) {
            *slot = label;
        }
    }
    let mut out: Vec<Signature> = found
        .into_iter()
        .map(|(bits, example)| Signature { bits, example })
        .collect();
    out.sort_by_key(|s| {
        (
            s.example.len(),
            s.example.chars().map(odd).sum::<usize>(),
            s.example.clone(),
        )
    });
    Ok(out)
}

/// A cheapest-first search over interned product states. Cost: bytes,
/// then characters that are not ASCII letters or digits (nicer examples),
/// then the label itself.
struct Search {
    ids: HashMap<State, usize>,
    states: Vec<State>,
    /// Per state: bytes, penalty, label of the best path so far; final?
    dist: Vec<(usize, usize, String, bool)>,
    heap: BinaryHeap<Reverse<(usize, usize, String, usize)>>,
    max_states: usize,
}

impl Search {
    fn offer(&mut self, next: State, key: (usize, usize, String)) -> Result<(), TooComplex> {
        let id = match self.ids.get(&next) {
            Some(&id) => id,
            None => {
                if self.states.len() >= self.max_states {
                    return Err(TooComplex);
                }
                let id = self.states.len();
                self.ids.insert(next.clone(), id);
                self.states.push(next);
                self.dist
                    .push((usize::MAX, usize::MAX, String::new(), false));
                id
            }
        };
        if let Some(d) = self.dist.get_mut(id) {
            if !d.3 && (key.0, key.1, &key.2) < (d.0, d.1, &d.2) {
                *d = (key.0, key.1, key.2.clone(), false);
                self.heap.push(Reverse((key.0, key.1, key.2, id)));
            }
        }
        Ok(())
    }
}

/// The product automaton's state: per glob, its sorted NFA positions,
/// each list ended by [`SEP`] (one allocation per state).
type State = Vec<u16>;

/// Ends one glob's positions in a [`State`] (no glob has that many).
const SEP: u16 = u16::MAX;

fn odd(c: char) -> usize {
    usize::from(!c.is_ascii_alphanumeric())
}

fn len16(n: usize) -> u16 {
    u16::try_from(n).unwrap_or(u16::MAX)
}

/// Adds the positions reachable past stars (a star may match nothing).
fn closure(tokens: &[Option<char>], mut set: Vec<u16>) -> Vec<u16> {
    let mut i = 0;
    while let Some(&p) = set.get(i) {
        if let Some(None) = tokens.get(usize::from(p)) {
            let next = p + 1;
            if !set.contains(&next) {
                set.push(next);
            }
        }
        i += 1;
    }
    set.sort_unstable();
    set
}

fn step(tokens: &[Vec<Option<char>>], state: &[u16], c: char) -> State {
    let mut out = Vec::with_capacity(state.len());
    for (t, set) in tokens.iter().zip(state.split(|&x| x == SEP)) {
        let mut next = Vec::new();
        for &p in set {
            match t.get(usize::from(p)) {
                Some(None) => next.push(p),
                Some(Some(l)) if *l == c => next.push(p + 1),
                _ => {}
            }
        }
        next.sort_unstable();
        next.dedup();
        out.extend(closure(t, next));
        out.push(SEP);
    }
    out
}

/// How an origin pattern is written back: `scheme://host[:port]`, `*` for
/// any origin, `*.domain` for subdomains, `:*` for any port.
pub(crate) fn origin_pattern_text(p: &OriginPattern) -> String {
    match p {
        OriginPattern::Any => "*".to_owned(),
        OriginPattern::Exact { scheme, host, port } => {
            let host = match host {
                HostPattern::Exact(h) => h.clone(),
                HostPattern::Ipv6(a) => format!("[{a}]"),
                HostPattern::Subdomains(s) => format!("*{s}"),
            };
            let port = match port {
                PortPattern::Any => ":*".to_owned(),
                PortPattern::Exact(Some(p)) if Some(*p) != default_port(scheme) => {
                    format!(":{p}")
                }
                PortPattern::Exact(_) => String::new(),
            };
            format!("{scheme}://{host}{port}")
        }
    }
}

fn default_port(scheme: &str) -> Option<u16> {
    match scheme {
        "http" | "ws" => Some(80),
        "https" | "wss" => Some(443),
        _ => None,
    }
}

/// Every combination of `patterns` that some request origin matches, with
/// an example origin for each.
pub(crate) fn origin_signatures(
    patterns: &[OriginPattern],
    max_candidates: usize,
) -> Result<Vec<Signature>, TooComplex> {
    let mut schemes = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut addrs = BTreeSet::new();
    let mut suffixes = BTreeSet::new();
    let mut ports = BTreeSet::new();
    for p in patterns {
        let OriginPattern::Exact { scheme, host, port } = p else {
            continue;
        };
        schemes.insert(scheme.clone());
        match host {
            HostPattern::Exact(h) => {
                names.insert(h.clone());
            }
            HostPattern::Ipv6(a) => {
                addrs.insert(*a);
            }
            HostPattern::Subdomains(s) => {
                suffixes.insert(s.clone());
            }
        }
        if let PortPattern::Exact(Some(n)) = port {
            ports.insert(*n);
        }
    }
    let fresh_label = (0u32..)
        .map(|i| format!("o{i}"))
        .find(|l| {
            !names.contains(l) && !suffixes.iter().any(|s| names.contains(&format!("{l}{s}")))
        })
        .unwrap_or_default();
    let fresh_scheme = (0u32..)
        .map(|i| format!("other{i}"))
        .find(|s| !schemes.contains(s))
        .unwrap_or_default();
    let fresh_addr = (0x1000u16..)
        .map(|i| std::net::Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, i))
        .find(|a| !addrs.contains(a));
    let fresh_port = (1u16..).find(|p| !ports.contains(p));
    let mut hosts: Vec<String> = names.iter().cloned().collect();
    hosts.extend(addrs.iter().chain(&fresh_addr).map(|a| format!("[{a}]")));
    hosts.extend(suffixes.iter().map(|s| format!("{fresh_label}{s}")));
    hosts.push(fresh_label.clone());
    let mut port_texts: Vec<Option<u16>> = vec![None];
    port_texts.extend(ports.iter().chain(&fresh_port).map(|&p| Some(p)));
    let mut all_schemes: Vec<String> = schemes.into_iter().collect();
    all_schemes.push(fresh_scheme);
    let count = all_schemes.len() * hosts.len() * port_texts.len();
    if count > max_candidates {
        return Err(TooComplex);
    }
    let mut candidates = vec!["null".to_owned()];
    for scheme in &all_schemes {
        for host in &hosts {
            for port in &port_texts {
                candidates.push(match port {
                    Some(p) => format!("{scheme}://{host}:{p}"),
                    None => format!("{scheme}://{host}"),
                });
            }
        }
    }
    let mut seen: HashMap<Vec<bool>, String> = HashMap::new();
    for origin in candidates {
        let parsed = Origin::parse(&origin);
        let bits: Vec<bool> = patterns
            .iter()
            .map(|p| p.matches(parsed.as_ref()))
            .collect();
        seen.entry(bits).or_insert(origin);
    }
    let mut out: Vec<Signature> = seen
        .into_iter()
        .map(|(bits, example)| Signature { bits, example })
        .collect();
    // `null` (an origin no pattern but `*` matches) last: examples are
    // taken from the front.
    out.sort_by(|a, b| (a.example == "null", &a.example).cmp(&(b.example == "null", &b.example)));
    Ok(out)
}

/// A conjunction over a list of matchers: every one in `all` matches, none
/// in `none` does. Indices into the list.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Conj {
    pub all: Vec<usize>,
    pub none: Vec<usize>,
}

impl Conj {
    fn holds(&self, bits: &[bool]) -> bool {
        self.all.iter().all(|&i| bits.get(i) == Some(&true))
            && self.none.iter().all(|&i| bits.get(i) != Some(&true))
    }
}

/// Describes `region` (indices into `space`, the realizable signatures) as
/// a union of conjunctions that is exactly that region of `space`: one per
/// signature, with every literal dropped that can go without taking in a
/// signature outside the region, then conjunctions another one covers
/// dropped.
pub(crate) fn describe(region: &BTreeSet<usize>, space: &[Signature]) -> Vec<Conj> {
    let inside = |c: &Conj| {
        space
            .iter()
            .enumerate()
            .all(|(i, s)| !c.holds(&s.bits) || region.contains(&i))
    };
    // Dropping literals costs about region × space × literals²; past a
    // budget the terms stay whole (still exact, only longer).
    let literals = space.first().map_or(0, |s| s.bits.len());
    let minimize = region
        .len()
        .saturating_mul(space.len())
        .saturating_mul(literals.saturating_mul(literals).max(1))
        <= 50_000_000;
    let mut terms: Vec<Conj> = Vec::new();
    for &i in region {
        let Some(sig) = space.get(i) else { continue };
        if terms.iter().any(|t| t.holds(&sig.bits)) {
            continue;
        }
        let mut term = Conj {
            all: (0..sig.bits.len())
                .filter(|&j| sig.bits.get(j) == Some(&true))
                .collect(),
            none: (0..sig.bits.len())
                .filter(|&j| sig.bits.get(j) != Some(&true))
                .collect(),
        };
        if !minimize {
            terms.push(term);
            continue;
        }
        for j in term.all.clone() {
            let mut tried = term.clone();
            tried.all.retain(|&k| k != j);
            if inside(&tried) {
                term = tried;
            }
        }
        for j in term.none.clone() {
            let mut tried = term.clone();
            tried.none.retain(|&k| k != j);
            if inside(&tried) {
                term = tried;
            }
        }
        terms.push(term);
    }
    // Drop a term whose signatures another term has.
    let covered = |a: &Conj, b: &Conj| space.iter().all(|s| !a.holds(&s.bits) || b.holds(&s.bits));
    if !minimize {
        return terms;
    }
    let mut kept: Vec<Conj> = Vec::new();
    for (i, t) in terms.iter().enumerate() {
        let redundant = terms
            .iter()
            .enumerate()
            .any(|(j, u)| j != i && covered(t, u) && (!covered(u, t) || j < i));
        if !redundant {
            kept.push(t.clone());
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sigs(globs: &[&str]) -> Vec<(Vec<bool>, String)> {
        let globs: Vec<Star> = globs.iter().map(|g| Star::new(g)).collect();
        window_signatures(&globs, MAX_STATES)
            .unwrap()
            .into_iter()
            .map(|s| (s.bits, s.example))
            .collect()
    }

    #[test]
    fn window_combinations_are_exact() {
        // `main` is never an `editor-*`; `editor-main` is both.
        let found = sigs(&["main", "editor-*", "editor-main"]);
        let mut bits: Vec<Vec<bool>> = found.iter().map(|(b, _)| b.clone()).collect();
        bits.sort();
        assert_eq!(
            bits,
            vec![
                vec![false, false, false],
                vec![false, true, false],
                vec![false, true, true],
                vec![true, false, false],
            ]
        );
        for (bits, example) in &found {
            let globs = ["main", "editor-*", "editor-main"];
            for (g, b) in globs.iter().zip(bits) {
                assert_eq!(Star::new(g).matches(example), *b, "{example} {g}");
            }
        }
        // Both globs at once needs `a` then `b` with room between.
        let both = sigs(&["a*", "*b"]);
        assert!(both.iter().any(|(b, e)| b == &[true, true] && e == "ab"));
        // No label has 1 byte and 129 bytes at once; none is empty.
        let long = "x".repeat(MAX_WINDOW_LEN);
        let found = sigs(&[&format!("{long}*"), "*y"]);
        assert!(!found.iter().any(|(b, _)| b == &[true, true]));
        assert!(found.iter().any(|(b, _)| b == &[true, false]));
    }

    #[test]
    fn too_many_states_is_reported() {
        let globs: Vec<Star> = ["*a*b*", "*b*a*", "*ab*"]
            .iter()
            .map(|g| Star::new(g))
            .collect();
        assert_eq!(window_signatures(&globs, 3), Err(TooComplex));
        assert!(window_signatures(&globs, MAX_STATES).is_ok());
    }

    #[test]
    fn origin_combinations_are_exact() {
        let pats: Vec<OriginPattern> = [
            "https://*.example.com",
            "https://a.example.com",
            "http://127.0.0.1:*",
            "tauri://localhost",
            "*",
        ]
        .iter()
        .map(|p| OriginPattern::parse(p).unwrap())
        .collect();
        let found = origin_signatures(&pats, MAX_STATES).unwrap();
        let mut bits: Vec<Vec<bool>> = found.iter().map(|s| s.bits.clone()).collect();
        bits.sort();
        assert_eq!(
            bits,
            vec![
                vec![false, false, false, false, true],
                vec![false, false, false, true, true],
                vec![false, false, true, false, true],
                vec![true, false, false, false, true],
                vec![true, true, false, false, true],
            ]
        );
        for p in &pats {
            assert_eq!(OriginPattern::parse(&origin_pattern_text(p)).unwrap(), *p);
        }
    }

    #[test]
    fn regions_are_described_exactly() {
        let globs: Vec<Star> = ["main", "editor-*", "editor-main"]
            .iter()
            .map(|g| Star::new(g))
            .collect();
        let space = window_signatures(&globs, MAX_STATES).unwrap();
        // The `editor-*` windows other than `editor-main`.
        let region: BTreeSet<usize> = space
            .iter()
            .enumerate()
            .filter(|(_, s)| s.bits == [false, true, false])
            .map(|(i, _)| i)
            .collect();
        assert_eq!(
            describe(&region, &space),
            vec![Conj {
                all: vec![1],
                none: vec![2]
            }]
        );
        let all: BTreeSet<usize> = (0..space.len()).collect();
        assert_eq!(
            describe(&all, &space),
            vec![Conj {
                all: vec![],
                none: vec![]
            }]
        );
    }
}
