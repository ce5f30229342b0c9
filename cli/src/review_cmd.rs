//! Bodies of `isogate diff | who-can | coverage` (`docs/POLICY.md`,
//! "Reviewing policies"). Argument parsing lives in `main.rs`; these
//! functions print and return the process exit code: 2 on a usage, policy
//! or input error (reported on stderr), like `check` and `decide`.

use isogate::learn;
use isogate::review::{self, canonical, Coverage};
use isogate::{Policy, Request};
use serde_json::{json, Value};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

fn out(lines: &[String]) {
    let mut stdout = io::stdout().lock();
    for line in lines {
        // A closed stdout (e.g. `| head`) is not worth a panic.
        if writeln!(stdout, "{line}").is_err() {
            return;
        }
    }
}

fn load(paths: &[PathBuf]) -> Option<Policy> {
    if paths.is_empty() {
        eprintln!("error: no policy files given");
        return None;
    }
    Policy::from_files(paths)
        .map_err(|errors| eprintln!("{errors}"))
        .ok()
}

/// `isogate diff OLD... -- NEW...`: exit 0 when access does not widen,
/// 1 when it does (0 with `allow_widen`), 2 when a policy does not load.
pub fn diff(old: &[PathBuf], new: &[PathBuf], json: bool, allow_widen: bool) -> i32 {
    let (Some(old), Some(new)) = (load(old), load(new)) else {
        return 2;
    };
    let d = review::diff(&old, &new);
    if json {
        out(&[canonical(&d.to_json())]);
    } else {
        out(&d.lines());
    }
    if d.widens() && !allow_widen {
        1
    } else {
        0
    }
}

/// `isogate who-can --window W --origin O POLICY...`: exit 0, or 2 when
/// the policy does not load.
pub fn who_can(policies: &[PathBuf], window: &str, origin: &str, json: bool) -> i32 {
    let Some(policy) = load(policies) else {
        return 2;
    };
    let access = review::who_can(&policy, window, origin);
    let (receive, send): (Vec<_>, Vec<_>) = access
        .iter()
        .partition(|a| a.kind == isogate::MessageKind::Deliver);
    let governed = policy.governs_delivery();
    if json {
        let doc = json!({
            "window": window,
            "origin": origin,
            "may_send": send.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "may_receive": receive.iter().map(|a| a.to_json()).collect::<Vec<_>>(),
            "delivery_governed": governed,
        });
        out(&[canonical(&doc)]);
        return 0;
    }
    let mut lines: Vec<String> = send.iter().flat_map(|a| a.lines()).collect();
    if lines.is_empty() {
        lines.push(format!(
            "nothing: no rule allows window `{window}` at origin `{origin}` to send anything (refused by default)"
        ));
    }
    if governed {
        let received: Vec<String> = receive.iter().flat_map(|a| a.lines()).collect();
        if received.is_empty() {
            lines.push(
                "receive: nothing (no `deliver` rule allows this window any event)".to_owned(),
            );
        }
        lines.extend(received);
    } else {
        lines.push(
            "receive: every event the core sends (the policy has no `deliver` rules)".to_owned(),
        );
    }
    out(&lines);
    0
}

/// How the lines of a traffic file were counted.
#[derive(Default)]
struct Lines {
    /// Learning-mode records, decided again with the policy.
    records: u64,
    /// `isogate open` lines the gate decided with the policy.
    opened: u64,
    /// `isogate open` lines discarded before the policy, by reason.
    not_decided: std::collections::BTreeMap<String, u64>,
}

/// `isogate coverage TRAFFIC POLICY...`: exit 0, or 2 when the policy or
/// the traffic does not load.
pub fn coverage(traffic: &Path, policies: &[PathBuf], json: bool) -> i32 {
    let Some(policy) = load(policies) else {
        return 2;
    };
    let text = match std::fs::read_to_string(traffic) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", traffic.display());
            return 2;
        }
    };
    let mut cov = Coverage::new(&policy);
    let mut seen = Lines::default();
    for (i, line) in text.lines().enumerate() {
        if let Err(e) = count_line(&mut cov, &mut seen, line) {
            eprintln!("error: {}:{}: {e}", traffic.display(), i + 1);
            return 2;
        }
    }
    if json {
        out(&[canonical(&coverage_json(&cov, &seen))]);
    } else {
        out(&coverage_lines(&cov, &seen));
    }
    0
}

/// Counts one line: a learning-mode record (`Gate::with_learning`) or a
/// line of `isogate open` output; blank lines are skipped.
fn count_line(cov: &mut Coverage<'_>, seen: &mut Lines, line: &str) -> Result<(), String> {
    if line.trim().is_empty() {
        return Ok(());
    }
    let value: Value = serde_json::from_str(line).map_err(|e| e.to_string())?;
    let Some(outcome) = value.get("outcome") else {
        let records = learn::parse_records(line).map_err(|e| e.message)?;
        for r in &records {
            cov.add(&Request {
                window: &r.window,
                origin: &r.origin,
                kind: r.kind,
                name: &r.name,
                args: &r.args,
            });
            seen.records += 1;
        }
        return Ok(());
    };
    let rule = match value.get("rule") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.as_str()),
        Some(_) => return Err("`rule` must be a string or null".to_owned()),
    };
    let reason = value.get("reason").and_then(Value::as_str);
    match (outcome.as_str(), reason) {
        (Some("dispatched"), _) | (Some("discarded"), Some("denied")) => {
            cov.add_decided(rule);
            seen.opened += 1;
        }
        (Some("discarded"), Some(reason)) => {
            *seen.not_decided.entry(reason.to_owned()).or_default() += 1;
        }
        _ => {
            return Err(
                "not a learning record nor an `isogate open` line (`outcome` must be `dispatched` or `discarded` with a `reason`)"
                    .to_owned(),
            )
        }
    }
    Ok(())
}

fn coverage_lines(cov: &Coverage<'_>, seen: &Lines) -> Vec<String> {
    let mut lines = Vec::new();
    let mut unused = Vec::new();
    for r in &cov.rules {
        let effect = if r.allow { "allow" } else { "deny" };
        if r.decided == 0 && r.matched == 0 {
            lines.push(format!("unused: rule `{}` ({effect}): no message", r.id));
            unused.push(format!("`{}`", r.id));
            continue;
        }
        let mut line = format!(
            "used: rule `{}` ({effect}): decided {}, matched {}",
            r.id, r.decided, r.matched
        );
        if r.decided == 0 {
            line.push_str(" (never decided: a deny or an allow rule with a smaller id did)");
        }
        lines.push(line);
    }
    for (id, n) in &cov.unknown_rules {
        lines.push(format!(
            "unknown: rule `{id}` decided {n} messages in the traffic but is not in the policy"
        ));
    }
    lines.push(format!("default deny: {} messages", cov.default_denied));
    for (reason, n) in &seen.not_decided {
        lines.push(format!(
            "not decided by the policy: {n} lines discarded as `{reason}`"
        ));
    }
    if seen.opened > 0 {
        lines.push(format!(
            "note: {} lines were `isogate open` output, which names only the deciding rule: they count in `decided`, not in `matched`",
            seen.opened
        ));
    }
    lines.push(format!(
        "summary: {} messages ({} records, {} open lines); {} of {} rules unused{}{}",
        cov.messages,
        seen.records,
        seen.opened,
        unused.len(),
        cov.rules.len(),
        if unused.is_empty() { "" } else { ": " },
        unused.join(", ")
    ));
    lines
}

fn coverage_json(cov: &Coverage<'_>, seen: &Lines) -> Value {
    json!({
        "messages": cov.messages,
        "records": seen.records,
        "open_lines": seen.opened,
        "rules": cov.rules.iter().map(|r| json!({
            "rule": r.id,
            "effect": if r.allow { "allow" } else { "deny" },
            "decided": r.decided,
            "matched": r.matched,
            "used": r.decided > 0 || r.matched > 0,
        })).collect::<Vec<_>>(),
        "unknown_rules": cov.unknown_rules,
        "default_denied": cov.default_denied,
        "not_decided": seen.not_decided,
    })
}
