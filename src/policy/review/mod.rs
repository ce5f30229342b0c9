//! Reviewing policies (`docs/POLICY.md`, "Reviewing policies"): what a
//! change of policy files lets through that was refused before and the
//! reverse ([`diff`]), what one sender may send ([`who_can`]), and which
//! rules recorded traffic used ([`Coverage`]). The `isogate diff`,
//! `who-can` and `coverage` commands print these.
//!
//! The diff is sound first: every message the new policy allows and the
//! old one refuses is in the scope of a [`Change::Widened`] finding
//! ([`Finding::covers`]). Names, windows and origins are compared exactly,
//! as sets; argument constraints count as unchanged only when the old
//! rules provably accept everything the new rule accepts.
//!
//! ```
//! use isogate::review::{diff, Change};
//! use isogate::{Policy, PolicySource};
//!
//! # fn main() -> Result<(), isogate::PolicyErrors> {
//! let load = |text| Policy::load(&[PolicySource { name: "p.json", text }]);
//! let old = load(r#"{"version": 1, "rules": [
//!   {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"]}]}"#)?;
//! let new = load(r#"{"version": 1, "rules": [
//!   {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main", "editor-*"]}]}"#)?;
//! let d = diff(&old, &new);
//! assert!(d.widens());
//! assert_eq!(d.findings.len(), 1);
//! assert_eq!(d.findings[0].change, Change::Widened);
//! assert_eq!(d.findings[0].windows[0].all_of, ["editor-*"]);
//! # Ok(())
//! # }
//! ```

mod contain;
mod scope;

use super::constraint::Constraint;
use super::glob::Star;
use super::model::{Effect, Name, Rule};
use super::origin::{Origin, OriginPattern};
use super::{Policy, Request};
use crate::message::{Json, MessageKind};
use scope::{Conj, Signature, TooComplex, MAX_STATES};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a finding of a [`Diff`] says changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Change {
    /// The new policy allows messages the old one refused.
    Widened,
    /// The old policy allowed messages the new one refuses.
    Narrowed,
    /// An old deny rule no longer applies here (this alone allows nothing).
    DenyLifted,
    /// A new deny rule applies here.
    DenyAdded,
}

impl Change {
    /// `widened`, `narrowed`, `deny-lifted` or `deny-added`.
    pub fn as_str(self) -> &'static str {
        match self {
            Change::Widened => "widened",
            Change::Narrowed => "narrowed",
            Change::DenyLifted => "deny-lifted",
            Change::DenyAdded => "deny-added",
        }
    }
}

/// How the other policy treats a finding's scope: the old one for
/// [`Change::Widened`], the new one for [`Change::Narrowed`].
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Other {
    /// No allow rule names it there.
    NotAllowed,
    /// These deny rules refuse it there.
    DeniedBy(Vec<String>),
    /// These allow rules allow it there, but not provably with every
    /// argument the finding's rule accepts.
    OtherArgs(Vec<String>),
    /// Not compared: the scopes were too complex to explore (counted as
    /// changed, so the diff stays sound).
    NotCompared,
    /// For deny findings: no deny rule of the other policy applies there.
    NoDeny,
    /// For deliveries: the other policy has `deliver` rules, and this one
    /// none, so it delivers every event (a finding over every delivery).
    Governed,
}

impl Other {
    fn state(&self) -> &'static str {
        match self {
            Other::NotAllowed => "not-allowed",
            Other::DeniedBy(_) => "denied",
            Other::OtherArgs(_) => "other-args",
            Other::NotCompared => "not-compared",
            Other::NoDeny => "no-deny",
            Other::Governed => "governed",
        }
    }

    fn rules(&self) -> &[String] {
        match self {
            Other::DeniedBy(r) | Other::OtherArgs(r) => r,
            _ => &[],
        }
    }
}

/// One conjunction of a scope: a window (origin) is in it when it matches
/// every entry of `all_of` and none of `none_of`, entries written as in
/// policy files. A scope is a list of terms, any of which may hold; a term
/// with both lists empty is every window (origin).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term {
    /// Entries the sender matches, all of them.
    pub all_of: Vec<String>,
    /// Entries the sender matches none of.
    pub none_of: Vec<String>,
}

/// An example sender in a finding's scope (the shortest window label
/// found, an origin built from the entries).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    /// A message name in the finding.
    pub name: String,
    /// A window label in its window scope.
    pub window: String,
    /// An origin in its origin scope.
    pub origin: String,
}

/// One change between two policies: (kind, names, window scope, origin
/// scope, argument constraint), the rule behind it and what the other
/// policy does there.
#[derive(Debug, Clone)]
pub struct Finding {
    /// What changed.
    pub change: Change,
    /// Command or event.
    pub kind: MessageKind,
    /// Exact names, and `plugin:NAME|*` for the names of a plugin that
    /// are not in [`Finding::other_than`].
    pub names: Vec<String>,
    /// Names the `plugin:NAME|*` entries of `names` leave out (each rule
    /// that lists them exactly decides those separately).
    pub other_than: Vec<String>,
    /// Where (windows): any of these terms.
    pub windows: Vec<Term>,
    /// Where (origins): any of these terms.
    pub origins: Vec<Term>,
    /// The allow rule that allows it now ([`Change::Widened`]) or did
    /// ([`Change::Narrowed`]); the deny rules for deny findings.
    pub rules: Vec<String>,
    /// That allow rule's constraint on the args (payload), as policy JSON.
    pub constraint: Option<Value>,
    /// What the other policy does in this scope.
    pub other: Other,
    /// A sender in the scope.
    pub example: Example,
    classes: Vec<NameClass>,
    window_terms: Vec<(Vec<Star>, Vec<Star>)>,
    origin_terms: Vec<(Vec<OriginPattern>, Vec<OriginPattern>)>,
    check: Option<Constraint>,
}

/// A change of the composed limits or rate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitChange {
    /// `max_message_bytes`, `max_depth`, `max_items`, `max_args`,
    /// `rate.per_second` or `rate.burst`.
    pub name: &'static str,
    /// The old value; `None`: no rate (unthrottled).
    pub old: Option<u64>,
    /// The new value; `None`: no rate.
    pub new: Option<u64>,
    /// Whether the new value lets more through.
    pub widened: bool,
}

/// Everything that changed between two policies, in a stable order.
#[derive(Debug, Clone)]
pub struct Diff {
    /// Findings, widened first, then narrowed, lifted and added denies.
    pub findings: Vec<Finding>,
    /// Changed limits and rate.
    pub limits: Vec<LimitChange>,
}

/// A set of message names that every rule of two policies treats alike:
/// one exact name, or the names of a plugin no rule lists exactly (or
/// every name, for deliveries one policy does not govern).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum NameClass {
    Exact(String),
    Plugin { prefix: String, except: Vec<String> },
    All,
}

impl NameClass {
    /// The exact names a plugin wildcard's class leaves out.
    fn other_than(&self) -> Vec<String> {
        match self {
            NameClass::Plugin { except, .. } => except.clone(),
            NameClass::Exact(_) | NameClass::All => Vec::new(),
        }
    }

    fn contains(&self, name: &str) -> bool {
        match self {
            NameClass::Exact(n) => n == name,
            NameClass::Plugin { prefix, except } => {
                name.len() > prefix.len()
                    && name.starts_with(prefix.as_str())
                    && !except.iter().any(|e| e == name)
            }
            NameClass::All => true,
        }
    }

    fn named_by(&self, rule: &Rule) -> bool {
        rule.names.iter().any(|n| match self {
            NameClass::Exact(e) => n.matches(e),
            NameClass::Plugin { prefix, .. } => matches!(n, Name::Plugin(p) if p == prefix),
            NameClass::All => true,
        })
    }

    fn text(&self) -> String {
        match self {
            NameClass::Exact(n) => n.clone(),
            NameClass::Plugin { prefix, .. } => format!("{prefix}*"),
            NameClass::All => "*".to_owned(),
        }
    }

    fn example(&self) -> String {
        match self {
            NameClass::Exact(n) => n.clone(),
            NameClass::Plugin { prefix, except } => (0u32..)
                .map(|i| format!("{prefix}x{i}"))
                .find(|n| !except.contains(n))
                .unwrap_or_default(),
            NameClass::All => "any".to_owned(),
        }
    }
}

/// The name classes of `kind` over the rules of some policies.
fn name_classes(kind: MessageKind, policies: &[&Policy]) -> Vec<NameClass> {
    let mut exact = BTreeSet::new();
    let mut prefixes = BTreeSet::new();
    for rule in policies.iter().flat_map(|p| &p.rules) {
        if rule.kind != kind {
            continue;
        }
        for n in &rule.names {
            match n {
                Name::Exact(e) => exact.insert(e.clone()),
                Name::Plugin(p) => prefixes.insert(p.clone()),
            };
        }
    }
    let mut out: Vec<NameClass> = exact.iter().cloned().map(NameClass::Exact).collect();
    for prefix in prefixes {
        let except = exact
            .iter()
            .filter(|e| e.len() > prefix.len() && e.starts_with(prefix.as_str()))
            .cloned()
            .collect();
        out.push(NameClass::Plugin { prefix, except });
    }
    out
}

/// Which policy a rule is from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Old,
    New,
}

/// What a finding is about, before its scope: cells with equal keys merge.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    change: Change,
    /// Index into the class's rules of the allow rule, or `None` for deny
    /// findings.
    rule: Option<usize>,
    rules: Vec<String>,
    other: Other,
}

/// Compares two policies: every (kind, name, window scope, origin scope,
/// argument constraint) one allows and the other did not, denies that
/// appear or disappear, and changed limits.
pub fn diff(old: &Policy, new: &Policy) -> Diff {
    diff_with(old, new, MAX_STATES)
}

fn diff_with(old: &Policy, new: &Policy, max_states: usize) -> Diff {
    let mut raw: Vec<Finding> = Vec::new();
    for kind in [MessageKind::Invoke, MessageKind::Emit, MessageKind::Deliver] {
        if kind == MessageKind::Deliver && old.governs_delivery() != new.governs_delivery() {
            // One side delivers every event (no `deliver` rules).
            let change = if new.governs_delivery() {
                Change::Narrowed
            } else {
                Change::Widened
            };
            raw.push(everything(change));
        }
        for class in name_classes(kind, &[old, new]) {
            let rules: Vec<(Side, &Rule)> = old
                .rules
                .iter()
                .map(|r| (Side::Old, r))
                .chain(new.rules.iter().map(|r| (Side::New, r)))
                .filter(|(_, r)| r.kind == kind && class.named_by(r))
                .collect();
            let mut found = Vec::new();
            compare_class(kind, &class, &rules, max_states, &mut found);
            if kind == MessageKind::Deliver && old.governs_delivery() != new.governs_delivery() {
                // The finding over everything says what is allowed; the
                // denies of the side that has rules still count.
                found.retain(|f| matches!(f.change, Change::DenyLifted | Change::DenyAdded));
            }
            raw.extend(found);
        }
    }
    // One finding for the names that share everything else.
    let mut merged: Vec<Finding> = Vec::new();
    for f in raw {
        let same = merged.iter_mut().find(|m| {
            m.change == f.change
                && m.kind == f.kind
                && m.rules == f.rules
                && m.other == f.other
                && m.windows == f.windows
                && m.origins == f.origins
                && m.constraint == f.constraint
        });
        match same {
            Some(m) => {
                m.names.extend(f.names);
                m.other_than.extend(f.other_than);
                m.classes.extend(f.classes);
            }
            None => merged.push(f),
        }
    }
    merged.sort_by(|a, b| {
        (
            a.change,
            kind_rank(a.kind),
            &a.names,
            &a.rules,
            &a.windows,
            &a.origins,
        )
            .cmp(&(
                b.change,
                kind_rank(b.kind),
                &b.names,
                &b.rules,
                &b.windows,
                &b.origins,
            ))
    });
    Diff {
        findings: merged,
        limits: limit_changes(old, new),
    }
}

fn kind_rank(kind: MessageKind) -> u8 {
    match kind {
        MessageKind::Invoke => 0,
        MessageKind::Emit => 1,
        MessageKind::Deliver => 2,
    }
}

fn limit_changes(old: &Policy, new: &Policy) -> Vec<LimitChange> {
    let (o, n) = (old.limits(), new.limits());
    let as_u64 = |v: usize| u64::try_from(v).unwrap_or(u64::MAX);
    let mut out = Vec::new();
    for (name, a, b) in [
        (
            "max_message_bytes",
            o.max_message_bytes,
            n.max_message_bytes,
        ),
        ("max_depth", o.max_depth, n.max_depth),
        ("max_items", o.max_items, n.max_items),
        ("max_args", o.max_args, n.max_args),
    ] {
        if a != b {
            out.push(LimitChange {
                name,
                old: Some(as_u64(a)),
                new: Some(as_u64(b)),
                widened: b > a,
            });
        }
    }
    let rate = |p: &Policy, f: fn(&super::Rate) -> u32| p.rate().map(|r| u64::from(f(&r)));
    for (name, f) in [
        (
            "rate.per_second",
            (|r: &super::Rate| r.per_second) as fn(&super::Rate) -> u32,
        ),
        ("rate.burst", |r: &super::Rate| r.burst),
    ] {
        let (a, b) = (rate(old, f), rate(new, f));
        if a != b {
            let widened = match (a, b) {
                (_, None) => true,
                (None, Some(_)) => false,
                (Some(a), Some(b)) => b > a,
            };
            out.push(LimitChange {
                name,
                old: a,
                new: b,
                widened,
            });
        }
    }
    out
}

/// The findings for one name class.
fn compare_class(
    kind: MessageKind,
    class: &NameClass,
    rules: &[(Side, &Rule)],
    max_states: usize,
    out: &mut Vec<Finding>,
) {
    let mut globs: Vec<Star> = Vec::new();
    let mut patterns: Vec<OriginPattern> = Vec::new();
    for (_, r) in rules {
        for g in &r.windows {
            if !globs.iter().any(|x| x.source() == g.source()) {
                globs.push(g.clone());
            }
        }
        for p in r.origins.iter().flatten() {
            if !patterns.contains(p) {
                patterns.push(p.clone());
            }
        }
    }
    let spaces = scope::window_signatures(&globs, max_states)
        .and_then(|w| Ok((w, scope::origin_signatures(&patterns, max_states)?)));
    let (wsig, osig) = match spaces {
        Ok(s) => s,
        Err(TooComplex) => {
            not_compared(kind, class, rules, out);
            return;
        }
    };
    let in_windows: Vec<Vec<bool>> = rules
        .iter()
        .map(|(_, r)| {
            wsig.iter()
                .map(|s| {
                    r.windows.iter().any(|g| {
                        globs
                            .iter()
                            .position(|x| x.source() == g.source())
                            .and_then(|i| s.bits.get(i).copied())
                            .unwrap_or(false)
                    })
                })
                .collect()
        })
        .collect();
    let in_origins: Vec<Vec<bool>> = rules
        .iter()
        .map(|(_, r)| {
            osig.iter()
                .map(|s| match &r.origins {
                    None => true,
                    Some(ps) => ps.iter().any(|p| {
                        patterns
                            .iter()
                            .position(|x| x == p)
                            .and_then(|i| s.bits.get(i).copied())
                            .unwrap_or(false)
                    }),
                })
                .collect()
        })
        .collect();
    let mut cells: BTreeMap<Key, BTreeSet<(usize, usize)>> = BTreeMap::new();
    let mut cache: HashMap<(Vec<usize>, usize), bool> = HashMap::new();
    for wi in 0..wsig.len() {
        for oi in 0..osig.len() {
            let scope: Vec<usize> = (0..rules.len())
                .filter(|&i| {
                    in_windows.get(i).and_then(|v| v.get(wi)) == Some(&true)
                        && in_origins.get(i).and_then(|v| v.get(oi)) == Some(&true)
                })
                .collect();
            let pick = |side: Side, effect: Effect| -> Vec<usize> {
                scope
                    .iter()
                    .copied()
                    .filter(|&i| {
                        rules
                            .get(i)
                            .is_some_and(|(s, r)| *s == side && r.effect == effect)
                    })
                    .collect()
            };
            let ids = |idx: &[usize]| -> Vec<String> {
                idx.iter()
                    .filter_map(|&i| rules.get(i).map(|(_, r)| r.id.clone()))
                    .collect()
            };
            let (old_deny, new_deny) =
                (pick(Side::Old, Effect::Deny), pick(Side::New, Effect::Deny));
            let (old_allow, new_allow) = (
                pick(Side::Old, Effect::Allow),
                pick(Side::New, Effect::Allow),
            );
            for (change, deny_mine, deny_other, allow_mine, allow_other) in [
                (
                    Change::Widened,
                    &new_deny,
                    &old_deny,
                    &new_allow,
                    &old_allow,
                ),
                (
                    Change::Narrowed,
                    &old_deny,
                    &new_deny,
                    &old_allow,
                    &new_allow,
                ),
            ] {
                if !deny_mine.is_empty() {
                    continue;
                }
                for &r in allow_mine {
                    let other = if !deny_other.is_empty() {
                        Other::DeniedBy(ids(deny_other))
                    } else if allow_other.is_empty() {
                        Other::NotAllowed
                    } else {
                        let covered = *cache.entry((allow_other.clone(), r)).or_insert_with(|| {
                            let olds: Vec<&Constraint> = allow_other
                                .iter()
                                .filter_map(|&i| rules.get(i).map(|(_, r)| &r.constraint))
                                .collect();
                            rules
                                .get(r)
                                .is_some_and(|(_, rule)| contain::covered(&olds, &rule.constraint))
                        });
                        if covered {
                            continue;
                        }
                        Other::OtherArgs(ids(allow_other))
                    };
                    let key = Key {
                        change,
                        rule: Some(r),
                        rules: ids(&[r]),
                        other,
                    };
                    cells.entry(key).or_default().insert((wi, oi));
                }
            }
            for (change, mine, other) in [
                (Change::DenyLifted, &old_deny, &new_deny),
                (Change::DenyAdded, &new_deny, &old_deny),
            ] {
                if !mine.is_empty() && other.is_empty() {
                    let key = Key {
                        change,
                        rule: None,
                        rules: ids(mine),
                        other: Other::NoDeny,
                    };
                    cells.entry(key).or_default().insert((wi, oi));
                }
            }
        }
    }
    for (key, set) in cells {
        // Split the cells into products of a window region and an
        // origin region.
        let mut by_origin: BTreeMap<usize, BTreeSet<usize>> = BTreeMap::new();
        for (wi, oi) in set {
            by_origin.entry(oi).or_default().insert(wi);
        }
        let mut products: BTreeMap<BTreeSet<usize>, BTreeSet<usize>> = BTreeMap::new();
        for (oi, ws) in by_origin {
            products.entry(ws).or_default().insert(oi);
        }
        let rule = key.rule.and_then(|i| rules.get(i)).map(|(_, r)| *r);
        for (ws, os) in products {
            let wterms = scope::describe(&ws, &wsig);
            let oterms = scope::describe(&os, &osig);
            let pick_globs = |idx: &[usize]| -> Vec<Star> {
                idx.iter().filter_map(|&i| globs.get(i).cloned()).collect()
            };
            let pick_pats = |idx: &[usize]| -> Vec<OriginPattern> {
                idx.iter()
                    .filter_map(|&i| patterns.get(i).cloned())
                    .collect()
            };
            let window_terms: Vec<(Vec<Star>, Vec<Star>)> = wterms
                .iter()
                .map(|c: &Conj| (pick_globs(&c.all), pick_globs(&c.none)))
                .collect();
            let origin_terms: Vec<(Vec<OriginPattern>, Vec<OriginPattern>)> = oterms
                .iter()
                .map(|c| (pick_pats(&c.all), pick_pats(&c.none)))
                .collect();
            let example = |set: &BTreeSet<usize>, space: &[Signature]| {
                set.iter()
                    .next()
                    .and_then(|&i| space.get(i))
                    .map(|s| s.example.clone())
                    .unwrap_or_default()
            };
            out.push(Finding {
                change: key.change,
                kind,
                names: vec![class.text()],
                other_than: class.other_than(),
                windows: window_words(&window_terms),
                origins: origin_words(&origin_terms),
                rules: key.rules.clone(),
                constraint: rule.map(|r| contain::to_json(&r.constraint)),
                other: key.other.clone(),
                example: Example {
                    name: class.example(),
                    window: example(&ws, &wsig),
                    origin: example(&os, &osig),
                },
                classes: vec![class.clone()],
                window_terms,
                origin_terms,
                check: rule.map(|r| r.constraint.clone()),
            });
        }
    }
}

/// Window terms in words: each glob's source.
fn window_words(terms: &[(Vec<Star>, Vec<Star>)]) -> Vec<Term> {
    words(terms, |g| g.source().to_owned())
}

/// Origin terms in words: each pattern as written.
fn origin_words(terms: &[(Vec<OriginPattern>, Vec<OriginPattern>)]) -> Vec<Term> {
    words(terms, scope::origin_pattern_text)
}

fn words<T>(terms: &[(Vec<T>, Vec<T>)], text: impl Fn(&T) -> String) -> Vec<Term> {
    terms
        .iter()
        .map(|(all, none)| Term {
            all_of: all.iter().map(&text).collect(),
            none_of: none.iter().map(&text).collect(),
        })
        .collect()
}

/// The finding over every delivery (any name, window, origin and
/// payload): one policy has no `deliver` rules, so it delivers everything.
fn everything(change: Change) -> Finding {
    let any = || {
        vec![Term {
            all_of: Vec::new(),
            none_of: Vec::new(),
        }]
    };
    Finding {
        change,
        kind: MessageKind::Deliver,
        names: vec![NameClass::All.text()],
        other_than: Vec::new(),
        windows: any(),
        origins: any(),
        rules: Vec::new(),
        constraint: None,
        other: Other::Governed,
        example: Example {
            name: NameClass::All.example(),
            window: String::new(),
            origin: String::new(),
        },
        classes: vec![NameClass::All],
        window_terms: vec![(Vec::new(), Vec::new())],
        origin_terms: vec![(Vec::new(), Vec::new())],
        check: None,
    }
}

/// Whether two rules say the same (their positions aside).
fn same_rule(a: &Rule, b: &Rule) -> bool {
    a.id == b.id
        && a.effect == b.effect
        && a.kind == b.kind
        && a.names == b.names
        && a.windows.len() == b.windows.len()
        && a.windows
            .iter()
            .zip(&b.windows)
            .all(|(x, y)| x.source() == y.source())
        && a.origins == b.origins
        && contain::to_json(&a.constraint) == contain::to_json(&b.constraint)
}

/// The findings of a class whose scopes were too complex to explore: every
/// new allow rule counts as widened over all of its scope, unless the old
/// policy has the same rule and every old deny rule of the class is in the
/// new one too (then whatever the rule allows now, it allowed before).
fn not_compared(
    kind: MessageKind,
    class: &NameClass,
    rules: &[(Side, &Rule)],
    out: &mut Vec<Finding>,
) {
    let in_side = |side: Side, r: &Rule| {
        rules
            .iter()
            .any(|(s, other)| *s == side && same_rule(r, other))
    };
    let denies_kept = rules
        .iter()
        .filter(|(s, r)| *s == Side::Old && r.effect == Effect::Deny)
        .all(|(_, d)| in_side(Side::New, d));
    for (_, r) in rules
        .iter()
        .filter(|(s, r)| *s == Side::New && r.effect == Effect::Allow)
        .filter(|(_, r)| !(denies_kept && in_side(Side::Old, r)))
    {
        let window_terms: Vec<(Vec<Star>, Vec<Star>)> = r
            .windows
            .iter()
            .map(|g| (vec![g.clone()], Vec::new()))
            .collect();
        let origin_terms: Vec<(Vec<OriginPattern>, Vec<OriginPattern>)> = match &r.origins {
            None => vec![(Vec::new(), Vec::new())],
            Some(ps) => ps.iter().map(|p| (vec![p.clone()], Vec::new())).collect(),
        };
        out.push(Finding {
            change: Change::Widened,
            kind,
            names: vec![class.text()],
            other_than: class.other_than(),
            windows: window_words(&window_terms),
            origins: origin_words(&origin_terms),
            rules: vec![r.id.clone()],
            constraint: Some(contain::to_json(&r.constraint)),
            other: Other::NotCompared,
            example: Example {
                name: class.example(),
                window: String::new(),
                origin: String::new(),
            },
            classes: vec![class.clone()],
            window_terms,
            origin_terms,
            check: Some(r.constraint.clone()),
        });
    }
}

impl Finding {
    /// Whether a request is in this finding's scope: its kind, one of its
    /// names, a window and an origin in its scope, and (when the finding
    /// has a constraint) arguments the constraint accepts. Every request
    /// the new policy allows and the old one refuses is covered by a
    /// [`Change::Widened`] finding.
    pub fn covers(&self, req: &Request<'_>) -> bool {
        let parsed = Origin::parse(req.origin);
        req.kind == self.kind
            && self.classes.iter().any(|c| c.contains(req.name))
            && self.window_terms.iter().any(|(all, none)| {
                all.iter().all(|g| g.matches(req.window))
                    && !none.iter().any(|g| g.matches(req.window))
            })
            && self.origin_terms.iter().any(|(all, none)| {
                all.iter().all(|p| p.matches(parsed.as_ref()))
                    && !none.iter().any(|p| p.matches(parsed.as_ref()))
            })
            && self
                .check
                .as_ref()
                .map_or(true, |c| c.check(&Json::from_value(req.args), None).is_ok())
    }

    /// The finding as one line of words (the output of `isogate diff`).
    pub fn line(&self) -> String {
        let what = format!(
            "{} {} in {} at {}",
            kind_word(self.kind, self.names.len() > 1),
            self.names_text(),
            scope_text(&self.windows, "window", "windows"),
            scope_text(&self.origins, "origin", "origins")
        );
        let with = match &self.constraint {
            Some(c) => format!(
                " with {} {}",
                if self.kind == MessageKind::Invoke {
                    "args"
                } else {
                    "payload"
                },
                canonical(c)
            ),
            None => String::new(),
        };
        let rules = rule_list(&self.rules);
        let body = match (self.change, &self.other) {
            (Change::Widened, Other::Governed) => format!(
                "widened: {what}: the new policy has no `deliver` rules, so every event the core sends is delivered; before: only what `deliver` rules allowed"
            ),
            (_, Other::Governed) => format!(
                "narrowed: {what}: the old policy had no `deliver` rules, so every event the core sent was delivered; now: only what `deliver` rules allow"
            ),
            _ => self.body(&what, &with, &rules),
        };
        if self.example.window.is_empty() {
            return body;
        }
        format!(
            "{body} (e.g. window `{}` at origin `{}`)",
            self.example.window, self.example.origin
        )
    }

    fn body(&self, what: &str, with: &str, rules: &str) -> String {
        match self.change {
            Change::Widened => format!(
                "widened: {what}{with}: allowed by {rules}; before: {}",
                other_text(&self.other, false)
            ),
            Change::Narrowed => format!(
                "narrowed: {what}{with}: was allowed by {rules}; now: {}",
                other_text(&self.other, true)
            ),
            Change::DenyLifted => {
                format!("deny lifted: {what}: was denied by {rules}; now no deny rule applies")
            }
            Change::DenyAdded => {
                format!("deny added: {what}: now denied by {rules}; before no deny rule applied")
            }
        }
    }

    fn names_text(&self) -> String {
        let names = self
            .names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ");
        if self.other_than.is_empty() {
            return names;
        }
        format!(
            "{names} (other than {})",
            self.other_than
                .iter()
                .map(|n| format!("`{n}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    }

    /// The finding as JSON: `change`, `kind` (`command`, `event` or
    /// `deliver`),
    /// `names`, `other_than`, `windows` and `origins` (lists of
    /// `{"all_of", "none_of"}`), `rules`, `constraint` (or `null`),
    /// `other` (`{"state", "rules"}`) and `example`.
    pub fn to_json(&self) -> Value {
        let terms = |ts: &[Term]| -> Value {
            ts.iter()
                .map(|t| json!({"all_of": t.all_of, "none_of": t.none_of}))
                .collect()
        };
        json!({
            "change": self.change.as_str(),
            "kind": kind_token(self.kind),
            "names": self.names,
            "other_than": self.other_than,
            "windows": terms(&self.windows),
            "origins": terms(&self.origins),
            "rules": self.rules,
            "constraint": self.constraint,
            "other": {"state": self.other.state(), "rules": self.other.rules()},
            "example": {"name": self.example.name, "window": self.example.window, "origin": self.example.origin},
        })
    }
}

impl LimitChange {
    /// The change as one line of words.
    pub fn line(&self) -> String {
        let v = |x: Option<u64>| x.map_or("none".to_owned(), |n| n.to_string());
        format!(
            "{}: limit `{}` {} -> {}",
            if self.widened { "widened" } else { "narrowed" },
            self.name,
            v(self.old),
            v(self.new)
        )
    }
}

impl Diff {
    /// Whether the new policy lets anything through that the old one did
    /// not: a [`Change::Widened`] finding or a widened limit.
    pub fn widens(&self) -> bool {
        self.findings.iter().any(|f| f.change == Change::Widened)
            || self.limits.iter().any(|l| l.widened)
    }

    /// One line per finding, then per limit change, then a summary line.
    pub fn lines(&self) -> Vec<String> {
        let mut out: Vec<String> = self.findings.iter().map(Finding::line).collect();
        out.extend(self.limits.iter().map(LimitChange::line));
        let count = |c: Change| self.findings.iter().filter(|f| f.change == c).count();
        let limits = |w: bool| self.limits.iter().filter(|l| l.widened == w).count();
        out.push(format!(
            "summary: widened {}, narrowed {}, deny lifted {}, deny added {}; access {}",
            count(Change::Widened) + limits(true),
            count(Change::Narrowed) + limits(false),
            count(Change::DenyLifted),
            count(Change::DenyAdded),
            if self.widens() {
                "widens"
            } else {
                "does not widen"
            }
        ));
        out
    }

    /// The diff as one JSON document: `{"widens", "findings", "limits"}`.
    pub fn to_json(&self) -> Value {
        json!({
            "widens": self.widens(),
            "findings": self.findings.iter().map(Finding::to_json).collect::<Vec<_>>(),
            "limits": self.limits.iter().map(|l| json!({
                "name": l.name, "old": l.old, "new": l.new, "widened": l.widened,
            })).collect::<Vec<_>>(),
        })
    }
}

fn kind_word(kind: MessageKind, plural: bool) -> &'static str {
    match (kind, plural) {
        (MessageKind::Invoke, false) => "command",
        (MessageKind::Invoke, true) => "commands",
        (MessageKind::Emit, false) => "event",
        (MessageKind::Emit, true) => "events",
        (MessageKind::Deliver, false) => "delivered event",
        (MessageKind::Deliver, true) => "delivered events",
    }
}

/// `command`, `event` or `deliver`: the kind in JSON output.
fn kind_token(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Invoke => "command",
        MessageKind::Emit => "event",
        MessageKind::Deliver => "deliver",
    }
}

fn rule_list(ids: &[String]) -> String {
    let list = ids
        .iter()
        .map(|r| format!("`{r}`"))
        .collect::<Vec<_>>()
        .join(", ");
    if ids.len() == 1 {
        format!("rule {list}")
    } else {
        format!("rules {list}")
    }
}

fn other_text(other: &Other, now: bool) -> String {
    match (other, now) {
        (Other::NotAllowed, false) => "no rule allowed it".to_owned(),
        (Other::NotAllowed, true) => "no rule allows it".to_owned(),
        (Other::DeniedBy(ids), _) => format!("denied by {}", rule_list(ids)),
        (Other::OtherArgs(ids), _) => format!(
            "allowed by {} with arguments not shown to include these",
            rule_list(ids)
        ),
        (Other::NotCompared, _) => {
            "not compared (scopes too complex), counted as widened".to_owned()
        }
        (Other::NoDeny, _) => "no deny rule applies".to_owned(),
        (Other::Governed, false) => "only what `deliver` rules allowed".to_owned(),
        (Other::Governed, true) => "only what `deliver` rules allow".to_owned(),
    }
}

/// A scope in words: `any window`, or its terms separated by `; `.
fn scope_text(terms: &[Term], one: &str, many: &str) -> String {
    if terms
        .iter()
        .any(|t| t.all_of.is_empty() && t.none_of.is_empty())
    {
        return format!("any {one}");
    }
    let quote = |xs: &[String], sep: &str| {
        xs.iter()
            .map(|x| format!("`{x}`"))
            .collect::<Vec<_>>()
            .join(sep)
    };
    let parts: Vec<String> = terms
        .iter()
        .map(|t| {
            let head = if t.all_of.is_empty() {
                format!("any {one}")
            } else {
                quote(&t.all_of, " and ")
            };
            if t.none_of.is_empty() {
                head
            } else {
                format!("{head} but not {}", quote(&t.none_of, " or "))
            }
        })
        .collect();
    if let [only] = parts.as_slice() {
        if terms.iter().all(|t| t.all_of.is_empty()) {
            return only.clone();
        }
    }
    let single = matches!(terms, [t] if t.none_of.is_empty()
        && matches!(t.all_of.as_slice(), [x] if !x.contains('*')));
    let word = if single { one } else { many };
    format!("{word} {}", parts.join("; "))
}

/// JSON with object keys sorted, `type` first, whatever serde_json's map
/// order is: output that does not depend on its features.
pub fn canonical(v: &Value) -> String {
    match v {
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(canonical).collect::<Vec<_>>().join(",")
        ),
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by_key(|k| (k.as_str() != "type", k.as_str()));
            let fields: Vec<String> = keys
                .iter()
                .filter_map(|k| {
                    map.get(k.as_str())
                        .map(|x| format!("{}:{}", Value::String((*k).clone()), canonical(x)))
                })
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        other => other.to_string(),
    }
}

/// What one sender may send of one name (or plugin's names), and the
/// rules behind it: the output of [`who_can`].
#[derive(Debug, Clone, PartialEq)]
pub struct Access {
    /// Command or event.
    pub kind: MessageKind,
    /// An exact name, or `plugin:NAME|*`.
    pub name: String,
    /// Names `plugin:NAME|*` leaves out (listed exactly by some rule,
    /// and so reported on their own).
    pub other_than: Vec<String>,
    /// Deny rules that refuse it for this sender (then nothing is allowed).
    pub denied_by: Vec<String>,
    /// Allow rules that allow it for this sender, each with its
    /// constraint as policy JSON, in id order.
    pub allowed_by: Vec<(String, Value)>,
}

impl Access {
    /// One line per allow rule (or one for a deny); deliveries start with
    /// `receive: `.
    pub fn lines(&self) -> Vec<String> {
        let (head, word) = match self.kind {
            MessageKind::Deliver => ("receive: ", "event"),
            kind => ("", kind_word(kind, false)),
        };
        let mut name = format!("{word} `{}`", self.name);
        if !self.other_than.is_empty() {
            name.push_str(&format!(
                " (other than {})",
                self.other_than
                    .iter()
                    .map(|n| format!("`{n}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        if !self.denied_by.is_empty() {
            return vec![format!(
                "{head}denied: {name}: by {}",
                rule_list(&self.denied_by)
            )];
        }
        let what = if self.kind == MessageKind::Invoke {
            "args"
        } else {
            "payload"
        };
        self.allowed_by
            .iter()
            .map(|(id, c)| format!("{head}{name} with {what} {}: rule `{id}`", canonical(c)))
            .collect()
    }

    /// The access as JSON: `kind`, `name`, `other_than`, `denied_by`,
    /// `allowed_by` (a list of `{"rule", "constraint"}`).
    pub fn to_json(&self) -> Value {
        json!({
            "kind": kind_token(self.kind),
            "name": self.name,
            "other_than": self.other_than,
            "denied_by": self.denied_by,
            "allowed_by": self.allowed_by.iter().map(|(id, c)| json!({"rule": id, "constraint": c})).collect::<Vec<_>>(),
        })
    }
}

/// Everything a window (label and origin) may send under `policy`, and
/// receive when the policy has `deliver` rules
/// ([`Policy::governs_delivery`]; without them it receives every event):
/// per name, the allow rules that let it through and their constraints,
/// or the deny rules that refuse it. Names no rule in scope names are
/// left out (refused by default). Commands, then events, then deliveries,
/// by name. A window that is not a window label gets nothing.
pub fn who_can(policy: &Policy, window: &str, origin: &str) -> Vec<Access> {
    let parsed = Origin::parse(origin);
    let in_scope = |r: &Rule| {
        r.window_matches(window)
            && r.origins
                .as_ref()
                .map_or(true, |ps| ps.iter().any(|p| p.matches(parsed.as_ref())))
    };
    let mut out = Vec::new();
    if !crate::is_window_label(window) {
        return out;
    }
    for kind in [MessageKind::Invoke, MessageKind::Emit, MessageKind::Deliver] {
        for class in name_classes(kind, &[policy]) {
            let rules: Vec<&Rule> = policy
                .rules
                .iter()
                .filter(|r| r.kind == kind && class.named_by(r) && in_scope(r))
                .collect();
            if rules.is_empty() {
                continue;
            }
            let denied_by: Vec<String> = rules
                .iter()
                .filter(|r| r.effect == Effect::Deny)
                .map(|r| r.id.clone())
                .collect();
            let allowed_by = if denied_by.is_empty() {
                rules
                    .iter()
                    .filter(|r| r.effect == Effect::Allow)
                    .map(|r| (r.id.clone(), contain::to_json(&r.constraint)))
                    .collect()
            } else {
                Vec::new()
            };
            out.push(Access {
                kind,
                name: class.text(),
                other_than: match &class {
                    NameClass::Plugin { except, .. } => except.clone(),
                    NameClass::Exact(_) | NameClass::All => Vec::new(),
                },
                denied_by,
                allowed_by,
            });
        }
    }
    out
}

/// How recorded traffic used one rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUse {
    /// The rule's id.
    pub id: String,
    /// Whether it is an allow rule (else a deny rule).
    pub allow: bool,
    /// Messages it decided (the rule a decision names).
    pub decided: u64,
    /// Messages it matched: in its scope and, for an allow rule, accepted
    /// by its constraint, whether or not it decided them (another allow
    /// rule with a smaller id, or a deny, may have). Unknown for traffic
    /// that only names the deciding rule.
    pub matched: u64,
}

/// Which rules traffic used: fed one message at a time, then read.
#[derive(Debug, Clone)]
pub struct Coverage<'p> {
    policy: &'p Policy,
    /// Per rule of the policy, in id order.
    pub rules: Vec<RuleUse>,
    /// Messages no rule decided (refused by default).
    pub default_denied: u64,
    /// Messages counted.
    pub messages: u64,
    /// Rule ids the traffic named that the policy does not have, with
    /// how many messages named each.
    pub unknown_rules: BTreeMap<String, u64>,
}

impl<'p> Coverage<'p> {
    /// No traffic yet.
    pub fn new(policy: &'p Policy) -> Self {
        Coverage {
            policy,
            rules: policy
                .rules
                .iter()
                .map(|r| RuleUse {
                    id: r.id.clone(),
                    allow: r.effect == Effect::Allow,
                    decided: 0,
                    matched: 0,
                })
                .collect(),
            default_denied: 0,
            messages: 0,
            unknown_rules: BTreeMap::new(),
        }
    }

    /// Decides a message with the policy and counts what decided and
    /// what matched it.
    pub fn add(&mut self, req: &Request<'_>) {
        let decision = self.policy.decide(req);
        self.add_decided(decision.rule.as_deref());
        if !crate::is_window_label(req.window) {
            return;
        }
        let parsed = Origin::parse(req.origin);
        let args = Json::from_value(req.args);
        for (rule, used) in self.policy.rules.iter().zip(self.rules.iter_mut()) {
            let hit = rule.kind == req.kind
                && rule.names.iter().any(|n| n.matches(req.name))
                && rule.window_matches(req.window)
                && rule
                    .origins
                    .as_ref()
                    .map_or(true, |ps| ps.iter().any(|p| p.matches(parsed.as_ref())))
                && (rule.effect == Effect::Deny || rule.constraint.check(&args, None).is_ok());
            if hit {
                used.matched += 1;
            }
        }
    }

    /// Counts a message some gate already decided, by the id of the rule
    /// that decided it (`None`: refused by default).
    pub fn add_decided(&mut self, rule: Option<&str>) {
        self.messages += 1;
        let Some(id) = rule else {
            self.default_denied += 1;
            return;
        };
        match self.rules.iter_mut().find(|r| r.id == id) {
            Some(r) => r.decided += 1,
            None => *self.unknown_rules.entry(id.to_owned()).or_default() += 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PolicySource;

    fn load(rules: &str) -> Policy {
        let text = format!(r#"{{"version": 1, "rules": [{rules}]}}"#);
        Policy::load(&[PolicySource {
            name: "p.json",
            text: &text,
        }])
        .unwrap()
    }

    fn lines(old: &str, new: &str) -> Vec<String> {
        diff(&load(old), &load(new)).lines()
    }

    #[test]
    fn same_policy_has_no_findings() {
        let p = r#"{"id": "a", "effect": "allow", "commands": ["greet", "plugin:fs|*"], "windows": ["main", "editor-*"],
                    "origins": ["https://*.example.com", "http://127.0.0.1:*"],
                    "args": {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3},
                             "s": {"type": "string", "pattern": "[a-z]+"}, "p": {"type": "path", "base": "/x", "glob": "*.md"},
                             "e": {"enum": ["a", 1, [1, {"k": 2}]]}}, "required": ["n"]}},
                   {"id": "d", "effect": "deny", "commands": ["greet"], "windows": ["editor-main"]}"#;
        assert_eq!(lines(p, p), ["summary: widened 0, narrowed 0, deny lifted 0, deny added 0; access does not widen"]);
    }

    /// Every example policy compared with itself: no change (constraint
    /// containment is reflexive for every kind of constraint they use).
    #[test]
    fn example_policies_equal_themselves() {
        for text in [
            include_str!("../../../policies/demo.json"),
            include_str!("../../../policies/notes-app.json"),
            include_str!("../../../policies/file-viewer.json"),
            include_str!("../../../policies/multi-window.json"),
        ] {
            let p = Policy::load(&[PolicySource {
                name: "p.json",
                text,
            }])
            .unwrap();
            let d = diff(&p, &p);
            assert!(
                d.findings.is_empty() && d.limits.is_empty(),
                "{:?}",
                d.lines()
            );
        }
    }

    #[test]
    fn windows_widen_exactly() {
        let old = r#"{"id": "g", "effect": "allow", "commands": ["greet"], "windows": ["main"]}"#;
        let new = r#"{"id": "g", "effect": "allow", "commands": ["greet"], "windows": ["main", "editor-*"]},
                     {"id": "d", "effect": "deny", "commands": ["greet"], "windows": ["editor-main"]}"#;
        assert_eq!(
            lines(old, new),
            [
                "widened: command `greet` in windows `editor-*` but not `editor-main` at any origin with args {\"type\":\"object\"}: allowed by rule `g`; before: no rule allowed it (e.g. window `editor-` at origin `null`)",
                "deny added: command `greet` in window `editor-main` at any origin: now denied by rule `d`; before no deny rule applied (e.g. window `editor-main` at origin `null`)",
                "summary: widened 1, narrowed 0, deny lifted 0, deny added 1; access widens",
            ]
        );
    }

    #[test]
    fn constraints_are_compared_by_containment() {
        let rule = |args: &str| {
            format!(
                r#"{{"id": "g", "effect": "allow", "commands": ["greet"], "windows": ["main"], "args": {args}}}"#
            )
        };
        let obj = |props: &str, extra: &str| {
            rule(&format!(
                r#"{{"type": "object", "properties": {{{props}}}{extra}}}"#
            ))
        };
        let widens = |old: &str, new: &str| diff(&load(old), &load(new)).widens();
        let int = |b: &str| obj(&format!(r#""n": {{"type": "integer"{b}}}"#), "");
        assert!(!widens(
            &int(r#", "maximum": 5"#),
            &int(r#", "maximum": 3"#)
        ));
        assert!(widens(&int(r#", "maximum": 3"#), &int(r#", "maximum": 5"#)));
        assert!(widens(&int(r#", "maximum": 3"#), &int("")));
        // Finite sets are tried value by value, in every form.
        let e = |v: &str| obj(&format!(r#""n": {{"enum": {v}}}"#), "");
        // `enum` without a type also accepts the doubles `1.0` and `2.0`,
        // which `type: integer` refuses.
        assert!(widens(
            &int(r#", "minimum": 0, "maximum": 3"#),
            &e("[1, 2]")
        ));
        let typed = obj(r#""n": {"type": "integer", "enum": [1, 2]}"#, "");
        assert!(!widens(&int(r#", "minimum": 0, "maximum": 3"#), &typed));
        assert!(!widens(
            &e("[1, 2, 3]"),
            &int(r#", "minimum": 1, "maximum": 3"#)
        ));
        assert!(widens(
            &e("[1, 2]"),
            &int(r#", "minimum": 1, "maximum": 3"#)
        ));
        // Required and additional.
        let s = r#""s": {"type": "string"}"#;
        assert!(!widens(
            &obj(s, r#", "required": ["s"]"#),
            &obj(s, r#", "required": ["s"], "additional": false"#)
        ));
        assert!(widens(&obj(s, r#", "required": ["s"]"#), &obj(s, "")));
        assert!(widens(&obj(s, ""), &obj(s, r#", "additional": true"#)));
        assert!(!widens(&obj(s, r#", "additional": true"#), &obj(s, "")));
        // Patterns: equal or absent in the old one.
        let p = |pat: &str| {
            obj(
                &format!(r#""s": {{"type": "string", "pattern": "{pat}"}}"#),
                "",
            )
        };
        assert!(!widens(&p("[a-z]+"), &p("[a-z]+")));
        assert!(widens(&p("[a-z]+"), &p("[a-y]+")));
        assert!(!widens(&obj(s, ""), &p("[a-y]+")));
    }

    /// An argument typed `grant` needs the host's grant: a rule without
    /// that need is wider, one with it narrower.
    #[test]
    fn grant_arguments() {
        let rule = |path: &str| {
            format!(
                r#"{{"id": "open", "effect": "allow", "commands": ["open"], "windows": ["main"],
                    "args": {{"type": "object", "properties": {{"path": {path}}}, "required": ["path"]}}}}"#
            )
        };
        let grant = rule(r#"{"type": "grant"}"#);
        let string = rule(r#"{"type": "string"}"#);
        let widens = |old: &str, new: &str| diff(&load(old), &load(new)).widens();
        assert!(!widens(&grant, &grant));
        assert!(widens(&grant, &string));
        assert!(!widens(&rule(r#"{"type": "any"}"#), &grant));
        // Finite values need the grant too.
        assert!(widens(&grant, &rule(r#"{"enum": ["a.md"]}"#)));
    }

    #[test]
    fn denies_and_plugins() {
        let old = r#"{"id": "fs", "effect": "allow", "commands": ["plugin:fs|*"], "windows": ["*"], "args": {"type": "object", "additional": true}},
                     {"id": "no-write", "effect": "deny", "commands": ["plugin:fs|write"], "windows": ["*"]}"#;
        let new = r#"{"id": "fs", "effect": "allow", "commands": ["plugin:fs|*"], "windows": ["*"], "args": {"type": "object", "additional": true}}"#;
        assert_eq!(
            lines(old, new),
            [
                "widened: command `plugin:fs|write` in any window at any origin with args {\"type\":\"object\",\"additional\":true}: allowed by rule `fs`; before: denied by rule `no-write` (e.g. window `a` at origin `null`)",
                "deny lifted: command `plugin:fs|write` in any window at any origin: was denied by rule `no-write`; now no deny rule applies (e.g. window `a` at origin `null`)",
                "summary: widened 1, narrowed 0, deny lifted 1, deny added 0; access widens",
            ]
        );
    }

    #[test]
    fn too_complex_scopes_count_as_widened() {
        let p = load(
            r#"{"id": "g", "effect": "allow", "commands": ["greet"], "windows": ["*a*b*", "*b*a*"]}"#,
        );
        let empty = load("");
        let d = diff_with(&empty, &p, 2);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings[0].other, Other::NotCompared);
        let args = json!({});
        assert!(d.findings[0].covers(&Request {
            window: "xab",
            origin: "null",
            kind: MessageKind::Invoke,
            name: "greet",
            args: &args
        }));
        // Unchanged rules are not reported, even when too complex.
        assert!(!diff_with(&p, &p, 2).widens());
        // A lifted deny is a widening of the rules it guarded.
        let guarded = load(
            r#"{"id": "g", "effect": "allow", "commands": ["greet"], "windows": ["*a*b*", "*b*a*"]},
               {"id": "d", "effect": "deny", "commands": ["greet"], "windows": ["settings"]}"#,
        );
        let d = diff_with(&guarded, &p, 2);
        assert_eq!(d.findings.len(), 1);
        assert_eq!(d.findings[0].rules, ["g"]);
        assert!(!diff_with(&p, &guarded, 2).widens());
    }

    /// Classes too complex to compare stay sound: every newly allowed
    /// message of a grid is covered by a widened finding.
    #[test]
    fn too_complex_is_sound() {
        use proptest::prelude::*;
        const RULES: &[&str] = &[
            r#"{"id": "a1", "effect": "allow", "commands": ["greet"], "windows": ["*"], "args": {"type": "object", "additional": true}}"#,
            r#"{"id": "a2", "effect": "allow", "commands": ["greet", "plugin:fs|*"], "windows": ["m*"]}"#,
            r#"{"id": "a3", "effect": "allow", "commands": ["plugin:fs|x"], "windows": ["*n"], "origins": ["http://a.com"]}"#,
            r#"{"id": "d1", "effect": "deny", "commands": ["greet"], "windows": ["main"]}"#,
            r#"{"id": "d2", "effect": "deny", "commands": ["plugin:fs|*"], "windows": ["x*"]}"#,
            r#"{"id": "d3", "effect": "deny", "commands": ["plugin:fs|x"], "windows": ["*"], "origins": ["http://a.com"]}"#,
        ];
        let pick = |mask: u8| {
            let chosen: Vec<&str> = RULES
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, r)| *r)
                .collect();
            let text = format!(r#"{{"version": 1, "rules": [{}]}}"#, chosen.join(", "));
            Policy::load(&[PolicySource {
                name: "p.json",
                text: &text,
            }])
            .ok()
        };
        let args = [json!({}), json!({"x": 1})];
        proptest!(ProptestConfig::with_cases(64), |(a in 0u8..64, b in 0u8..64)| {
            let (Some(old), Some(new)) = (pick(a), pick(b)) else { return Ok(()) };
            let d = diff_with(&old, &new, 1);
            for name in ["greet", "plugin:fs|x", "plugin:fs|y"] {
                for window in ["main", "mn", "n", "xn", "q"] {
                    for origin in ["http://a.com", "null"] {
                        for args in &args {
                            let req = Request { window, origin, kind: MessageKind::Invoke, name, args };
                            if new.decide(&req).allowed && !old.decide(&req).allowed {
                                prop_assert!(d.findings.iter().any(|f| f.change == Change::Widened && f.covers(&req)),
                                    "{req:?} {:?}", d.lines());
                            }
                        }
                    }
                }
            }
        });
    }
}
