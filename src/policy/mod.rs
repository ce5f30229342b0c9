//! Allowlist policy: file model, compiled form, decisions.
//!
//! First cut: default deny, allow and deny rules over exact command and
//! event names, optionally scoped by window label.

use crate::message::{Limits, MessageKind};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// One policy file's name (used in errors) and text.
#[derive(Debug, Clone, Copy)]
pub struct PolicySource<'a> {
    /// File name or path, as errors should show it.
    pub name: &'a str,
    /// The JSON text.
    pub text: &'a str,
}

/// A load-time error, located in its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyError {
    /// File name.
    pub file: String,
    /// 1-based line.
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// JSON pointer of the offending value.
    pub pointer: String,
    /// Plain-words message.
    pub message: String,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file, self.line, self.column, self.message
        )?;
        if !self.pointer.is_empty() {
            write!(f, " (at `{}`)", self.pointer)?;
        }
        Ok(())
    }
}

/// Every error found while loading a policy set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PolicyErrors(pub Vec<PolicyError>);

impl std::fmt::Display for PolicyErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for PolicyErrors {}

/// A per-window message rate: a steady rate and a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    /// Messages per second, sustained.
    pub per_second: u32,
    /// Messages allowed at once.
    pub burst: u32,
}

/// What is being decided: one opened message from one sender.
#[derive(Debug, Clone, Copy)]
pub struct Request<'a> {
    /// Sender window label.
    pub window: &'a str,
    /// Sender origin.
    pub origin: &'a str,
    /// Command or event.
    pub kind: MessageKind,
    /// Command or event name.
    pub name: &'a str,
    /// Command arguments (an object) or event payload.
    pub args: &'a Value,
}

/// The outcome of a decision, with the rule that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Whether the message may pass.
    pub allowed: bool,
    /// Id of the deciding rule; `None` for the default deny.
    pub rule: Option<String>,
    /// Human explanation.
    pub reason: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    #[serde(rename = "$schema")]
    _schema: Option<String>,
    version: u32,
    rules: Vec<RuleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleFile {
    id: String,
    effect: Effect,
    #[serde(default)]
    commands: Vec<String>,
    #[serde(default)]
    events: Vec<String>,
    windows: Vec<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
enum Effect {
    Allow,
    Deny,
}

struct Rule {
    id: String,
    effect: Effect,
    commands: BTreeSet<String>,
    events: BTreeSet<String>,
    windows: BTreeSet<String>,
}

/// A compiled, immutable policy set.
pub struct Policy {
    rules: Vec<Rule>,
    limits: Limits,
}

impl Policy {
    /// Loads and compiles one or more policy files.
    pub fn load(sources: &[PolicySource<'_>]) -> Result<Policy, PolicyErrors> {
        let mut errors = Vec::new();
        let mut rules = Vec::new();
        for src in sources {
            match serde_json::from_str::<PolicyFile>(src.text) {
                Ok(file) if file.version == 1 => {
                    rules.extend(file.rules.into_iter().map(|r| Rule {
                        id: r.id,
                        effect: r.effect,
                        commands: r.commands.into_iter().collect(),
                        events: r.events.into_iter().collect(),
                        windows: r.windows.into_iter().collect(),
                    }))
                }
                Ok(_) => errors.push(PolicyError {
                    file: src.name.to_owned(),
                    line: 1,
                    column: 1,
                    pointer: "/version".into(),
                    message: "unsupported `version`, expected 1".into(),
                }),
                Err(e) => errors.push(PolicyError {
                    file: src.name.to_owned(),
                    line: e.line(),
                    column: e.column(),
                    pointer: String::new(),
                    message: e.to_string(),
                }),
            }
        }
        if !errors.is_empty() {
            return Err(PolicyErrors(errors));
        }
        rules.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(Policy {
            rules,
            limits: Limits::default(),
        })
    }

    /// Reads and loads policy files from disk.
    pub fn from_files<P: AsRef<Path>>(paths: &[P]) -> Result<Policy, PolicyErrors> {
        let mut texts = Vec::new();
        for p in paths {
            let name = p.as_ref().display().to_string();
            match std::fs::read_to_string(p) {
                Ok(text) => texts.push((name, text)),
                Err(e) => {
                    return Err(PolicyErrors(vec![PolicyError {
                        file: name,
                        line: 0,
                        column: 0,
                        pointer: String::new(),
                        message: format!("cannot read file: {e}"),
                    }]))
                }
            }
        }
        let sources: Vec<PolicySource<'_>> = texts
            .iter()
            .map(|(name, text)| PolicySource { name, text })
            .collect();
        Self::load(&sources)
    }

    /// Decides one request.
    pub fn decide(&self, req: &Request<'_>) -> Decision {
        let matching = self.rules.iter().filter(|r| {
            let names = match req.kind {
                MessageKind::Invoke => &r.commands,
                MessageKind::Emit => &r.events,
            };
            names.contains(req.name) && (r.windows.contains(req.window) || r.windows.contains("*"))
        });
        let mut allow = None;
        for rule in matching {
            if rule.effect == Effect::Deny {
                return Decision {
                    allowed: false,
                    rule: Some(rule.id.clone()),
                    reason: format!("denied by rule `{}`", rule.id),
                };
            }
            allow.get_or_insert(rule);
        }
        match allow {
            Some(rule) => Decision {
                allowed: true,
                rule: Some(rule.id.clone()),
                reason: format!("allowed by rule `{}`", rule.id),
            },
            None => Decision {
                allowed: false,
                rule: None,
                reason: format!("no rule allows `{}` for window `{}`", req.name, req.window),
            },
        }
    }

    /// Same as [`Policy::decide`]; named for hosts that log explanations.
    pub fn explain(&self, req: &Request<'_>) -> Decision {
        self.decide(req)
    }

    /// The per-window message rate, if the policy sets one.
    pub fn rate(&self) -> Option<Rate> {
        None
    }

    /// Decoding limits for messages under this policy.
    pub fn limits(&self) -> Limits {
        self.limits
    }
}
