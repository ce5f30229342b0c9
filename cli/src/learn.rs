//! `isogate learn TRAFFIC.jsonl [--policy EXISTING...]`: infers a draft
//! policy from traffic recorded by a gate in learning mode
//! (`Gate::with_learning`, debug builds) and prints it.
//!
//! With `--policy`, messages the existing files already allow or explicitly
//! deny are left out, and the new rules' ids do not clash with theirs, so
//! the output composes with them. The output is checked by loading it (alone
//! and with the existing files) before it is printed.

use isogate::learn::{self, Options};
use isogate::{Policy, PolicySource};
use std::io::Write;
use std::path::{Path, PathBuf};

fn read(path: &Path) -> Result<String, i32> {
    std::fs::read_to_string(path).map_err(|e| {
        eprintln!("error: cannot read `{}`: {e}", path.display());
        2
    })
}

/// The rule ids of a policy file (it loaded, so it is well formed).
fn rule_ids(text: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(text).unwrap_or_default();
    value
        .get("rules")
        .and_then(|r| r.as_array())
        .into_iter()
        .flatten()
        .filter_map(|r| r.get("id")?.as_str().map(str::to_owned))
        .collect()
}

pub fn run(traffic: &Path, policies: &[PathBuf], output: Option<&Path>) -> i32 {
    match learn_policy(traffic, policies, output) {
        Ok(()) => 0,
        Err(code) => code,
    }
}

fn learn_policy(traffic: &Path, policies: &[PathBuf], output: Option<&Path>) -> Result<(), i32> {
    let text = read(traffic)?;
    let mut records = learn::parse_records(&text).map_err(|e| {
        eprintln!("error: {}: {e}", traffic.display());
        2
    })?;
    let mut options = Options {
        source: Some(traffic.display().to_string()),
        ..Options::default()
    };
    let mut existing = Vec::new();
    for path in policies {
        let text = read(path)?;
        options.reserved_ids.extend(rule_ids(&text));
        existing.push((path.display().to_string(), text));
    }
    if !existing.is_empty() {
        let sources: Vec<PolicySource<'_>> = existing
            .iter()
            .map(|(name, text)| PolicySource { name, text })
            .collect();
        let policy = Policy::load(&sources).map_err(|e| {
            eprintln!("{e}");
            2
        })?;
        let total = records.len();
        let split = learn::split_by_policy(records, &policy);
        eprintln!(
            "isogate learn: {} of {total} messages already allowed by the given policy",
            split.allowed
        );
        for (rule, n) in &split.denied_by_rule {
            eprintln!(
                "isogate learn: {n} messages denied by rule `{rule}` were not learned (a deny wins in its scope)"
            );
        }
        records = split.uncovered;
    }
    let learned = learn::infer(&records, &options);
    for note in &learned.notes {
        eprintln!("isogate learn: note: {note}");
    }
    let policy_text = learned.to_policy_json();

    // The output must load alone and composed with the existing files.
    let name = output.map_or("(learned policy)".to_owned(), |p| p.display().to_string());
    let mut sources: Vec<PolicySource<'_>> = vec![PolicySource {
        name: &name,
        text: &policy_text,
    }];
    let alone = Policy::load(&sources);
    sources.extend(
        existing
            .iter()
            .map(|(name, text)| PolicySource { name, text }),
    );
    if let Err(e) = alone.and_then(|_| Policy::load(&sources)) {
        eprintln!("error: the learned policy does not load (please report this):\n{e}");
        eprint!("{policy_text}");
        return Err(1);
    }
    match output {
        Some(path) => std::fs::write(path, &policy_text).map_err(|e| {
            eprintln!("error: cannot write `{}`: {e}", path.display());
            2
        })?,
        None => {
            let _ = std::io::stdout().lock().write_all(policy_text.as_bytes());
        }
    }
    eprintln!(
        "isogate learn: {} rules from {} messages; review them before use",
        learned.rules.len(),
        records.len()
    );
    Ok(())
}
