//! The `isogate` command-line tool: the demo host, replay of captured
//! envelopes, frame rendering and policy tools.

mod demo;
mod learn;
mod open;
mod policy_cmd;
mod review_cmd;

use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "isogate",
    version,
    about = "Sandboxed isolation layer for webview IPC"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the demo app on 127.0.0.1 with the embedded default policy.
    Demo {
        /// Port of the main page (0 picks a free one). The isolation frame gets its own port.
        #[arg(long, default_value_t = 8917)]
        port: u16,
        /// Debug builds only: echo each discard's reason to the page's console.
        #[arg(long)]
        debug_reasons: bool,
        /// App hook script to include in every frame document.
        #[arg(long)]
        hook: Option<PathBuf>,
    },
    /// Replay text envelopes (one per stdin line) through one gate with an
    /// echo router; print one JSON line per envelope.
    Open {
        /// Key file: 64 hex digits or base64 of 32 bytes.
        #[arg(long)]
        key_file: PathBuf,
        /// The sender's window label.
        #[arg(long, value_parser = window_label)]
        window: String,
        /// The sender's origin, e.g. http://127.0.0.1:8917.
        #[arg(long)]
        origin: String,
        /// Policy file(s); repeat to compose several.
        #[arg(long = "policy", required = true)]
        policies: Vec<PathBuf>,
    },
    /// Load policy files together and report every error (exit 0 valid, 1 invalid).
    Check {
        /// Policy files to compose.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Decide one opened message (docs/WIRE.md section 4 JSON) from MESSAGE
    /// or stdin; print one JSON line (exit 0 allow, 1 deny, 2 error).
    Decide {
        /// Policy file(s); repeat to compose several.
        #[arg(long = "policy", required = true)]
        policies: Vec<PathBuf>,
        /// The sender's window label.
        #[arg(long, value_parser = window_label)]
        window: String,
        /// The sender's origin.
        #[arg(long)]
        origin: String,
        /// File holding the message JSON; `-` or nothing reads stdin.
        message: Option<PathBuf>,
    },
    /// Compare policies: what NEW allows that OLD did not, and the reverse
    /// (exit 0 no widening, 1 widening unless --allow-widen, 2 error).
    #[command(override_usage = "isogate diff [OPTIONS] OLD... -- NEW...")]
    Diff {
        /// The old policy file(s), composed.
        #[arg(required = true, value_name = "OLD")]
        old: Vec<PathBuf>,
        /// The new policy file(s), composed, after `--`.
        #[arg(last = true, required = true, value_name = "NEW")]
        new: Vec<PathBuf>,
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
        /// Exit 0 even when access widens.
        #[arg(long)]
        allow_widen: bool,
    },
    /// List what one window at one origin may send and receive, with the rule behind each.
    WhoCan {
        /// The sender's window label.
        #[arg(long, value_parser = window_label)]
        window: String,
        /// The sender's origin.
        #[arg(long)]
        origin: String,
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
        /// Policy files to compose.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
    },
    /// Which rules recorded traffic used and which it never touched.
    Coverage {
        /// Learning-mode records (`Gate::with_learning`) and/or `isogate open`
        /// output, one JSON object per line.
        traffic: PathBuf,
        /// Policy files to compose.
        #[arg(required = true)]
        policies: Vec<PathBuf>,
        /// Print one JSON document instead of lines.
        #[arg(long)]
        json: bool,
    },
    /// Print the JSON Schema of policy files.
    Schema,
    /// Render an isolation-frame document (with a fresh key unless --key-file).
    Render {
        /// Window label the frame seals for.
        #[arg(long, value_parser = window_label)]
        window: String,
        /// Origin of the main frame that embeds it.
        #[arg(long)]
        origin: String,
        /// App hook script to include.
        #[arg(long)]
        hook: Option<PathBuf>,
        /// Use this key instead of a fresh one (for tests only).
        #[arg(long)]
        key_file: Option<PathBuf>,
        /// Print the Content-Security-Policy header value instead of the HTML.
        #[arg(long)]
        csp: bool,
    },
    /// Infer a draft policy from traffic recorded in learning mode
    /// (`Gate::with_learning`, debug builds); print it or write it to --output.
    Learn {
        /// The recording: one JSON line per opened message.
        traffic: PathBuf,
        /// Existing policy file(s): what they already allow or deny is not
        /// learned, and the new rule ids do not clash with theirs.
        #[arg(long = "policy")]
        policies: Vec<PathBuf>,
        /// Write the policy here instead of to standard output.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
}

/// Parses `--window`: a window label (`docs/WIRE.md` section 2), or a usage
/// error (exit 2).
fn window_label(s: &str) -> Result<String, String> {
    if isogate::is_window_label(s) {
        return Ok(s.to_owned());
    }
    Err(format!(
        "not a window label ({} bytes): labels are 1 to {} bytes without whitespace, control characters or `*`",
        s.len(),
        isogate::MAX_WINDOW_LEN
    ))
}

fn main() {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Demo {
            port,
            debug_reasons,
            hook,
        } => demo::run(port, debug_reasons, hook.as_deref()),
        Command::Open {
            key_file,
            window,
            origin,
            policies,
        } => open::run(&key_file, &window, &origin, &policies),
        Command::Check { files } => policy_cmd::check(&files),
        Command::Decide {
            policies,
            window,
            origin,
            message,
        } => policy_cmd::decide(&policies, &window, &origin, message.as_deref()),
        Command::Diff {
            old,
            new,
            json,
            allow_widen,
        } => review_cmd::diff(&old, &new, json, allow_widen),
        Command::WhoCan {
            window,
            origin,
            json,
            policies,
        } => review_cmd::who_can(&policies, &window, &origin, json),
        Command::Coverage {
            traffic,
            policies,
            json,
        } => review_cmd::coverage(&traffic, &policies, json),
        Command::Schema => policy_cmd::schema(),
        Command::Render {
            window,
            origin,
            hook,
            key_file,
            csp,
        } => render(&window, &origin, hook.as_deref(), key_file.as_deref(), csp),
        Command::Learn {
            traffic,
            policies,
            output,
        } => learn::run(&traffic, &policies, output.as_deref()),
    };
    std::process::exit(code);
}

fn render(
    window: &str,
    origin: &str,
    hook: Option<&std::path::Path>,
    key_file: Option<&std::path::Path>,
    csp: bool,
) -> i32 {
    let read = |p: &std::path::Path| {
        std::fs::read_to_string(p)
            .map_err(|e| eprintln!("error: cannot read `{}`: {e}", p.display()))
    };
    let key = match key_file {
        Some(p) => {
            let Ok(text) = read(p) else { return 2 };
            isogate::LaunchKey::from_key_file_text(&text)
                .map_err(|e| eprintln!("error: {}: {e}", p.display()))
        }
        None => isogate::LaunchKey::generate().map_err(|e| eprintln!("error: {e}")),
    };
    let Ok(key) = key else { return 2 };
    let hook_text = match hook {
        Some(p) => match read(p) {
            Ok(t) => Some(t),
            Err(()) => return 2,
        },
        None => None,
    };
    let policy = match isogate::Policy::load(&[]) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return 2;
        }
    };
    let gate = isogate::Gate::new(key, policy, |_: isogate::Call<'_>| {
        Err(serde_json::Value::Null)
    });
    match gate.render_frame(window, origin, hook_text.as_deref()) {
        Ok(doc) => {
            println!("{}", if csp { &doc.csp } else { &doc.html });
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            2
        }
    }
}
