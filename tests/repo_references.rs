//! The repository stands alone: every document its code, tests and docs
//! cite (`WIRE.md`, `docs/POLICY.md`, `THREAT_MODEL.md`...) is in it.
//! Regression: `isolation-frame/shim.js` and `tests/browser/attacks.rs`
//! cited a design document (`DESIGN` dot md) the repository does not contain.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::path::{Path, PathBuf};

/// Folders that hold no references of ours: build output, dependencies,
/// generated corpora.
const SKIP: &[&str] = &["target", "node_modules", ".git", "corpus", "artifacts"];

fn files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            if !SKIP.contains(&name.as_str()) {
                files(&path, out);
            }
        } else if [".rs", ".js", ".ts", ".md", ".toml", ".py", ".json", ".html"]
            .iter()
            .any(|ext| name.ends_with(ext))
            || name == "run"
        {
            out.push(path);
        }
    }
}

#[test]
fn every_cited_document_is_in_the_repository() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut all = Vec::new();
    files(root, &mut all);
    // Document names as this project writes them: upper-case names, with
    // an optional folder (`docs/WIRE.md`).
    let cited = regex::Regex::new(r"\b((?:[a-z0-9_-]+/)*[A-Z][A-Z_]{3,}\.md)\b").unwrap();
    let mut missing = Vec::new();
    let mut seen = 0;
    for file in &all {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for (n, line) in text.lines().enumerate() {
            for m in cited.captures_iter(line) {
                let name = &m[1];
                seen += 1;
                let here = file.parent().unwrap();
                let found = [
                    root.join(name),
                    root.join("docs").join(name),
                    here.join(name),
                ]
                .iter()
                .any(|p| p.is_file());
                if !found {
                    let rel = file.strip_prefix(root).unwrap().display();
                    missing.push(format!("{rel}:{}: `{name}`", n + 1));
                }
            }
        }
    }
    assert!(seen > 50, "the scan found only {seen} references");
    assert!(
        missing.is_empty(),
        "documents cited but not in the repository:\n{}",
        missing.join("\n")
    );
}
