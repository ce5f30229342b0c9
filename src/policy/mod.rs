//! The declarative allowlist policy: policy files (JSON, see
//! `docs/POLICY.md`) are parsed with positions, walked into a validated
//! model, composed into one immutable matcher, then asked per message.
//!
//! ```text
//! text ──json──▶ spanned tree ──model──▶ rules + limits ──compile──▶ Policy ──decide──▶ Decision
//! ```
//!
//! Default deny; deny rules win within their own scope; names match exactly
//! or by the `plugin:NAME|*` wildcard; argument constraints are checked
//! here, not left to handlers. Every load-time problem is reported at once,
//! with file, line, column and JSON pointer.
//!
//! ```
//! use isogate::{MessageKind, Policy, PolicySource, Request};
//!
//! # fn main() -> Result<(), isogate::PolicyErrors> {
//! let text = r#"{"version": 1, "rules": [
//!   {"id": "greet", "effect": "allow", "commands": ["greet"], "windows": ["main"],
//!    "args": {"type": "object", "properties": {"name": {"type": "string", "max_length": 32}}, "required": ["name"]}}
//! ]}"#;
//! let policy = Policy::load(&[PolicySource { name: "app.json", text }])?;
//! let args = serde_json::json!({"name": "Ada"});
//! let decision = policy.decide(&Request {
//!     window: "main",
//!     origin: "http://127.0.0.1:1420",
//!     kind: MessageKind::Invoke,
//!     name: "greet",
//!     args: &args,
//! });
//! assert!(decision.allowed);
//! assert_eq!(decision.rule.as_deref(), Some("greet"));
//! # Ok(())
//! # }
//! ```

mod compile;
mod constraint;
mod decide;
mod errors;
mod glob;
pub(crate) mod json;
mod model;
mod origin;
mod path;
pub mod review;

/// The JSON type name of a value, as the policy language spells it.
pub(crate) use constraint::{json_eq, type_of};
pub(crate) use decide::allow;
pub(crate) use origin::same_origin;
/// Whether Windows reads a path segment as something else than a name.
pub(crate) use path::{check_base, windows_form, PathRule};

/// Whether `origin` parses as a request origin (`docs/POLICY.md` section
/// 7): then it is also a valid `origins` entry that matches it.
pub(crate) fn origin_parses(origin: &str) -> bool {
    origin::Origin::parse(origin).is_some()
}

pub use errors::{PolicyError, PolicyErrors};

use crate::message::{Json, Limits, MessageKind};
use serde_json::Value;
use std::path::Path;

/// One policy file's name (used in errors) and text.
#[derive(Debug, Clone, Copy)]
pub struct PolicySource<'a> {
    /// File name or path, as errors should show it.
    pub name: &'a str,
    /// The JSON text.
    pub text: &'a str,
}

/// What is being decided: one opened message from one sender.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Sender window label.
    pub window: &'a str,
    /// Sender origin, serialized (`scheme://host[:port]`).
    pub origin: &'a str,
    /// Command or event.
    pub kind: MessageKind,
    /// Command or event name.
    pub name: &'a str,
    /// Command arguments (an object) or event payload.
    pub args: &'a Value,
}

impl<'a> Request<'a> {
    fn query<'r>(&self, args: &'r Json<'a>) -> Query<'r, 'a>
    where
        'a: 'r,
    {
        Query {
            window: self.window,
            origin: self.origin,
            kind: self.kind,
            name: self.name,
            args,
            grants: None,
        }
    }
}

/// The host's grants as a decision sees them (`crate::grant`): whether a
/// live grant admits `value` for `argument` of `command`. A decision
/// without them (`Policy::decide`) admits no `grant` argument.
pub(crate) trait Granted {
    fn granted(&self, command: &str, argument: &str, value: &Json<'_>) -> bool;
}

/// A request whose arguments are message JSON, borrowed where they lie:
/// what decisions run on (the gate builds one without copying anything).
#[derive(Clone, Copy)]
pub(crate) struct Query<'r, 'a> {
    pub window: &'r str,
    pub origin: &'r str,
    pub kind: MessageKind,
    pub name: &'r str,
    pub args: &'r Json<'a>,
    /// The sender's grants, in a gate.
    pub grants: Option<&'r dyn Granted>,
}

/// The outcome of a decision, with the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the message may pass.
    pub allowed: bool,
    /// Id of the deciding rule: the allow rule that let it pass, or the deny
    /// rule that refused it; `None` for the default deny.
    pub rule: Option<String>,
    /// Human explanation.
    pub reason: String,
}

impl Decision {
    /// The decision as one JSON line,
    /// `{"decision":"allow"|"deny","rule":<id or null>,"reason":"..."}`, with
    /// the fields in that order (the output of `isogate decide`).
    pub fn to_json(&self) -> String {
        #[derive(serde::Serialize)]
        struct Line<'a> {
            decision: &'static str,
            rule: Option<&'a str>,
            reason: &'a str,
        }
        let line = Line {
            decision: if self.allowed { "allow" } else { "deny" },
            rule: self.rule.as_deref(),
            reason: &self.reason,
        };
        serde_json::to_string(&line).unwrap_or_default()
    }
}

/// The refusal of a request whose window is not a window label.
fn bad_window(window: &str) -> Option<Decision> {
    (!crate::names::is_window_label(window)).then(|| Decision {
        allowed: false,
        rule: None,
        reason: "the window is not a window label (1 to 128 bytes without whitespace, control characters or `*`)".to_owned(),
    })
}

/// A per-window message rate: a token bucket refilled at `per_second`
/// tokens a second, holding at most `burst`. The gate enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Sustained messages per second.
    pub per_second: u32,
    /// Most messages accepted at once after a quiet period.
    pub burst: u32,
}

/// A compiled, immutable policy set (`Send + Sync`; share it behind an
/// `Arc`; a clone is cheap next to compiling it again).
#[derive(Clone)]
pub struct Policy {
    rules: Vec<model::Rule>,
    commands: compile::Index,
    events: compile::Index,
    /// `deliver` rules: which events the core may send to which windows.
    deliveries: compile::Index,
    limits: Limits,
    rate: Option<Rate>,
}

impl std::fmt::Debug for Policy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Policy")
            .field("rules", &self.rules.len())
            .field(
                "names",
                &(self.commands.len() + self.events.len() + self.deliveries.len()),
            )
            .field("limits", &self.limits)
            .field("rate", &self.rate)
            .finish()
    }
}

impl Policy {
    /// Loads, validates and composes policy files. The result does not
    /// depend on the order of `sources`. Every error of every file is
    /// reported, in file order, then by position.
    pub fn load(sources: &[PolicySource<'_>]) -> Result<Policy, PolicyErrors> {
        let mut sinks: Vec<errors::Sink<'_>> =
            sources.iter().map(|s| errors::Sink::new(s.name)).collect();
        let mut models = Vec::new();
        for (i, (src, sink)) in sources.iter().zip(sinks.iter_mut()).enumerate() {
            match json::parse(src.text) {
                Ok(doc) => models.push(model::walk(&doc, i, sink)),
                Err(e) => sink.error(e.pos, &e.pointer, e.message),
            }
        }
        let parsed_ok = sinks.iter().all(|s| s.errors.is_empty());
        let compiled = if parsed_ok {
            compile::compose(models, &mut sinks)
        } else {
            None
        };
        match compiled {
            Some(c) if sinks.iter().all(|s| s.errors.is_empty()) => Ok(Policy {
                rules: c.rules,
                commands: c.commands,
                events: c.events,
                deliveries: c.deliveries,
                limits: c.limits,
                rate: c.rate,
            }),
            _ => {
                let mut all = Vec::new();
                for mut sink in sinks {
                    sink.errors.sort_by_key(|e| (e.line, e.column));
                    all.append(&mut sink.errors);
                }
                Err(PolicyErrors(all))
            }
        }
    }

    /// Reads and loads policy files from disk; errors name each file as
    /// its path was given. Unreadable files are reported along with the
    /// errors of the others.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<Policy, PolicyErrors> {
        let mut texts = Vec::new();
        let mut unreadable = Vec::new();
        for p in paths {
            let name = p.as_ref().display().to_string();
            match std::fs::read_to_string(p) {
                Ok(text) => texts.push((name, text)),
                Err(e) => unreadable.push(PolicyError {
                    file: name,
                    line: 0,
                    column: 0,
                    pointer: String::new(),
                    message: format!("cannot read file: {}", e.to_string().to_lowercase()),
                    hint: None,
                }),
            }
        }
        let sources: Vec<PolicySource<'_>> = texts
            .iter()
            .map(|(name, text)| PolicySource { name, text })
            .collect();
        match Self::load(&sources) {
            Ok(policy) if unreadable.is_empty() => Ok(policy),
            Ok(_) => Err(PolicyErrors(unreadable)),
            Err(PolicyErrors(mut errors)) => {
                unreadable.append(&mut errors);
                Err(PolicyErrors(unreadable))
            }
        }
    }

    /// Decides one request: a matching deny rule refuses it; otherwise the
    /// allow rule with the smallest id whose scope and constraints pass lets
    /// it through; otherwise it is refused by default, and the reason says
    /// why each allow rule in scope did not pass.
    ///
    /// A window that is not a window label ([`crate::is_window_label`]) is
    /// refused whatever the rules say: no sender can have it.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        if let Some(refused) = bad_window(req.window) {
            return refused;
        }
        self.evaluate(&req.query(&Json::from_value(req.args)), false)
    }

    /// Same decision and rule as [`Policy::decide`], with a longer reason
    /// (what a deny covers, which rules name the message but not this
    /// sender). For logs and `isogate decide`, not the hot path.
    pub fn explain(&self, req: &Request<'_>) -> Decision {
        if let Some(refused) = bad_window(req.window) {
            return refused;
        }
        self.evaluate(&req.query(&Json::from_value(req.args)), true)
    }

    /// Decoding limits for messages under this policy (the minimum of each
    /// field over the files that set it, defaults otherwise).
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The per-window rate, when any file sets one (the minimum of each
    /// field over those files).
    pub fn rate(&self) -> Option<Rate> {
        self.rate
    }

    /// Whether the policy governs what the core sends to windows: it has at
    /// least one `deliver` rule. Without any, every core-to-window event is
    /// delivered (as before egress rules existed); with one, an event no
    /// `deliver` rule allows for the window is not delivered.
    pub fn governs_delivery(&self) -> bool {
        self.deliveries.len() > 0
    }

    /// How many rules the composed policy has.
    pub fn rule_count(&self) -> usize {
        self.rules.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load(text: &str) -> Policy {
        Policy::load(&[PolicySource {
            name: "p.json",
            text,
        }])
        .unwrap()
    }

    fn errors(text: &str) -> Vec<String> {
        Policy::load(&[PolicySource {
            name: "p.json",
            text,
        }])
        .unwrap_err()
        .to_string()
        .lines()
        .map(str::to_owned)
        .collect()
    }

    fn ask(p: &Policy, window: &str, name: &str, args: Value) -> Decision {
        p.decide(&Request {
            window,
            origin: "http://127.0.0.1:1420",
            kind: MessageKind::Invoke,
            name,
            args: &args,
        })
    }

    #[test]
    fn is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Policy>();
    }

    #[test]
    fn end_to_end() {
        let p = load(
            r#"{"version": 1, "rules": [
              {"id": "r", "effect": "allow", "commands": ["read_note"], "windows": ["main"],
               "args": {"type": "object", "properties": {"path": {"type": "path", "base": "/notes", "glob": "*.md"}}, "required": ["path"]}},
              {"id": "d", "effect": "deny", "commands": ["read_note"], "windows": ["settings"]}
            ]}"#,
        );
        let ok = ask(&p, "main", "read_note", json!({"path": "a.md"}));
        assert_eq!(
            (ok.allowed, ok.rule.as_deref(), ok.reason.as_str()),
            (true, Some("r"), "allowed by rule `r`")
        );
        let bad = ask(&p, "main", "read_note", json!({"path": "../x.md"}));
        assert_eq!(
            bad.reason,
            "no rule allows command `read_note` for window `main` at origin `http://127.0.0.1:1420`: rule `r`: argument `path` contains a `..` segment"
        );
        assert_eq!(bad.rule, None);
        let denied = ask(&p, "settings", "read_note", json!({"path": "a.md"}));
        assert_eq!((denied.allowed, denied.rule.as_deref()), (false, Some("d")));
        let none = ask(&p, "main", "read", json!({}));
        assert_eq!(
            none.reason,
            "no rule allows command `read` for window `main` at origin `http://127.0.0.1:1420`"
        );
        assert_eq!(p.rule_count(), 2);
    }

    /// The gate's fast path (`allowing_rule`) gives the verdict and rule
    /// of `decide`: allowed by the smallest passing id, denied by a rule,
    /// by a failing constraint, by scope, or because no rule names it.
    #[test]
    fn allowing_rule_is_the_decision() {
        let p = load(
            r#"{"version": 1, "rules": [
              {"id": "b", "effect": "allow", "commands": ["greet"], "windows": ["*"],
               "args": {"type": "object", "properties": {"n": {"type": "integer"}}}},
              {"id": "a", "effect": "allow", "commands": ["greet"], "windows": ["main"],
               "args": {"type": "object", "properties": {"n": {"type": "integer", "maximum": 3}}}},
              {"id": "d", "effect": "deny", "commands": ["greet"], "windows": ["settings"]},
              {"id": "e", "effect": "allow", "events": ["clicked"], "windows": ["main"]}
            ]}"#,
        );
        let cases = [
            (
                "main",
                MessageKind::Invoke,
                "greet",
                json!({"n": 1}),
                Some("a"),
            ),
            (
                "main",
                MessageKind::Invoke,
                "greet",
                json!({"n": 9}),
                Some("b"),
            ),
            (
                "other",
                MessageKind::Invoke,
                "greet",
                json!({"n": 1}),
                Some("b"),
            ),
            (
                "main",
                MessageKind::Invoke,
                "greet",
                json!({"n": "x"}),
                None,
            ),
            (
                "settings",
                MessageKind::Invoke,
                "greet",
                json!({"n": 1}),
                None,
            ),
            ("main", MessageKind::Invoke, "other", json!({}), None),
            ("main", MessageKind::Emit, "clicked", json!(null), Some("e")),
            ("other", MessageKind::Emit, "clicked", json!(null), None),
            ("main", MessageKind::Emit, "greet", json!(null), None),
        ];
        for (window, kind, name, args, expected) in cases {
            let req = Request {
                window,
                origin: "http://127.0.0.1:1420",
                kind,
                name,
                args: &args,
            };
            let decision = p.decide(&req);
            let json = Json::from_value(&args);
            let fast = p.allowing_rule(&req.query(&json)).map(|(rule, _)| rule);
            assert_eq!(fast, expected, "{window} {name} {args}");
            assert_eq!(
                decision.allowed,
                expected.is_some(),
                "{window} {name} {args}"
            );
            if decision.allowed {
                assert_eq!(decision.rule.as_deref(), fast);
            }
        }
    }

    /// `explain` names the rules that name the message but not this
    /// sender, saying whether the window or the origin is why; rules in
    /// scope are not listed there.
    #[test]
    fn explain_says_which_scope_left_a_rule_out() {
        let p = load(
            r#"{"version": 1, "rules": [
              {"id": "for-main", "effect": "allow", "commands": ["greet"], "windows": ["main"]},
              {"id": "for-site", "effect": "allow", "commands": ["greet"], "windows": ["*"],
               "origins": ["https://app.example.com"]},
              {"id": "no-settings", "effect": "deny", "commands": ["greet"], "windows": ["settings"]}
            ]}"#,
        );
        let explain = |window: &str| {
            p.explain(&Request {
                window,
                origin: "http://127.0.0.1:1420",
                kind: MessageKind::Invoke,
                name: "greet",
                args: &json!({"x": 1}),
            })
        };
        let head =
            "no rule allows command `greet` for window `main` at origin `http://127.0.0.1:1420`";
        assert_eq!(
            explain("main").reason,
            format!(
                "{head}: rule `for-main`: unknown argument `x`; \
                 deny rule `no-settings` names command `greet` but not for window `main`; \
                 allow rule `for-site` names command `greet` but not at origin `http://127.0.0.1:1420`"
            )
        );
        let other = explain("other");
        assert!(!other.allowed);
        assert_eq!(
            other.reason,
            "no rule allows command `greet` for window `other` at origin `http://127.0.0.1:1420`: \
             deny rule `no-settings` names command `greet` but not for window `other`; \
             allow rule `for-main` names command `greet` but not for window `other`; \
             allow rule `for-site` names command `greet` but not at origin `http://127.0.0.1:1420`"
        );
    }

    #[test]
    fn reasons_cut_long_values() {
        // A quoted value over 64 characters shows its first 64, `…` and
        // its length (`docs/POLICY.md` section 5): a long pattern or key
        // does not make every reason as long.
        let pattern = format!("(?:{})", "ab|".repeat(40) + "c");
        let p = load(&format!(
            r#"{{"version": 1, "rules": [
              {{"id": "r", "effect": "allow", "commands": ["f"], "windows": ["main"],
               "args": {{"type": "object", "properties": {{"s": {{"type": "string", "pattern": "{pattern}"}}}}}}}}
            ]}}"#
        ));
        let bad = ask(&p, "main", "f", json!({"s": "x"}));
        let head: String = pattern.chars().take(64).collect();
        assert_eq!(
            bad.reason,
            format!(
                "no rule allows command `f` for window `main` at origin `http://127.0.0.1:1420`: rule `r`: argument `s` does not match pattern `{head}…` ({} characters)",
                pattern.len()
            )
        );
        let key = "k".repeat(70);
        let unknown = ask(&p, "main", "f", json!({ key.as_str(): 1 }));
        assert!(
            unknown.reason.ends_with(&format!(
                "rule `r`: unknown argument `{}…` (70 characters)",
                "k".repeat(64)
            )),
            "{}",
            unknown.reason
        );
    }

    #[test]
    fn decision_json() {
        let d = Decision {
            allowed: false,
            rule: None,
            reason: "a \"b\"".into(),
        };
        assert_eq!(
            d.to_json(),
            r#"{"decision":"deny","rule":null,"reason":"a \"b\""}"#
        );
        let d = Decision {
            allowed: true,
            rule: Some("x".into()),
            reason: String::new(),
        };
        assert_eq!(
            d.to_json(),
            r#"{"decision":"allow","rule":"x","reason":""}"#
        );
    }

    #[test]
    fn collects_every_error() {
        let e = errors(
            "{\"version\": 1, \"rules\": [\n  {\"id\": \"A\", \"effect\": \"alow\", \"comands\": [\"x\"], \"windows\": []}\n]}",
        );
        assert_eq!(
            e,
            vec![
                "p.json:2:10: invalid rule id `A` (at `/rules/0/id`)",
                "  hint: ids are 1 to 128 characters from `a-z 0-9 . _ -` and start with a letter or digit",
                "p.json:2:25: unknown effect `alow`, did you mean `allow`? (at `/rules/0/effect`)",
                "p.json:2:33: unknown field `comands`, did you mean `commands`? (at `/rules/0/comands`)",
                "p.json:2:62: `windows` is empty, so this rule can never match (at `/rules/0/windows`)",
                "  hint: use `[\"*\"]` for every window",
            ]
        );
    }
}
