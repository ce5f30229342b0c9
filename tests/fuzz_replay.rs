//! Replays the committed fuzz corpus and every crash reproducer through the
//! same `isogate::fuzzing` functions the cargo-fuzz targets call, so
//! `cargo test` keeps them fixed without libFuzzer.
//!
//! - `tests/corpus/<target>/`: minimized seeds (`cargo fuzz cmin`).
//! - `tests/corpus/crashes/<target>/`: every crash a fuzzer found, kept
//!   after the fix as a regression file.
//!
//! `seeds_are_well_formed` writes the well-formed seeds (sealed valid
//! messages, plaintexts, policies, a gate script) to a temp dir and runs
//! them, which is how seeds are made; set `ISOGATE_WRITE_SEEDS=DIR` to write
//! them to `DIR/<target>/` for a fresh fuzzing run.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::fuzzing;
use std::path::{Path, PathBuf};

/// A fuzz target: its name and its entry point.
type Target = (&'static str, fn(&[u8]));

const TARGETS: [Target; 4] = [
    ("envelope", fuzzing::envelope_decode),
    ("message", fuzzing::message_decode),
    ("policy", fuzzing::policy_load),
    ("gate", fuzzing::gate_sequence),
];

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// Runs every file of `dir` (if it exists) through `run`; returns the count.
fn replay_dir(dir: &Path, run: fn(&[u8])) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    for file in &files {
        let data = std::fs::read(file).unwrap();
        let outcome = std::panic::catch_unwind(|| run(&data));
        assert!(outcome.is_ok(), "{} fails again", file.display());
    }
    files.len()
}

#[test]
fn the_fixed_policy_still_loads() {
    // If the policy language stops accepting it, every fuzz target would
    // silently test nothing past the tag check.
    let loaded = isogate::Policy::load(&[isogate::PolicySource {
        name: "fuzzing.json",
        text: fuzzing::POLICY,
    }]);
    assert!(loaded.is_ok(), "{}", loaded.err().unwrap());
    assert!(fuzzing::fixed_policy().is_some());
}

#[test]
fn corpus_replays_without_failures() {
    for (target, run) in TARGETS {
        let n = replay_dir(&corpus_dir().join(target), run);
        eprintln!("replayed {n} {target} corpus files");
        assert!(n > 0, "tests/corpus/{target} is empty");
    }
}

#[test]
fn crash_reproducers_stay_fixed() {
    for (target, run) in TARGETS {
        let n = replay_dir(&corpus_dir().join("crashes").join(target), run);
        eprintln!("replayed {n} {target} crash reproducers");
    }
}

#[test]
fn message_corpus_agrees_with_serde_json() {
    // `message_decode` runs this check too; here it runs alone, so a
    // disagreement is reported as one.
    let mut n = replay_dir(&corpus_dir().join("message"), fuzzing::message_differential);
    n += replay_dir(
        &corpus_dir().join("crashes").join("message"),
        fuzzing::message_differential,
    );
    eprintln!("checked {n} message corpus files against serde_json");
    assert!(n > 0, "tests/corpus/message is empty");
}

#[test]
fn policy_json_agrees_with_serde_json() {
    // `policy_load` runs this check too; here it runs alone, on the policy
    // corpus, the fixtures, the shipped policies and every prefix of those
    // (which reach the reader's error paths).
    let run = fuzzing::policy_json_differential;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut n = replay_dir(&corpus_dir().join("policy"), run);
    n += replay_dir(&corpus_dir().join("crashes").join("policy"), run);
    n += replay_dir(&root.join("tests/policy_fixtures"), run);
    let mut prefixes = 0;
    for entry in std::fs::read_dir(root.join("policies")).unwrap() {
        let text = std::fs::read(entry.unwrap().path()).unwrap();
        for end in 0..=text.len() {
            run(&text[..end]);
            prefixes += 1;
        }
    }
    eprintln!("checked {n} policy files and {prefixes} prefixes against serde_json");
    assert!(n > 0 && prefixes > 0);
}

#[test]
fn seeds_are_well_formed() {
    let dir = match std::env::var_os("ISOGATE_WRITE_SEEDS") {
        Some(dir) => PathBuf::from(dir),
        None => std::env::temp_dir().join(format!("isogate-seeds-{}", std::process::id())),
    };
    let seeds = fuzzing::seeds();
    for (target, name, bytes) in &seeds {
        let sub = dir.join(target);
        std::fs::create_dir_all(&sub).unwrap();
        std::fs::write(sub.join(name), bytes).unwrap();
    }
    for (target, run) in TARGETS {
        let n = replay_dir(&dir.join(target), run);
        assert!(n > 0, "no {target} seeds");
    }
    if std::env::var_os("ISOGATE_WRITE_SEEDS").is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn sealed_seeds_open_and_dispatch_once() {
    // The sealed seeds are real envelopes: the envelope target dispatches
    // one of them at most once, and a flipped copy never.
    let seeds = fuzzing::seeds();
    let sealed: Vec<&Vec<u8>> = seeds
        .iter()
        .filter(|(t, n, _)| *t == "envelope" && !n.ends_with(".b64"))
        .map(|(_, _, b)| b)
        .collect();
    assert!(!sealed.is_empty());
    for env in sealed {
        assert!(isogate::stages::envelope::decode(env).is_some());
        fuzzing::envelope_decode(env);
        let mut flipped = env.clone();
        *flipped.last_mut().unwrap() ^= 0x80;
        fuzzing::envelope_decode(&flipped);
    }
}

#[test]
fn gate_target_reaches_the_router_and_the_listener() {
    // If the fixed policy denied everything, the gate target would assert
    // nothing about dispatch. Seal and send an allowed command, and an
    // allowed event, from `main`.
    let script = [
        0, 1, 1, 1, 1, 0, // seal invoke `read_note` {"name": "Ada"}: denied
        0, 1, 2, 1, 1, 0, // seal invoke `read_note` {"path": "/notes/todo.md"}
        0, 1, 0, 0, 0, // seal emit `clicked` {"n": 2}
        2, 0, 0, 1, 1, // send envelope 0 from main
        2, 1, 0, 1, 1, // send envelope 1
        2, 2, 0, 1, 1, // send envelope 2
        2, 1, 0, 1, 1, // replay envelope 1
    ];
    assert_eq!(fuzzing::gate_sequence_counts(&script), (1, 1));
}
