//! Decisions: one or two hash lookups for the candidate rules, then scope
//! and constraint checks in id order. The verdict itself allocates nothing;
//! a [`Decision`]'s words are built only when someone asks for them, and
//! explanations of a denial only once the message is already denied.

use super::compile::Candidates;
use super::constraint::{describe, Step};
use super::errors::quote;
use super::model::{Effect, Rule};
use super::origin::Origin;
use super::{Decision, Policy, Query};
use crate::message::{Json, MessageKind};

/// The sender's scope, with its origin parsed at most once, and only if a
/// rule restricts origins.
struct Scope<'r> {
    window: &'r str,
    origin: &'r str,
    parsed: Option<Option<Origin<'r>>>,
}

impl<'r> Scope<'r> {
    fn new(req: &Query<'r, '_>) -> Self {
        Self {
            window: req.window,
            origin: req.origin,
            parsed: None,
        }
    }

    fn window_ok(&self, rule: &Rule) -> bool {
        rule.window_matches(self.window)
    }

    fn origin_ok(&mut self, rule: &Rule) -> bool {
        let Some(patterns) = &rule.origins else {
            return true;
        };
        let origin = self.origin;
        let parsed = self
            .parsed
            .get_or_insert_with(|| Origin::parse_memoized(origin));
        patterns.iter().any(|p| p.matches(parsed.as_ref()))
    }

    fn covers(&mut self, rule: &Rule) -> bool {
        self.window_ok(rule) && self.origin_ok(rule)
    }
}

fn kind_word(kind: MessageKind) -> &'static str {
    match kind {
        MessageKind::Invoke => "command",
        MessageKind::Emit => "event",
        MessageKind::Deliver => "delivering event",
    }
}

/// What decided a request, before any words are put to it.
enum Verdict<'p> {
    /// No rule names the message.
    Unnamed,
    /// A deny rule in scope.
    Denied(&'p Rule),
    /// The allow rule with the smallest id whose scope and constraints pass.
    Allowed(&'p Rule),
    /// Named, but no allow rule passed.
    Default(&'p Candidates),
    /// A delivery under a policy without `deliver` rules: egress is not
    /// governed, every event is delivered.
    Ungoverned,
}

impl Policy {
    fn verdict<'p>(&'p self, req: &Query<'_, '_>, scope: &mut Scope<'_>) -> Verdict<'p> {
        let index = match req.kind {
            MessageKind::Invoke => &self.commands,
            MessageKind::Emit => &self.events,
            MessageKind::Deliver => &self.deliveries,
        };
        if req.kind == MessageKind::Deliver && index.len() == 0 {
            return Verdict::Ungoverned;
        }
        let Some(cands) = index.lookup(req.name) else {
            return Verdict::Unnamed;
        };
        // Lists are in id order, so the first match is the smallest id.
        if let Some(rule) = self.rules_at(&cands.deny).find(|r| scope.covers(r)) {
            return Verdict::Denied(rule);
        }
        for rule in self.rules_at(&cands.allow) {
            if scope.covers(rule)
                && rule.constraint.check(req.args, None).is_ok()
                && ungranted(rule, req).is_none()
            {
                return Verdict::Allowed(rule);
            }
        }
        Verdict::Default(cands)
    }

    /// The id of the rule that allows `req` and the top-level arguments it
    /// types `grant` (each present one uses a grant), or `None` when it is
    /// denied: the same verdict as [`Policy::decide`], without its words.
    pub(crate) fn allowing_rule(&self, req: &Query<'_, '_>) -> Option<(&str, &[String])> {
        match self.verdict(req, &mut Scope::new(req)) {
            Verdict::Allowed(rule) => Some((&rule.id, &rule.grant_args)),
            _ => None,
        }
    }

    /// Whether some payload of the event `name` may be delivered to the
    /// window at `origin`: no `deliver` deny rule is in scope and an allow
    /// rule is (its payload constraint aside); always, without `deliver`
    /// rules.
    pub(crate) fn delivers_some(&self, window: &str, origin: &str, name: &str) -> bool {
        if self.deliveries.len() == 0 {
            return true;
        }
        let Some(cands) = self.deliveries.lookup(name) else {
            return false;
        };
        let null = Json::Null;
        let query = Query {
            window,
            origin,
            kind: MessageKind::Deliver,
            name,
            args: &null,
            grants: None,
        };
        let mut scope = Scope::new(&query);
        !self.rules_at(&cands.deny).any(|r| scope.covers(r))
            && self.rules_at(&cands.allow).any(|r| scope.covers(r))
    }

    pub(crate) fn evaluate(&self, req: &Query<'_, '_>, explain: bool) -> Decision {
        let mut scope = Scope::new(req);
        match self.verdict(req, &mut scope) {
            Verdict::Unnamed => {
                let mut reason = self.nothing_allows(req);
                if explain {
                    reason.push_str("; no rule names it");
                }
                deny(None, reason)
            }
            Verdict::Denied(rule) => {
                let mut reason = format!("denied by rule `{}`", rule.id);
                if explain {
                    reason.push_str(&format!(
                        ": it denies {} `{}` for window `{}` at origin `{}`, whatever any allow rule says",
                        kind_word(req.kind),
                        req.name,
                        req.window,
                        req.origin
                    ));
                }
                deny(Some(rule.id.clone()), reason)
            }
            Verdict::Allowed(rule) => allow(&rule.id),
            Verdict::Default(cands) => self.denied_by_default(req, cands, &mut scope, explain),
            Verdict::Ungoverned => Decision {
                allowed: true,
                rule: None,
                reason:
                    "the policy has no `deliver` rules, so every event the core sends is delivered"
                        .to_owned(),
            },
        }
    }

    fn rules_at<'a>(&'a self, indices: &'a [usize]) -> impl Iterator<Item = &'a Rule> + 'a {
        indices.iter().filter_map(|&i| self.rules.get(i))
    }

    fn nothing_allows(&self, req: &Query<'_, '_>) -> String {
        format!(
            "no rule allows {} `{}` for window `{}` at origin `{}`",
            kind_word(req.kind),
            req.name,
            req.window,
            req.origin
        )
    }

    /// The reason for a default deny: which allow rules were in scope and
    /// why their constraints failed (and, when explaining, which rules name
    /// the message but not this sender).
    fn denied_by_default(
        &self,
        req: &Query<'_, '_>,
        cands: &Candidates,
        scope: &mut Scope<'_>,
        explain: bool,
    ) -> Decision {
        let mut reason = self.nothing_allows(req);
        let mut sep = ": ";
        for rule in self.rules_at(&cands.allow) {
            if !scope.covers(rule) {
                continue;
            }
            if rule.constraint.check(req.args, None).is_ok() {
                if let Some(arg) = ungranted(rule, req) {
                    reason.push_str(sep);
                    reason.push_str(&format!(
                        "rule `{}`: argument {} is not granted to this window",
                        rule.id,
                        quote(arg)
                    ));
                    sep = "; ";
                }
                continue;
            }
            let mut trace = Vec::new();
            if let Err(fail) = rule.constraint.check(req.args, Some(&mut trace)) {
                trace.reverse();
                let (subject, value) = locate(req, &trace);
                let root_args = req.kind == MessageKind::Invoke && trace.is_empty();
                reason.push_str(sep);
                reason.push_str(&format!(
                    "rule `{}`: {}",
                    rule.id,
                    describe(&fail, &subject, value, root_args)
                ));
                sep = "; ";
            }
        }
        if explain {
            let rules = self
                .rules_at(&cands.deny)
                .chain(self.rules_at(&cands.allow));
            for rule in rules {
                let why = if !scope.window_ok(rule) {
                    format!("not for window `{}`", req.window)
                } else if !scope.origin_ok(rule) {
                    format!("not at origin `{}`", req.origin)
                } else {
                    continue;
                };
                let effect = match rule.effect {
                    Effect::Allow => "allow",
                    Effect::Deny => "deny",
                };
                reason.push_str(sep);
                reason.push_str(&format!(
                    "{effect} rule `{}` names {} `{}` but {why}",
                    rule.id,
                    kind_word(req.kind),
                    req.name
                ));
                sep = "; ";
            }
        }
        deny(None, reason)
    }
}

/// The first present `grant` argument of `rule` that no grant of the
/// sender admits (every one, without grants).
fn ungranted<'r>(rule: &'r Rule, req: &Query<'_, '_>) -> Option<&'r str> {
    rule.grant_args.iter().map(String::as_str).find(|arg| {
        req.args
            .get(arg)
            .is_some_and(|value| !req.grants.is_some_and(|g| g.granted(req.name, arg, value)))
    })
}

/// An allow decision's words.
pub(crate) fn allow(rule: &str) -> Decision {
    Decision {
        allowed: true,
        rule: Some(rule.to_owned()),
        reason: format!("allowed by rule `{rule}`"),
    }
}

fn deny(rule: Option<String>, reason: String) -> Decision {
    Decision {
        allowed: false,
        rule,
        reason,
    }
}

/// Names the value a trace leads to ("argument `a.b[2]`", "payload") and
/// finds it.
fn locate<'v, 'a>(req: &Query<'v, 'a>, trace: &[Step<'_>]) -> (String, &'v Json<'a>) {
    let mut path = String::new();
    let mut value = req.args;
    for step in trace {
        match step {
            Step::Key(k) => {
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(k);
                value = value.get(k).unwrap_or(value);
            }
            Step::Index(i) => {
                path.push_str(&format!("[{i}]"));
                value = value.get_index(*i).unwrap_or(value);
            }
        }
    }
    let subject = match (req.kind, path.is_empty()) {
        (MessageKind::Invoke, true) => "arguments".to_owned(),
        (MessageKind::Invoke, false) => format!("argument {}", quote(&path)),
        (MessageKind::Emit | MessageKind::Deliver, true) => "payload".to_owned(),
        (MessageKind::Emit | MessageKind::Deliver, false) => format!("payload {}", quote(&path)),
    };
    (subject, value)
}
