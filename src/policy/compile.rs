//! Composes the rules of every file into one immutable matcher: rules sorted
//! by id, and per kind a hash map from exact name to candidate rules plus a
//! map for plugin wildcards, so a decision costs one or two lookups however
//! many rules are loaded. Cross-file checks (duplicate ids, allow rules a
//! deny fully shadows) happen here.

use super::errors::{quote, Sink};
use super::model::{plugin_prefix, Effect, FileModel, Name, Rule};
use super::Rate;
use crate::message::{Limits, MessageKind};
use rustc_hash::FxHashMap;

// Built once from the policy's own names (requests only look names up), so
// a fast unkeyed hash is safe here.
type NameMap<V> = FxHashMap<String, V>;

/// Rules that may decide a name, as indices into the id-sorted rule list
/// (so ascending index is ascending id).
#[derive(Debug, Clone, Default)]
pub(crate) struct Candidates {
    pub deny: Vec<usize>,
    pub allow: Vec<usize>,
}

/// Name lookup for one message kind.
#[derive(Debug, Clone, Default)]
pub(crate) struct Index {
    /// Exact names; each entry already includes the plugin wildcard rules
    /// that cover the name.
    exact: NameMap<Candidates>,
    /// `plugin:NAME|` prefixes, for names no rule lists exactly.
    plugins: NameMap<Candidates>,
}

impl Index {
    /// The rules that name `name`, if any.
    pub(crate) fn lookup(&self, name: &str) -> Option<&Candidates> {
        if let Some(c) = self.exact.get(name) {
            return Some(c);
        }
        let prefix = plugin_prefix(name).filter(|p| p.len() < name.len())?;
        self.plugins.get(prefix)
    }

    /// How many distinct names and plugin wildcards are indexed.
    pub(crate) fn len(&self) -> usize {
        self.exact.len() + self.plugins.len()
    }
}

/// The composed rule set.
pub(crate) struct Compiled {
    pub rules: Vec<Rule>,
    pub commands: Index,
    pub events: Index,
    pub deliveries: Index,
    pub limits: Limits,
    pub rate: Option<Rate>,
}

/// Composes file models; errors go to the sink of the file they are in.
/// Returns `None` when a cross-file check failed.
pub(crate) fn compose(files: Vec<FileModel>, sinks: &mut [Sink<'_>]) -> Option<Compiled> {
    let limits = compose_limits(&files);
    let rate = files
        .iter()
        .filter_map(|f| f.limits.rate)
        .reduce(|a, b| Rate {
            per_second: a.per_second.min(b.per_second),
            burst: a.burst.min(b.burst),
        });
    let mut rules: Vec<Rule> = files.into_iter().flat_map(|f| f.rules).collect();
    // Ties (duplicate ids) keep file order, so the later one is reported.
    rules.sort_by(|a, b| {
        a.id.cmp(&b.id)
            .then(a.at.file.cmp(&b.at.file))
            .then(a.at.pos.cmp(&b.at.pos))
    });
    let mut ok = true;
    for pair in rules.windows(2) {
        if let [first, second] = pair {
            if first.id == second.id {
                let first_file = sinks.get(first.at.file).map_or("", |s| s.file);
                let message = format!(
                    "duplicate rule id {}, also defined at {}:{}:{}",
                    quote(&second.id),
                    first_file,
                    first.at.id_pos.line,
                    first.at.id_pos.column
                );
                if let Some(sink) = sinks.get_mut(second.at.file) {
                    sink.hint(
                        second.at.id_pos,
                        &format!("{}/id", second.at.pointer),
                        message,
                        "rule ids must be unique across all composed policy files",
                    );
                }
                ok = false;
            }
        }
    }
    for allow in rules.iter().filter(|r| r.effect == Effect::Allow) {
        let shadow = rules
            .iter()
            .find(|d| d.effect == Effect::Deny && d.kind == allow.kind && shadows(d, allow));
        if let Some(deny) = shadow {
            let deny_file = sinks.get(deny.at.file).map_or("", |s| s.file);
            let message = format!(
                "allow rule {} can never allow anything: deny rule {} ({}:{}:{}) denies all its names in all its windows and origins",
                quote(&allow.id),
                quote(&deny.id),
                deny_file,
                deny.at.pos.line,
                deny.at.pos.column
            );
            if let Some(sink) = sinks.get_mut(allow.at.file) {
                sink.hint(
                    allow.at.pos,
                    &allow.at.pointer,
                    message,
                    "remove the allow rule, or narrow the deny rule's `windows` or `origins`",
                );
            }
            ok = false;
        }
    }
    if !ok {
        return None;
    }
    let commands = index(&rules, MessageKind::Invoke);
    let events = index(&rules, MessageKind::Emit);
    let deliveries = index(&rules, MessageKind::Deliver);
    Some(Compiled {
        rules,
        commands,
        events,
        deliveries,
        limits,
        rate,
    })
}

/// The most restrictive value of each limit over the files that set it.
fn compose_limits(files: &[FileModel]) -> Limits {
    let d = Limits::default();
    let min = |f: fn(&FileModel) -> Option<usize>, default: usize| {
        files.iter().filter_map(f).min().unwrap_or(default)
    };
    Limits {
        max_message_bytes: min(|f| f.limits.max_message_bytes, d.max_message_bytes),
        max_depth: min(|f| f.limits.max_depth, d.max_depth),
        max_items: min(|f| f.limits.max_items, d.max_items),
        max_args: min(|f| f.limits.max_args, d.max_args),
    }
}

/// Whether deny rule `d` denies every message allow rule `a` could allow:
/// it covers all of `a`'s names, windows and origins.
fn shadows(d: &Rule, a: &Rule) -> bool {
    let names = a.names.iter().all(|n| {
        d.names.iter().any(|dn| match (dn, n) {
            (Name::Plugin(_), Name::Exact(e)) => dn.matches(e),
            _ => dn == n,
        })
    });
    let windows = a.windows.iter().all(|w| {
        d.windows.iter().any(|dw| {
            dw.is_any() || dw.source() == w.source() || (w.is_literal() && dw.matches(w.source()))
        })
    });
    let origins = match (&d.origins, &a.origins) {
        (None, _) => true,
        (Some(dos), _) if dos.iter().any(|o| o == &super::origin::OriginPattern::Any) => true,
        (Some(_), None) => false,
        (Some(dos), Some(aos)) => aos.iter().all(|ao| dos.iter().any(|dor| dor.covers(ao))),
    };
    names && windows && origins
}

fn index(rules: &[Rule], kind: MessageKind) -> Index {
    let mut exact: NameMap<Candidates> = NameMap::default();
    let mut plugins: NameMap<Candidates> = NameMap::default();
    for (i, rule) in rules.iter().enumerate().filter(|(_, r)| r.kind == kind) {
        for name in &rule.names {
            let (map, key) = match name {
                Name::Exact(n) => (&mut exact, n),
                Name::Plugin(p) => (&mut plugins, p),
            };
            let entry = map.entry(key.clone()).or_default();
            match rule.effect {
                Effect::Deny => entry.deny.push(i),
                Effect::Allow => entry.allow.push(i),
            }
        }
    }
    // An exactly listed name is also decided by its plugin's wildcard rules.
    for (name, entry) in &mut exact {
        let wild = plugin_prefix(name)
            .filter(|p| p.len() < name.len())
            .and_then(|p| plugins.get(p));
        if let Some(wild) = wild {
            entry.deny.extend_from_slice(&wild.deny);
            entry.allow.extend_from_slice(&wild.allow);
        }
    }
    for entry in exact.values_mut().chain(plugins.values_mut()) {
        entry.deny.sort_unstable();
        entry.deny.dedup();
        entry.allow.sort_unstable();
        entry.allow.dedup();
    }
    Index { exact, plugins }
}
