//! `isogate open`: replays captured envelopes through one gate whose router
//! echoes the command, printing one JSON line per input line: the gate's own
//! verdict for that envelope.

use isogate::{Gate, LaunchKey, Outcome, Policy, Sender, Verdict};
use serde_json::{json, Value};
use std::io::{BufRead, Write};
use std::path::PathBuf;

pub fn run(key_file: &PathBuf, window: &str, origin: &str, policies: &[PathBuf]) -> i32 {
    let key = match std::fs::read_to_string(key_file) {
        Ok(text) => match LaunchKey::from_key_file_text(&text) {
            Ok(k) => k,
            Err(e) => {
                eprintln!("error: {}: {e}", key_file.display());
                return 2;
            }
        },
        Err(e) => {
            eprintln!("error: cannot read `{}`: {e}", key_file.display());
            return 2;
        }
    };
    let policy = match Policy::from_files(policies) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    // No envelope the policy can admit is longer than this; the gate refuses
    // longer ones as `too_large`, and no line is read past its text form.
    let max_envelope = policy.limits().max_envelope_len();
    // Text past this is over the gate's bound (4 characters for 3 bytes,
    // and a little for padding), so cutting a line there keeps the verdict.
    let max_line = max_envelope.div_ceil(3) * 4 + 8;
    let echo = |call: isogate::Call<'_>| -> Result<Value, Value> {
        Ok(json!({"cmd": call.cmd, "args": call.args}))
    };
    let gate = Gate::new(key, policy, echo).with_max_envelope_len(max_envelope);
    let sender = Sender { window, origin };
    let stdin = std::io::stdin();
    let mut input = stdin.lock();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut line = Vec::new();
    loop {
        match read_line(&mut input, &mut line, max_line) {
            Ok(false) => return 0,
            Ok(true) => {}
            Err(e) => {
                eprintln!("error: cannot read stdin: {e}");
                return 2;
            }
        }
        // Bytes that are not UTF-8 are not base64 either: the gate refuses
        // them (`malformed`) like any other text that does not decode.
        let text = String::from_utf8_lossy(&line);
        let verdict = gate.handle_verbose(sender, text.trim_ascii());
        if writeln!(out, "{}", record(verdict)).is_err() {
            return 2;
        }
    }
}

/// Reads one line (without its `\n`) into `line`, keeping at most `max + 1`
/// bytes of it: a longer line is cut there and the rest skipped unread, so
/// the gate sees it over its bound. `Ok(false)` at the end of the input.
fn read_line(input: &mut impl BufRead, line: &mut Vec<u8>, max: usize) -> std::io::Result<bool> {
    line.clear();
    let mut seen = false;
    loop {
        let buf = match input.fill_buf() {
            Ok(buf) => buf,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if buf.is_empty() {
            return Ok(seen);
        }
        seen = true;
        let (chunk, used, done) = match buf.iter().position(|&b| b == b'\n') {
            Some(end) => (buf.get(..end).unwrap_or_default(), end + 1, true),
            None => (buf, buf.len(), false),
        };
        let room = (max + 1).saturating_sub(line.len());
        line.extend_from_slice(chunk.get(..room.min(chunk.len())).unwrap_or_default());
        input.consume(used);
        if done {
            return Ok(true);
        }
    }
}

/// The JSON line `isogate open` prints for one verdict (README, "CLI").
fn record(v: Verdict) -> Value {
    // An admitted command or event is `dispatched`; `kind` tells which.
    let outcome = match v.outcome {
        Outcome::Dispatched | Outcome::Delivered => "dispatched",
        // `Dropped` is the host layer's (outgoing queues), never a verdict's.
        Outcome::Discarded | Outcome::Dropped => "discarded",
    };
    json!({
        "outcome": outcome,
        "reason": v.reason,
        "cmd": v.name,
        "kind": v.kind,
        "rule": v.rule,
        "reply": v.reply.map(|r| match r.result {
            Ok(result) => json!({"id": r.id, "ok": true, "result": result}),
            Err(error) => json!({"id": r.id, "ok": false, "error": error}),
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::read_line;

    #[test]
    fn lines_are_cut_past_the_bound_and_the_rest_skipped() {
        let text = format!("short\n{}\nnext\r\nlast", "x".repeat(100));
        // A tiny buffer makes lines span several fills.
        let mut input = std::io::BufReader::with_capacity(7, text.as_bytes());
        let mut line = Vec::new();
        let mut lines = Vec::new();
        while read_line(&mut input, &mut line, 10).unwrap() {
            lines.push(String::from_utf8(line.clone()).unwrap());
        }
        assert_eq!(lines, ["short", "xxxxxxxxxxx", "next\r", "last"]);
    }
}
