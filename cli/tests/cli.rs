//! The `isogate` command line, run as a user would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::encode_base64;
use isogate::danger::Sealer;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const ORIGIN: &str = "http://127.0.0.1:8917";
/// The known-answer vectors' policy, in the library's tests at the repo root
/// (tests run from `cli/`).
const VECTORS_POLICY: &str = "../tests/vectors/policy.json";

fn isogate<S: AsRef<std::ffi::OsStr>>(args: &[S], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run isogate");
    // Written from another thread: a child that answers line by line fills
    // its stdout pipe before it has read a long input.
    let mut pipe = child.stdin.take().unwrap();
    let input = stdin.to_owned();
    let writer = std::thread::spawn(move || pipe.write_all(input.as_bytes()));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn temp_file(name: &str, text: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("isogate-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn open_replays_envelopes_and_prints_one_line_each() {
    let key: [u8; 32] = std::array::from_fn(|i| i as u8);
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    let key_file = temp_file("key.hex", &format!("{key_hex}\n"));
    let mut sealer = Sealer::new(key, "main", ORIGIN, 1);
    let greet = encode_base64(&sealer.invoke(1, "greet", json!({"name": "Ada"})));
    let denied = encode_base64(&sealer.invoke(2, "delete_everything", json!({})));
    let mut foreign = Sealer::new(key, "settings", ORIGIN, 1);
    let wrong_window = encode_base64(&foreign.invoke(3, "greet", json!({"name": "Ada"})));
    let mut tampered = sealer.invoke(4, "greet", json!({"name": "Ada"}));
    tampered[40] ^= 1;
    let input = [
        greet.clone(),
        greet,
        denied,
        wrong_window,
        encode_base64(&tampered),
        "garbage".into(),
    ]
    .join("\n");
    let args = open_args(&key_file, VECTORS_POLICY);
    let lines = open_lines(&args, &input);
    let summary: Vec<(String, Value, Value)> = lines
        .iter()
        .map(|l| {
            (
                l["outcome"].as_str().unwrap().to_owned(),
                l["reason"].clone(),
                l["cmd"].clone(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("dispatched".into(), Value::Null, json!("greet")),
            ("discarded".into(), json!("replay"), Value::Null),
            (
                "discarded".into(),
                json!("denied"),
                json!("delete_everything")
            ),
            ("discarded".into(), json!("wrong_window"), Value::Null),
            ("discarded".into(), json!("bad_tag"), Value::Null),
            ("discarded".into(), json!("malformed"), Value::Null),
        ]
    );
    assert_eq!(
        lines[0]["reply"]["result"],
        json!({"cmd": "greet", "args": {"name": "Ada"}})
    );
}

/// Runs `isogate open` with `args` on `input`; asserts exit 0 and returns
/// its output lines as JSON.
fn open_lines(args: &[String], input: &str) -> Vec<Value> {
    let (code, stdout, stderr) = isogate(args, input);
    assert_eq!(code, 0, "{stderr}");
    stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn open_args(key_file: &std::path::Path, policy: &str) -> Vec<String> {
    [
        "open",
        "--key-file",
        key_file.to_str().unwrap(),
        "--window",
        "main",
        "--origin",
        ORIGIN,
        "--policy",
        policy,
    ]
    .map(String::from)
    .to_vec()
}

fn key_file(name: &str) -> ([u8; 32], std::path::PathBuf) {
    let key: [u8; 32] = std::array::from_fn(|i| (i * 7) as u8);
    let key_hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
    (key, temp_file(name, &key_hex))
}

#[test]
fn open_prints_the_gates_verdict_for_any_number_of_lines() {
    // Regression: `open` inferred each outcome from the last audit event, so
    // once the gate's audit cap was reached (about 2,000 lines) it printed
    // `discarded` with no reason for envelopes the gate had dispatched.
    let (key, key_file) = key_file("key-100k.hex");
    let mut sealer = Sealer::new(key, "main", ORIGIN, 1);
    let mut input = String::new();
    let mut expected = Vec::new();
    let mut last_valid = String::new();
    for i in 0..100_000u64 {
        match i % 5 {
            0 | 1 => {
                last_valid = encode_base64(&sealer.invoke(i, "greet", json!({"n": i})));
                input.push_str(&last_valid);
                expected.push(("dispatched", Value::Null, json!("greet"), Some(i)));
            }
            2 => {
                input.push_str("garbage!");
                expected.push(("discarded", json!("malformed"), Value::Null, None));
            }
            3 => {
                input.push_str(&last_valid);
                expected.push(("discarded", json!("replay"), Value::Null, None));
            }
            _ => {
                input.push_str(&encode_base64(&sealer.invoke(i, "rm", json!({}))));
                expected.push(("discarded", json!("denied"), json!("rm"), None));
            }
        }
        input.push('\n');
    }
    let args = open_args(&key_file, VECTORS_POLICY);
    let (code, stdout, stderr) = isogate(&args, &input);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), expected.len());
    for (i, (line, (outcome, reason, cmd, id))) in lines.iter().zip(&expected).enumerate() {
        let v: Value = serde_json::from_str(line).unwrap();
        assert_eq!(v["outcome"], json!(outcome), "line {i}: {line}");
        assert_eq!(&v["reason"], reason, "line {i}: {line}");
        assert_eq!(&v["cmd"], cmd, "line {i}: {line}");
        match id {
            Some(id) => {
                assert_eq!(v["reply"]["id"], json!(id), "line {i}: {line}");
                assert_eq!(v["rule"], json!("vectors"), "line {i}: {line}");
                assert_eq!(v["kind"], json!("invoke"), "line {i}: {line}");
            }
            None => assert_eq!(v["reply"], Value::Null, "line {i}: {line}"),
        }
    }
}

#[test]
fn open_names_the_deny_rule_and_prints_every_field() {
    let (key, key_file) = key_file("key-deny.hex");
    let policy = temp_file(
        "deny.json",
        r#"{"version":1,"rules":[
          {"id":"all","effect":"allow","commands":["ls","rm"],"windows":["main"],"args":{"type":"object","additional":true}},
          {"id":"no-rm","effect":"deny","commands":["rm"],"windows":["main"]},
          {"id":"ev","effect":"allow","events":["clicked"],"windows":["main"],"payload":{"type":"any"}}]}"#,
    );
    let mut sealer = Sealer::new(key, "main", ORIGIN, 1);
    let input = [
        encode_base64(&sealer.invoke(1, "rm", json!({}))),
        encode_base64(&sealer.emit("other", json!(1))),
        encode_base64(&sealer.emit("clicked", json!(1))),
        // Leading and trailing ASCII whitespace and a CR are trimmed.
        format!(" \t{}\r", encode_base64(&sealer.invoke(2, "ls", json!({})))),
    ]
    .join("\n");
    let args = open_args(&key_file, policy.to_str().unwrap());
    let lines = open_lines(&args, &input);
    assert_eq!(
        lines,
        [
            json!({"outcome":"discarded","reason":"denied","cmd":"rm","kind":"invoke","rule":"no-rm","reply":null}),
            json!({"outcome":"discarded","reason":"denied","cmd":"other","kind":"emit","rule":null,"reply":null}),
            json!({"outcome":"dispatched","reason":null,"cmd":"clicked","kind":"emit","rule":"ev","reply":null}),
            json!({"outcome":"dispatched","reason":null,"cmd":"ls","kind":"invoke","rule":"all",
                   "reply":{"id":2,"ok":true,"result":{"cmd":"ls","args":{}}}}),
        ]
    );
}

#[test]
fn open_bounds_a_long_line_and_goes_on() {
    // Regression: a whole line was read before any size check (a 200 MiB
    // line cost 204 MB of RSS). Lines past the largest envelope the policy
    // admits are cut, reported `too_large`, and the next line is read.
    use std::io::{BufRead, BufReader};
    let (key, key_file) = key_file("key-long.hex");
    let args = open_args(&key_file, VECTORS_POLICY);
    let mut child = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let chunk = vec![b'A'; 1 << 20];
    for _ in 0..200 {
        stdin.write_all(&chunk).unwrap();
    }
    let mut sealer = Sealer::new(key, "main", ORIGIN, 1);
    let valid = encode_base64(&sealer.invoke(1, "greet", json!({})));
    stdin.write_all(format!("\n{valid}\n").as_bytes()).unwrap();
    stdin.flush().unwrap();
    let mut first = String::new();
    stdout.read_line(&mut first).unwrap();
    let mut second = String::new();
    stdout.read_line(&mut second).unwrap();
    // Still running (stdin open): its peak resident size so far.
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id())).unwrap();
    drop(stdin);
    assert!(child.wait().unwrap().success());
    let first: Value = serde_json::from_str(&first).unwrap();
    assert_eq!(first["reason"], json!("too_large"));
    let second: Value = serde_json::from_str(&second).unwrap();
    assert_eq!(second["outcome"], json!("dispatched"));
    let peak_kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(peak_kb < 64 * 1024, "peak RSS {peak_kb} kB");
}

#[test]
fn open_exit_codes() {
    let (_, key_file) = key_file("key-exit.hex");
    let args = open_args(&key_file, VECTORS_POLICY);
    // Discards are results, not errors: exit 0, one line each, even for
    // bytes that are not UTF-8 (`malformed`).
    let (code, stdout, _) = isogate(&args, "junk\n\u{fffd}\n\n");
    assert_eq!(code, 0);
    assert_eq!(stdout.lines().count(), 3);
    let bad_policy = temp_file("bad.json", "{");
    let args = open_args(&key_file, bad_policy.to_str().unwrap());
    assert_eq!(isogate(&args, "").0, 2);
}

#[test]
fn open_reports_a_bad_key_file_clearly() {
    let key_file = temp_file("bad.key", "not a key");
    let args = open_args(&key_file, VECTORS_POLICY);
    let (code, _, stderr) = isogate(&args, "");
    assert_eq!(code, 2);
    assert!(
        stderr.contains("neither 64 hex digits nor base64"),
        "{stderr}"
    );
}

#[test]
fn render_prints_a_frame_document_with_a_hash_only_csp() {
    let (code, html, _) = isogate(&["render", "--window", "main", "--origin", ORIGIN], "");
    assert_eq!(code, 0);
    assert!(html.contains(r#"id="isogate-config""#) && html.contains(r#""window":"main""#));
    let (code, csp, _) = isogate(
        &["render", "--window", "main", "--origin", ORIGIN, "--csp"],
        "",
    );
    assert_eq!(code, 0);
    assert!(
        csp.contains("script-src 'sha256-") && csp.contains("sandbox allow-scripts"),
        "{csp}"
    );
    let (code, _, stderr) = isogate(
        &["render", "--window", "main", "--origin", "http://a/path"],
        "",
    );
    assert_eq!(
        (code, stderr.trim()),
        (
            2,
            "error: parent origin must look like `scheme://host[:port]`"
        )
    );
}

/// Starts `isogate demo --port 0` with extra flags; returns the child and its URL.
fn demo(extra: &[&str]) -> (std::process::Child, String) {
    use std::io::BufRead;
    let mut child = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(["demo", "--port", "0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    (child, line.trim().to_owned())
}

/// POSTs `body` to the demo's /ipc and returns the raw response head.
fn post_ipc(url: &str, body: &[u8]) -> String {
    use std::io::Read;
    let addr = url.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    let head = format!(
        "POST /ipc?window=main HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn demo_tells_the_page_why_only_in_debug_builds_that_opt_in() {
    let (mut plain, url) = demo(&[]);
    let response = post_ipc(&url, b"not an envelope");
    let _ = plain.kill();
    assert!(response.starts_with("HTTP/1.1 204"), "{response}");
    assert!(
        !response.to_ascii_lowercase().contains("x-isogate-debug"),
        "{response}"
    );

    if cfg!(debug_assertions) {
        let (mut verbose, url) = demo(&["--debug-reasons"]);
        let response = post_ipc(&url, b"not an envelope");
        let _ = verbose.kill();
        assert!(
            response.contains("X-Isogate-Debug: isogate discarded the message: malformed"),
            "{response}"
        );
    } else {
        let (code, _, stderr) = isogate(&["demo", "--port", "0", "--debug-reasons"], "");
        assert_eq!(code, 2);
        assert!(stderr.contains("only in debug builds"), "{stderr}");
    }
}

#[test]
fn window_labels_follow_one_grammar_on_the_command_line() {
    // Regression: `decide` accepted an empty or a 129-byte label.
    let message = temp_file(
        "ping.json",
        r#"{"kind":"invoke","id":1,"cmd":"greet","args":{}}"#,
    );
    let long = "w".repeat(129);
    for bad in ["", "a b", "ma*n", long.as_str()] {
        let (code, stdout, stderr) = isogate(
            &[
                "decide",
                "--policy",
                VECTORS_POLICY,
                "--window",
                bad,
                "--origin",
                ORIGIN,
                message.to_str().unwrap(),
            ],
            "",
        );
        assert_eq!(code, 2, "{bad:?}: {stdout}");
        assert!(stderr.contains("not a window label"), "{stderr}");
        let (code, _, stderr) = isogate(&["render", "--window", bad, "--origin", ORIGIN], "");
        assert_eq!(code, 2, "{bad:?}");
        assert!(stderr.contains("not a window label"), "{stderr}");
    }
    let (code, stdout, _) = isogate(
        &[
            "decide",
            "--policy",
            VECTORS_POLICY,
            "--window",
            "main",
            "--origin",
            ORIGIN,
            message.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!((code, stdout.contains(r#""decision":"allow""#)), (0, true));
}

/// `docs/POLICY.md` section 8, "Numbers", through `isogate check` and
/// `isogate decide` (which read messages as the gate does).
#[test]
fn numbers_decide_exactly_and_out_of_range_ones_are_errors() {
    let policy = temp_file(
        "numbers.json",
        r#"{"version": 1, "rules": [
  {"id": "n", "effect": "allow", "commands": ["n"], "windows": ["main"],
   "args": {"type": "object", "properties": {
     "zero": {"type": "integer", "minimum": 0, "maximum": 0},
     "big": {"enum": [9007199254740993]}}}}
]}"#,
    );
    let policy = policy.to_str().unwrap();
    let decide = |message: &str| {
        isogate(
            &[
                "decide", "--policy", policy, "--window", "main", "--origin", ORIGIN,
            ],
            message,
        )
    };
    let invoke = |args: &str| format!(r#"{{"kind":"invoke","id":-0,"cmd":"n","args":{args}}}"#);
    let (code, stdout, stderr) = decide(&invoke(r#"{"zero":-0}"#));
    assert_eq!(
        (code, stdout.trim()),
        (
            0,
            r#"{"decision":"allow","rule":"n","reason":"allowed by rule `n`"}"#
        ),
        "{stderr}"
    );
    let (code, stdout, _) = decide(&invoke(r#"{"big":9007199254740993}"#));
    assert_eq!(code, 0, "{stdout}");
    let (code, stdout, _) = decide(&invoke(r#"{"big":9007199254740992.0}"#));
    assert_eq!(
        (code, stdout.trim()),
        (
            1,
            r#"{"decision":"deny","rule":null,"reason":"no rule allows command `n` for window `main` at origin `http://127.0.0.1:8917`: rule `n`: argument `big` is 9007199254740992.0, which is not one of the allowed values"}"#
        )
    );
    let (code, stdout, _) = decide(&invoke(r#"{"zero":-0.0}"#));
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("argument `zero` must be integer, not number"),
        "{stdout}"
    );
    // Too large for a double: not a message at all.
    let (code, stdout, stderr) = decide(&invoke(r#"{"big":1e400}"#));
    assert_eq!((code, stdout.as_str()), (2, ""));
    assert!(stderr.starts_with("error: not a valid message"), "{stderr}");
    // Too small for one: zero.
    let (code, _, _) = decide(&invoke(r#"{"zero":1e-400}"#));
    assert_eq!(code, 1);

    let bad = temp_file(
        "bad-numbers.json",
        r#"{"version": 1, "rules": [
  {"id": "n", "effect": "allow", "commands": ["n"], "windows": ["main"],
   "args": {"type": "object", "properties": {"a": {"type": "integer", "maximum": 18446744073709551616}}}}
]}"#,
    );
    let (code, stdout, stderr) = isogate(&["check", bad.to_str().unwrap()], "");
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(
        stderr.trim_end(),
        format!(
            "{}:3:82: `maximum` must be an integer for type `integer`, not `18446744073709551616` (at `/rules/0/args/properties/a/maximum`)\n  hint: an integer is written without fraction or exponent, from -9223372036854775808 to 18446744073709551615",
            bad.display()
        )
    );
    let huge = temp_file(
        "huge-number.json",
        r#"{"version": 1, "rules": [{"id": "n", "effect": "allow", "commands": ["n"], "windows": ["main"],
   "args": {"type": "object", "properties": {"a": {"type": "number", "maximum": -1e400}}}}]}"#,
    );
    let (code, _, stderr) = isogate(&["check", huge.to_str().unwrap()], "");
    assert_eq!(
        (code, stderr.trim_end()),
        (
            1,
            format!(
                "{}:2:81: number out of range (at `/rules/0/args/properties/a/maximum`)",
                huge.display()
            )
            .as_str()
        )
    );
}

/// `docs/POLICY.md` section 7 through `isogate check` and `isogate decide`.
#[test]
fn origins_compare_ipv6_as_addresses_and_odd_forms_are_errors() {
    let policy = temp_file(
        "v6.json",
        r#"{"version": 1, "rules": [
  {"id": "v6", "effect": "allow", "commands": ["v6"], "windows": ["main"], "origins": ["http://[0:0:0:0:0:0:0:1]:*"]}
]}"#,
    );
    let policy = policy.to_str().unwrap();
    let decide = |origin: &str| {
        isogate(
            &[
                "decide", "--policy", policy, "--window", "main", "--origin", origin,
            ],
            r#"{"kind":"invoke","id":1,"cmd":"v6","args":{}}"#,
        )
    };
    assert_eq!(decide("http://[::1]:1420").0, 0);
    assert_eq!(decide("http://[::2]:1420").0, 1);
    let bad = temp_file(
        "bad-origins.json",
        r#"{"version": 1, "rules": [
  {"id": "a", "effect": "allow", "commands": ["a"], "windows": ["main"], "origins": ["http://localhost:080", "http://127.1"]}
]}"#,
    );
    let (code, _, stderr) = isogate(&["check", bad.to_str().unwrap()], "");
    let name = bad.display();
    assert_eq!(
        (code, stderr.trim_end()),
        (
            1,
            format!(
                "{name}:2:86: invalid port in origin `http://localhost:080`: a port has no leading zeros (at `/rules/0/origins/0`)
  hint: write `http://localhost:80`
{name}:2:110: origin `http://127.1` writes an IPv4 address in a form browsers never send (at `/rules/0/origins/1`)
  hint: write `http://127.0.0.1`"
            )
            .as_str()
        )
    );
}

#[test]
fn check_notes_a_policy_that_does_not_govern_egress() {
    let ungoverned = temp_file(
        "no-deliver.json",
        r#"{"version": 1, "rules": [{"id": "t", "effect": "allow", "events": ["tick"], "windows": ["main"]}]}"#,
    );
    let (code, stdout, stderr) = isogate(&["check", ungoverned.to_str().unwrap()], "");
    assert_eq!((code, stderr.as_str()), (0, ""));
    assert_eq!(
        stdout,
        "ok: 1 files, 1 rules\nnote: no `deliver` rules: every event the core sends is delivered to any window; add `deliver` rules to govern egress (docs/POLICY.md)\n"
    );
    let governed = temp_file(
        "with-deliver.json",
        r#"{"version": 1, "rules": [{"id": "t", "effect": "allow", "deliver": ["tick"], "windows": ["main"]}]}"#,
    );
    let (code, stdout, _) = isogate(&["check", governed.to_str().unwrap()], "");
    assert_eq!((code, stdout.as_str()), (0, "ok: 1 files, 1 rules\n"));
}
