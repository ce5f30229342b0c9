//! Bodies of `isogate check | decide | schema` (`docs/POLICY.md`,
//! section 12). Argument parsing lives in `main.rs`; these functions print
//! and return the process exit code.

use isogate::{DecodeError, Message};
use isogate::{Policy, Request};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

/// The JSON Schema of policy files, as shipped in `policies/schema.json`.
const SCHEMA: &str = include_str!("../../policies/schema.json");

/// Largest message file `decide` reads (the largest envelope there is).
const MAX_MESSAGE_FILE: u64 = isogate::MAX_ENVELOPE_LEN as u64;

/// What `check` says of a policy without `deliver` rules.
pub const UNGOVERNED_NOTE: &str = "note: no `deliver` rules: every event the core sends is delivered to any window; add `deliver` rules to govern egress (docs/POLICY.md)";

fn out(text: &str) {
    // A closed stdout (e.g. `| head`) is not worth a panic.
    let _ = writeln!(io::stdout().lock(), "{text}");
}

fn err(text: &str) {
    let _ = writeln!(io::stderr().lock(), "{text}");
}

fn load(paths: &[PathBuf]) -> Option<Policy> {
    if paths.is_empty() {
        err("error: no policy files given");
        return None;
    }
    match Policy::from_files(paths) {
        Ok(policy) => Some(policy),
        Err(errors) => {
            err(&errors.to_string());
            None
        }
    }
}

/// `isogate check FILE...`: loads the files together; prints every
/// error to stderr (exit 1), or `ok: N files, M rules` to stdout (exit 0),
/// followed by a note when no `deliver` rule governs egress.
pub fn check(paths: &[PathBuf]) -> i32 {
    match load(paths) {
        Some(policy) => {
            out(&format!(
                "ok: {} files, {} rules",
                paths.len(),
                policy.rule_count()
            ));
            if !policy.governs_delivery() {
                out(UNGOVERNED_NOTE);
            }
            0
        }
        None => 1,
    }
}

/// `isogate decide`: decides one opened message (the plaintext JSON
/// of `docs/WIRE.md` section 4) read from `message`, or from stdin when it
/// is `None` or `-`. Prints one JSON line
/// `{"decision":...,"rule":...,"reason":...}`; exit 0 allowed, 1 denied,
/// 2 on a policy, message or I/O error (reported on stderr).
pub fn decide(policies: &[PathBuf], window: &str, origin: &str, message: Option<&Path>) -> i32 {
    let Some(policy) = load(policies) else {
        return 2;
    };
    let json = match read_message(message) {
        Ok(json) => json,
        Err(e) => {
            err(&format!("error: {e}"));
            return 2;
        }
    };
    let json = json.trim_ascii();
    let Ok(len) = u32::try_from(json.len()) else {
        err("error: the message is too large");
        return 2;
    };
    let mut plaintext = Vec::with_capacity(4 + json.len());
    plaintext.extend_from_slice(&len.to_be_bytes());
    plaintext.extend_from_slice(json);
    let msg = match Message::decode(&plaintext, &policy.limits()) {
        Ok(msg) => msg,
        Err(DecodeError::Invalid) => {
            err("error: not a valid message: expected one JSON object as in docs/WIRE.md section 4, e.g. {\"kind\":\"invoke\",\"id\":1,\"cmd\":\"greet\",\"args\":{}}");
            return 2;
        }
        Err(DecodeError::OverLimit) => {
            err("error: the message is over the policy's limits (size, depth, items or args); the gate would discard it as `over_limit`");
            return 2;
        }
    };
    let args = msg.args().to_value();
    let decision = policy.explain(&Request {
        window,
        origin,
        kind: msg.kind(),
        name: msg.name(),
        args: &args,
    });
    out(&decision.to_json());
    if decision.allowed {
        0
    } else {
        1
    }
}

fn read_message(message: Option<&Path>) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let result = match message {
        None => io::stdin()
            .lock()
            .take(MAX_MESSAGE_FILE + 1)
            .read_to_end(&mut buf),
        Some(p) if p == Path::new("-") => io::stdin()
            .lock()
            .take(MAX_MESSAGE_FILE + 1)
            .read_to_end(&mut buf),
        Some(p) => std::fs::File::open(p)
            .and_then(|f| f.take(MAX_MESSAGE_FILE + 1).read_to_end(&mut buf))
            .map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!(
                        "cannot read `{}`: {}",
                        p.display(),
                        e.to_string().to_lowercase()
                    ),
                )
            }),
    };
    result.map_err(|e| e.to_string())?;
    if buf.len() as u64 > MAX_MESSAGE_FILE {
        return Err("the message is too large".to_owned());
    }
    Ok(buf)
}

/// `isogate schema`: prints the JSON Schema of policy files.
pub fn schema() -> i32 {
    let _ = io::stdout().lock().write_all(SCHEMA.as_bytes());
    0
}
