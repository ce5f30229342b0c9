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
    /// Tauri's isolation pattern (`isolation/tauri.conf.json`: `generate_context!`
    /// reads a file named `tauri.conf.json`, hence its own directory).
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

fn mean(v: Vec<f64>) -> Option<f64> {
    let n = v.len();
    (n > 0).then(|| v.iter().sum::<f64>() / n as f64)
}

fn print_table(results: &[(Mode, Value)]) {
    for mode in Mode::ALL {
        let seen: Vec<String> = results
            .iter()
            .filter(|(m, _)| *m == mode)
            .map(|(_, v)| format!("pattern {} iframes {}", v["pattern"], v["iframes"]))
            .collect();
        println!("bench: {}: {}", mode.name(), seen.join("; "));
    }
    type Summary = fn(Vec<f64>) -> Option<f64>;
    let rows: [(&str, &str, f64, Summary); 5] = [
        (
            "small command, back to back (ms per call, median of batches of 25)",
            "small",
            0.0,
            median,
        ),
        (
            "small command, after a 100 ms pause (ms, mean of single calls)",
            "paused",
            0.0,
            mean,
        ),
        (
            "1 MiB binary argument (MiB/s; median ms per call, batches of 4)",
            "mib1",
            1.0,
            median,
        ),
        (
            "10 MiB binary argument (MiB/s; median ms per call)",
            "mib10",
            10.0,
            median,
        ),
        (
            "of which isogate's frame seals 10 MiB (median ms)",
            "seal10",
            0.0,
            median,
        ),
    ];
    println!("| measurement | brownfield (no isolation) | Tauri isolation | isogate |");
    println!("|---|---|---|---|");
    for (label, key, mib, summary) in rows {
        let cells: Vec<String> = Mode::ALL
            .into_iter()
            .map(|mode| {
                let s = samples(results, mode, key);
                let n = s.len();
                match summary(s) {
                    // Throughput from the time of one call.
                    Some(ms) if mib > 0.0 => {
                        format!("{:.0} ({:.1} ms, n={n})", mib / (ms / 1000.0), ms)
                    }
                    Some(ms) => format!("{ms:.2} (n={n})"),
                    None => "–".into(),
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
    fn means() {
        assert_eq!(mean(vec![]), None);
        assert_eq!(mean(vec![1.0, 2.0, 6.0]), Some(3.0));
    }

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
