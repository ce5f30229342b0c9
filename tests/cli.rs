//! The `isogate` command line, run as a user would.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use isogate::danger::Sealer;
use isogate::envelope::encode_base64;
use serde_json::{json, Value};
use std::io::Write;
use std::process::{Command, Stdio};

const ORIGIN: &str = "http://127.0.0.1:8917";

fn isogate(args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_isogate"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run isogate");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
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
    let (code, stdout, stderr) = isogate(
        &[
            "open",
            "--key-file",
            key_file.to_str().unwrap(),
            "--window",
            "main",
            "--origin",
            ORIGIN,
            "--policy",
            "tests/vectors/policy.json",
        ],
        &input,
    );
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
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

#[test]
fn open_reports_a_bad_key_file_clearly() {
    let key_file = temp_file("bad.key", "not a key");
    let (code, _, stderr) = isogate(
        &[
            "open",
            "--key-file",
            key_file.to_str().unwrap(),
            "--window",
            "main",
            "--origin",
            ORIGIN,
            "--policy",
            "tests/vectors/policy.json",
        ],
        "",
    );
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
        "POST /ipc?window=main HTTP/1.1\r\nHost: {addr}\r\nOrigin: http://{addr}\r\nContent-Length: {}\r\n\r\n",
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
