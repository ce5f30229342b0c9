//! Grants: narrow rights the host gives one window at run time ("the file
//! the user just picked"), which a policy rule asks for with an argument
//! constraint `{"type": "grant"}` (`docs/POLICY.md`, "Grants").
//!
//! A grant names a command, one of its arguments and the value it may take
//! (exactly, or a path under a directory), a number of uses and a time to
//! live. It belongs to one window and that window's current frame load: a
//! reload, a close or [`crate::Gate::revoke`] ends it. The gate uses a grant
//! under the same lock as the replay state, once per admitted envelope.

use crate::message::Json;
use crate::policy::{json_eq, PathRule};
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Grants one window may hold at once (live or spent but not yet expired).
pub const MAX_GRANTS_PER_WINDOW: usize = 64;

/// What the host grants: `command` may be called with argument `argument`
/// equal to (or, for a path, under) `value`, `uses` times within `ttl`.
#[derive(Debug, Clone, PartialEq)]
pub struct Grant {
    /// The command name.
    pub command: String,
    /// The top-level argument the policy rule marks `{"type": "grant"}`.
    pub argument: String,
    /// The value the argument may take.
    pub value: GrantValue,
    /// How many calls may use it (at least 1).
    pub uses: u32,
    /// How long it lives.
    pub ttl: Duration,
}

/// The value a [`Grant`] admits.
#[derive(Debug, Clone, PartialEq)]
pub enum GrantValue {
    /// Exactly this JSON value (numbers compared by value, as the policy
    /// compares `enum` values).
    Exact(Value),
    /// A path string under this directory, by the rules of a policy `path`
    /// constraint with this `base` (`docs/POLICY.md` section 9): no `..`,
    /// no hidden segments, no Windows forms.
    PathUnder(String),
}

/// A grant's id, for revoking it and in audit events (`grant-N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrantId(u64);

impl std::fmt::Display for GrantId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "grant-{}", self.0)
    }
}

/// Why a grant was not given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GrantError {
    /// The window has no frame load yet (render its frame first).
    #[error("the window has no frame load")]
    NoFrameLoad,
    /// The window holds [`MAX_GRANTS_PER_WINDOW`] grants.
    #[error("the window holds the most grants it may")]
    TooMany,
    /// The command or argument name is not a valid name, `uses` is 0, or
    /// `ttl` is too long to be a point in time.
    #[error("a grant needs a valid command and argument name, at least one use and a ttl a clock can hold")]
    Invalid,
    /// The directory of a [`GrantValue::PathUnder`] is not an absolute,
    /// normalized path.
    #[error("the directory of a path grant must be an absolute, normalized path: {0}")]
    BadDirectory(String),
}

/// The value test of a live grant.
#[derive(Debug)]
enum Matcher {
    Exact(Value),
    Under(PathRule),
}

impl Matcher {
    fn matches(&self, value: &Json<'_>) -> bool {
        match self {
            Matcher::Exact(v) => json_eq(v, value),
            Matcher::Under(rule) => value.as_str().is_some_and(|s| rule.check(s).is_ok()),
        }
    }
}

#[derive(Debug)]
struct Active {
    id: GrantId,
    load_id: u32,
    command: String,
    argument: String,
    matcher: Matcher,
    uses_left: u32,
    expires: Instant,
}

impl Active {
    fn fits(&self, load_id: u32, command: &str, argument: &str, value: &Json<'_>) -> bool {
        self.load_id == load_id
            && self.command == command
            && self.argument == argument
            && self.matcher.matches(value)
    }
}

/// What using grants found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Use {
    /// Every value had a live grant; each was used once.
    Used(Vec<GrantId>),
    /// A value had no live grant; the id of a spent or expired one that
    /// would have fitted, if any.
    Refused(Option<GrantId>),
}

/// The grants of every window.
#[derive(Debug, Default)]
pub(crate) struct Grants {
    windows: HashMap<Box<str>, Vec<Active>>,
    next: u64,
}

impl Grants {
    /// Gives `window`'s frame load `load_id` a grant.
    pub(crate) fn add(
        &mut self,
        window: &str,
        load_id: u32,
        grant: Grant,
        now: Instant,
    ) -> Result<GrantId, GrantError> {
        let names_ok = crate::message::valid_name(&grant.command)
            && !grant.argument.is_empty()
            && grant.argument.len() <= crate::message::MAX_NAME_LEN;
        // A time to live past what an `Instant` can hold is refused, not a panic.
        let expires = now.checked_add(grant.ttl);
        let (true, false, Some(expires)) = (names_ok, grant.uses == 0, expires) else {
            return Err(GrantError::Invalid);
        };
        let matcher = match grant.value {
            GrantValue::Exact(v) => Matcher::Exact(v),
            GrantValue::PathUnder(dir) => {
                if let Some(problem) = crate::policy::check_base(&dir) {
                    return Err(GrantError::BadDirectory(problem));
                }
                Matcher::Under(PathRule::new(&dir, None, false))
            }
        };
        let list = self.windows.entry(window.into()).or_default();
        list.retain(|g| g.expires > now && g.load_id == load_id);
        if list.len() >= MAX_GRANTS_PER_WINDOW {
            // Spent grants go first; live ones are never pushed out.
            list.retain(|g| g.uses_left > 0);
            if list.len() >= MAX_GRANTS_PER_WINDOW {
                return Err(GrantError::TooMany);
            }
        }
        self.next += 1;
        let id = GrantId(self.next);
        list.push(Active {
            id,
            load_id,
            command: grant.command,
            argument: grant.argument,
            matcher,
            uses_left: grant.uses,
            expires,
        });
        Ok(id)
    }

    /// Ends a grant; `false` if it had ended already.
    pub(crate) fn revoke(&mut self, id: GrantId) -> bool {
        let found = self.windows.iter_mut().find_map(|(window, list)| {
            let i = list.iter().position(|g| g.id == id)?;
            list.remove(i);
            Some((window.clone(), list.is_empty()))
        });
        match found {
            Some((window, empty)) => {
                if empty {
                    self.windows.remove(&window);
                }
                true
            }
            None => false,
        }
    }

    /// Ends every grant of a window (closed).
    pub(crate) fn forget(&mut self, window: &str) {
        self.windows.remove(window);
    }

    /// Ends a window's grants of loads other than `load_id` (a new load).
    pub(crate) fn begin_load(&mut self, window: &str, load_id: u32) {
        if let Some(list) = self.windows.get_mut(window) {
            list.retain(|g| g.load_id == load_id);
            if list.is_empty() {
                self.windows.remove(window);
            }
        }
    }

    /// Whether a live grant admits `value` for the argument.
    pub(crate) fn admits(
        &self,
        window: &str,
        load_id: u32,
        (command, argument): (&str, &str),
        value: &Json<'_>,
        now: Instant,
    ) -> bool {
        self.windows.get(window).is_some_and(|list| {
            list.iter().any(|g| {
                g.uses_left > 0 && g.expires > now && g.fits(load_id, command, argument, value)
            })
        })
    }

    /// A grant of the window's load for `command` whose argument's value in
    /// `args` fits, live or not: the grant a refused call asked for.
    pub(crate) fn fitting(
        &self,
        window: &str,
        load_id: u32,
        command: &str,
        args: &Json<'_>,
    ) -> Option<GrantId> {
        self.windows.get(window)?.iter().find_map(|g| {
            let value = args.get(&g.argument)?;
            g.fits(load_id, command, &g.argument, value).then_some(g.id)
        })
    }

    /// Uses one live grant for each `(argument, value)`, all or none.
    pub(crate) fn take(
        &mut self,
        window: &str,
        load_id: u32,
        command: &str,
        values: &[(&str, &Json<'_>)],
        now: Instant,
    ) -> Use {
        let Some(list) = self.windows.get_mut(window) else {
            return Use::Refused(None);
        };
        let mut picked = Vec::with_capacity(values.len());
        for (argument, value) in values {
            let live = list.iter().position(|g| {
                g.uses_left > 0
                    && g.expires > now
                    && g.fits(load_id, command, argument, value)
                    // One grant serves one value of a call.
                    && !picked.contains(&g.id)
            });
            match live.and_then(|i| list.get(i)) {
                Some(g) => picked.push(g.id),
                None => {
                    let spent = list
                        .iter()
                        .find(|g| g.fits(load_id, command, argument, value))
                        .map(|g| g.id);
                    return Use::Refused(spent);
                }
            }
        }
        for g in list.iter_mut().filter(|g| picked.contains(&g.id)) {
            g.uses_left -= 1;
        }
        Use::Used(picked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MINUTE: Duration = Duration::from_secs(60);

    fn exact(command: &str, argument: &str, value: Value, uses: u32, ttl: Duration) -> Grant {
        Grant {
            command: command.into(),
            argument: argument.into(),
            value: GrantValue::Exact(value),
            uses,
            ttl,
        }
    }

    fn j(v: &Value) -> Json<'_> {
        Json::from_value(v)
    }

    #[test]
    fn admits_only_live_fitting_grants_of_the_load() {
        let t0 = Instant::now();
        let mut g = Grants::default();
        g.add("w", 1, exact("read", "path", json!("/a"), 1, MINUTE), t0)
            .unwrap();
        let a = json!("/a");
        let key = ("read", "path");
        assert!(g.admits("w", 1, key, &j(&a), t0));
        assert!(!g.admits("w", 2, key, &j(&a), t0), "another load");
        assert!(!g.admits("v", 1, key, &j(&a), t0), "another window");
        assert!(
            !g.admits("w", 1, ("write", "path"), &j(&a), t0),
            "another command"
        );
        assert!(
            !g.admits("w", 1, ("read", "to"), &j(&a), t0),
            "another argument"
        );
        assert!(
            !g.admits("w", 1, key, &j(&json!("/b")), t0),
            "another value"
        );
        assert!(!g.admits("w", 1, key, &j(&a), t0 + MINUTE), "expired");
        assert!(g.admits("w", 1, key, &j(&a), t0 + MINUTE - Duration::from_millis(1)));
        assert_eq!(
            g.take("w", 1, "read", &[("path", &j(&a))], t0),
            Use::Used(vec![GrantId(1)])
        );
        assert!(!g.admits("w", 1, key, &j(&a), t0), "spent");
    }

    #[test]
    fn take_uses_live_grants_all_or_none_and_names_a_spent_one() {
        let t0 = Instant::now();
        let mut g = Grants::default();
        let from = g
            .add("w", 1, exact("copy", "from", json!("/a"), 1, MINUTE), t0)
            .unwrap();
        let (a, b) = (json!("/a"), json!("/b"));
        let both = [("from", &j(&a)), ("to", &j(&b))];
        assert_eq!(g.take("w", 1, "copy", &both, t0), Use::Refused(None));
        let to = g
            .add("w", 1, exact("copy", "to", json!("/b"), 1, MINUTE), t0)
            .unwrap();
        assert_eq!(
            g.take("w", 2, "copy", &both, t0),
            Use::Refused(None),
            "load"
        );
        assert_eq!(
            g.take("v", 1, "copy", &both, t0),
            Use::Refused(None),
            "window"
        );
        assert_eq!(
            g.take("w", 1, "copy", &both, t0 + MINUTE),
            Use::Refused(Some(from))
        );
        assert_eq!(g.take("w", 1, "copy", &both, t0), Use::Used(vec![from, to]));
        assert_eq!(
            g.take("w", 1, "copy", &both, t0),
            Use::Refused(Some(from)),
            "spent"
        );
        // One grant serves one value of a call.
        g.add("w", 1, exact("copy", "from", json!("/c"), 2, MINUTE), t0)
            .unwrap();
        let c = json!("/c");
        let twice = [("from", &j(&c)), ("from", &j(&c))];
        assert!(matches!(
            g.take("w", 1, "copy", &twice, t0),
            Use::Refused(Some(_))
        ));
        assert!(matches!(
            g.take("w", 1, "copy", &twice[..1], t0),
            Use::Used(_)
        ));
    }

    #[test]
    fn a_new_load_or_a_close_frees_the_windows_grants() {
        let t0 = Instant::now();
        let mut g = Grants::default();
        let old = g
            .add("w", 1, exact("read", "p", json!(1), 1, MINUTE), t0)
            .unwrap();
        let other = g
            .add("v", 1, exact("read", "p", json!(1), 1, MINUTE), t0)
            .unwrap();
        g.begin_load("w", 1);
        assert!(
            g.fitting("w", 1, "read", &j(&json!({"p": 1}))).is_some(),
            "same load kept"
        );
        g.begin_load("w", 2);
        assert!(!g.revoke(old), "the old load's grant is gone");
        let new = g
            .add("w", 2, exact("read", "p", json!(1), 1, MINUTE), t0)
            .unwrap();
        g.forget("w");
        assert!(!g.revoke(new), "closed");
        assert!(g.revoke(other), "other windows keep theirs");
        assert!(g.windows.is_empty());
    }

    #[test]
    fn fitting_finds_a_grant_whatever_its_state() {
        let t0 = Instant::now();
        let mut g = Grants::default();
        let id = g
            .add("w", 1, exact("read", "p", json!("/a"), 1, MINUTE), t0)
            .unwrap();
        let args = json!({"p": "/a", "q": 1});
        assert_eq!(g.fitting("w", 1, "read", &j(&args)), Some(id));
        g.take("w", 1, "read", &[("p", &j(&json!("/a")))], t0);
        assert_eq!(g.fitting("w", 1, "read", &j(&args)), Some(id), "spent");
        assert_eq!(g.fitting("w", 2, "read", &j(&args)), None);
        assert_eq!(g.fitting("w", 1, "write", &j(&args)), None);
        assert_eq!(g.fitting("w", 1, "read", &j(&json!({"p": "/b"}))), None);
        assert_eq!(g.fitting("w", 1, "read", &j(&json!({}))), None);
        assert_eq!(id.to_string(), "grant-1");
    }
}
