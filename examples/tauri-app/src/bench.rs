//! `--bench`: the same app in three configurations, measured side by side
//! in one run under the same display: no isolation (Tauri's brownfield
//! pattern), Tauri's isolation pattern, and isogate. Each runs as a child
//! process (`--bench-run MODE`) whose page times the calls with
//! `performance.now()` and reports them with `bench_report`; this process
//! prints the table (see BENCHMARKS.md for the method).

use serde_json::Value;
use std::process::Command;
use std::time::Duration;

/// How the app talks to its core.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Tauri's own IPC, no isolation.
    Brownfield,
    /// Tauri's isolation pattern (`tauri.isolation.conf.json`).
    Isolation,
    /// isogate-tauri.
    Isogate,
}

impl Mode {
    const ALL: [Mode; 3] = [Mode::Brownfield, Mode::Isolation, Mode::Isogate];

    /// The mode's name on the command line and in the table.
    pub fn name(self) -> &'static str {
        match self {
            Self::Brownfield => "brownfield",
            Self::Isolation => "isolation",
            Self::Isogate => "isogate",
        }
    }

    /// The mode called `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }
}

/// The page's measurements: printed as one line for the driver, then the
/// app exits.
#[tauri::command]
pub fn bench_report(results: Value, app: tauri::AppHandle) {
    println!("bench-result: {results}");
    app.exit(0);
}

/// Runs every mode, `ROUNDS` times in turn, and prints the table. Returns
/// the exit code.
pub fn drive() -> i32 {
    const ROUNDS: usize = 2;
    let Ok(exe) = std::env::current_exe() else {
        eprintln!("bench: cannot find this executable");
        return 1;
    };
    let mut results: Vec<(Mode, Value)> = Vec::new();
    for round in 0..ROUNDS {
        for mode in Mode::ALL {
            eprintln!("bench: round {} of {ROUNDS}, {}", round + 1, mode.name());
            let output = Command::new(&exe)
                .args(["--bench-run", mode.name()])
                .output();
            let Ok(output) = output else {
                eprintln!("bench: cannot run {}", mode.name());
                return 1;
            };
            let stdout = String::from_utf8_lossy(&output.stdout);
            let line = stdout
                .lines()
                .find_map(|l| l.strip_prefix("bench-result: "))
                .and_then(|l| serde_json::from_str::<Value>(l).ok());
            match line {
                Some(v) => results.push((mode, v)),
                None => {
                    eprintln!(
                        "bench: {} reported nothing:\n{}",
                        mode.name(),
                        String::from_utf8_lossy(&output.stderr)
                    );
                    return 1;
                }
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    print_table(&results);
    0
}

fn median(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => v.get(n / 2).copied(),
        _ => Some((v.get(n / 2 - 1)? + v.get(n / 2)?) / 2.0),
    }
}

/// Every sample of `key` of `mode`, over all rounds.
fn samples(results: &[(Mode, Value)], mode: Mode, key: &str) -> Vec<f64> {
    results
        .iter()
        .filter(|(m, _)| *m == mode)
        .flat_map(|(_, v)| v[key].as_array().cloned().unwrap_or_default())
        .filter_map(|x| x.as_f64())
        .collect()
}

fn print_table(results: &[(Mode, Value)]) {
    let rows = [
        ("small command, back to back (median ms)", "small", 0.0),
        (
            "small command, after a 100 ms pause (median ms)",
            "paused",
            0.0,
        ),
        ("1 MiB binary argument (median MiB/s)", "mib1", 1.0),
        ("10 MiB binary argument (median MiB/s)", "mib10", 10.0),
    ];
    println!("| measurement | brownfield (no isolation) | Tauri isolation | isogate |");
    println!("|---|---|---|---|");
    for (label, key, mib) in rows {
        let cells: Vec<String> = Mode::ALL
            .into_iter()
            .map(|mode| {
                let s = samples(results, mode, key);
                let n = s.len();
                match median(s) {
                    // Throughput from the median time of one call.
                    Some(ms) if mib > 0.0 => {
                        format!("{:.1} ({:.0} ms, n={n})", mib / (ms / 1000.0), ms)
                    }
                    Some(ms) => format!("{ms:.2} (n={n})"),
                    None => "no result".into(),
                }
            })
            .collect();
        println!("| {label} | {} |", cells.join(" | "));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians() {
        assert_eq!(median(vec![]), None);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(vec![4.0, 1.0, 2.0, 3.0]), Some(2.5));
    }

    #[test]
    fn modes_round_trip() {
        for mode in Mode::ALL {
            assert_eq!(Mode::parse(mode.name()), Some(mode));
        }
        assert_eq!(Mode::parse("other"), None);
    }
}
