#!/usr/bin/env python3
"""Turns the bench crate's JSON lines into BENCHMARKS.md's tables and plot.

    cargo run --release --manifest-path bench/Cargo.toml -- --json > bench/results.jsonl
    python3 bench/plot.py bench/results.jsonl            # writes bench/throughput.svg
    python3 bench/plot.py bench/results.jsonl --markdown # also prints the tables

Standard library only.
"""

import json
import math
import sys
from pathlib import Path

SIZES = [64, 1024, 16 * 1024, 256 * 1024, 4 * 1024 * 1024]


def label(n):
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1 << 10 and n % (1 << 10) == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"


def ns(x):
    """A duration in nanoseconds, readable."""
    if x is None:
        return "–"
    if x >= 1e6:
        return f"{x / 1e6:.2f} ms"
    if x >= 1e3:
        return f"{x / 1e3:.2f} µs"
    return f"{x:.0f} ns"


def ms(x):
    return "–" if x is None else f"{x / 1e6:.2f} ms"


def mbs(x):
    return f"{x:,.0f}" if x >= 10 else f"{x:.1f}"


def load(path):
    rows = []
    for line in Path(path).read_text().splitlines():
        line = line.strip()
        if line.startswith("{"):
            rows.append(json.loads(line))
    return rows


def by_case(rows, case):
    return [r for r in rows if r.get("case") == case]


# ---------------------------------------------------------------- tables


def markdown(rows):
    out = []
    meta = dict(next((r for r in rows if r.get("case") == "meta"), {}))
    meta.update(next((r for r in rows if r.get("case") == "end"), {}))
    if meta:
        out.append(
            f"Run: `{meta.get('mode')}` mode, {meta.get('nproc')} cores, "
            f"{meta.get('cpu')}, load average at start {meta.get('loadavg_start')}"
            + (f", at end {meta['loadavg_end']}" if meta.get("loadavg_end") else "")
            + ".\n"
        )
    for case, title in [
        ("gate_binary", "Whole gate vs the floor, binary transport (`Gate::handle`)"),
        ("gate_text", "Whole gate vs the floor, text transport (`Gate::handle_text`, base64url)"),
    ]:
        rs = by_case(rows, case)
        if not rs:
            continue
        out.append(f"#### {title}\n")
        out.append("| plaintext | carried in | wire bytes | isogate | floor | ratio | isogate MB/s | floor MB/s | isogate / floor throughput | heap allocations (isogate / floor) |")
        out.append("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for r in rs:
            allocs = "n/a"
            if "isogate_allocs" in r:
                allocs = f"{r['isogate_allocs']:g} / {r['baseline_allocs']:g}"
            out.append(
                f"| {label(r['bytes'])} | {r['carried_in']} | {r['wire_bytes']:,} | {ns(r['isogate_ns'])} "
                f"| {ns(r['baseline_ns'])} | {r['ratio']:.2f}x | {mbs(r['isogate_mb_s'])} "
                f"| {mbs(r['baseline_mb_s'])} | {r['baseline_ns'] / r['isogate_ns']:.2f} | {allocs} |"
            )
        out.append("")
    rs = by_case(rows, "tauri_binary")
    if rs:
        out.append("#### isogate vs Tauri's isolation decoder, same payload bytes (binary payload)\n")
        out.append("| payload | isogate (whole gate) | Tauri (decode only) | isogate faster by | isogate wire | Tauri wire |")
        out.append("|---|---:|---:|---:|---:|---:|")
        for r in rs:
            out.append(
                f"| {label(r['bytes'])} | {ns(r['isogate_ns'])} | {ns(r['baseline_ns'])} "
                f"| {r['speedup']:.1f}x | {r['wire_bytes']:,} B ({r['wire_ratio']:.2f}x) "
                f"| {r['baseline_wire_bytes']:,} B ({r['baseline_wire_ratio']:.2f}x) |"
            )
        out.append("")
    rs = [r for r in rows if str(r.get("case", "")).startswith("policy_decide")]
    if rs:
        out.append("#### Policy decision time against the number of commands loaded\n")
        out.append("| rule | commands | decide | with 1 command | ratio |")
        out.append("|---|---:|---:|---:|---:|")
        for r in rs:
            kind = "regex (`greet`)" if r["case"].endswith("regex") else "path scope (`read_note`)"
            out.append(
                f"| {kind} | {r['commands']} | {ns(r['isogate_ns'])} | {ns(r['baseline_ns'])} | {r['ratio']:.2f}x |"
            )
        out.append("")
    rs = by_case(rows, "replay_state")
    if rs:
        r = rs[0]
        out.append("#### Replay state\n")
        out.append("| windows | heap bytes (measured) | per window | fixed state per window | labels | accept |")
        out.append("|---:|---:|---:|---:|---:|---:|")
        out.append(
            f"| {r['windows']:,} | {r['bytes']:,} | {r['per_window_bytes']:.0f} | {r['state_bytes']} "
            f"| {r['label_bytes']:,} B | {ns(r['accept_ns'])} |"
        )
        out.append("")
    seals = by_case(rows, "browser_seal")
    inv = by_case(rows, "browser_invoke")
    warm = by_case(rows, "browser_invoke_warm")
    if seals or inv:
        out.append("#### Headless Chromium\n")
        out.append("| measurement | median | p90 |")
        out.append("|---|---:|---:|")
        for r in seals:
            out.append(f"| `isogate.seal` round trip, {label(r['bytes'])} plaintext | {ms(r['isogate_ns'])} | {ms(r['p90_ns'])} |")
        for r, how in [(x, "after a pause") for x in inv] + [(x, "back to back") for x in warm]:
            out.append(f"| allowed `invoke('greet')`, {how}: seal + `fetch` to `/ipc` + gate + router + reply | {ms(r['isogate_ns'])} | {ms(r['isogate_p90_ns'])} |")
            out.append(f"| same message JSON, {how}: plain `fetch` POST, no isolation | {ms(r['baseline_ns'])} | {ms(r['baseline_p90_ns'])} |")
            out.append(f"| **added by isolation, {how}** (difference of the medians) | **{ms(r['added_ns'])}** | |")
            out.append(f"| the seal alone, {how} (`isogate.seal`, same loop) | {ms(r['seal_small_ns'])} | |")
        out.append("")
    return "\n".join(out)


# ---------------------------------------------------------------- plot

W, H = 860, 500
ML, MR, MT, MB = 80, 250, 50, 60
COLORS = {
    "isogate, binary": "#1f6feb",
    "isogate, text (base64url)": "#8250df",
    "floor, binary": "#2da44e",
    "floor, text": "#7bc96f",
    "Tauri isolation decoder": "#cf222e",
}
DASH = {"floor, binary": "6 4", "floor, text": "6 4", "isogate, text (base64url)": "2 3"}


def series(rows):
    s = {k: [] for k in COLORS}
    for r in by_case(rows, "gate_binary"):
        s["isogate, binary"].append((r["bytes"], r["isogate_mb_s"]))
        s["floor, binary"].append((r["bytes"], r["baseline_mb_s"]))
    for r in by_case(rows, "gate_text"):
        s["isogate, text (base64url)"].append((r["bytes"], r["isogate_mb_s"]))
        s["floor, text"].append((r["bytes"], r["baseline_mb_s"]))
    for r in by_case(rows, "tauri_binary"):
        s["Tauri isolation decoder"].append((r["bytes"], r["baseline_mb_s"]))
    return {k: sorted(v) for k, v in s.items() if v}


def svg(rows):
    data = series(rows)
    xs = [x for pts in data.values() for x, _ in pts] or SIZES
    ys = [y for pts in data.values() for _, y in pts] or [1, 10000]
    x0, x1 = math.log10(min(xs)) - 0.15, math.log10(max(xs)) + 0.15
    y0 = math.floor(math.log10(min(ys)))
    y1 = math.ceil(math.log10(max(ys)))
    pw, ph = W - ML - MR, H - MT - MB

    def px(x):
        return ML + (math.log10(x) - x0) / (x1 - x0) * pw

    def py(y):
        return MT + ph - (math.log10(y) - y0) / (y1 - y0) * ph

    e = []
    e.append(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" '
             'font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">')
    e.append(f'<rect width="{W}" height="{H}" fill="white"/>')
    e.append(f'<text x="{ML + pw / 2}" y="28" text-anchor="middle" font-size="16" font-weight="bold">'
             'Throughput against message size (higher is better)</text>')
    # grid and y ticks (decades, with 2 and 5 minor lines)
    for d in range(y0, y1 + 1):
        y = py(10 ** d)
        e.append(f'<line x1="{ML}" y1="{y:.1f}" x2="{ML + pw}" y2="{y:.1f}" stroke="#d0d7de"/>')
        v = 10 ** d
        text = f"{v:,}" if v >= 1 else f"{v:g}"
        e.append(f'<text x="{ML - 8}" y="{y + 4:.1f}" text-anchor="end">{text}</text>')
        if d < y1:
            for m in (2, 5):
                ym = py(m * 10 ** d)
                e.append(f'<line x1="{ML}" y1="{ym:.1f}" x2="{ML + pw}" y2="{ym:.1f}" stroke="#eef1f4"/>')
    for x in SIZES:
        if x < 10 ** x0 or x > 10 ** x1:
            continue
        xx = px(x)
        e.append(f'<line x1="{xx:.1f}" y1="{MT}" x2="{xx:.1f}" y2="{MT + ph}" stroke="#eef1f4"/>')
        e.append(f'<text x="{xx:.1f}" y="{MT + ph + 20}" text-anchor="middle">{label(x)}</text>')
    e.append(f'<rect x="{ML}" y="{MT}" width="{pw}" height="{ph}" fill="none" stroke="#57606a"/>')
    e.append(f'<text x="{ML + pw / 2}" y="{H - 14}" text-anchor="middle">plaintext size (log scale)</text>')
    e.append(f'<text transform="translate(20 {MT + ph / 2}) rotate(-90)" text-anchor="middle">'
             'MB/s of plaintext (log scale)</text>')
    for name, pts in data.items():
        color = COLORS[name]
        dash = f' stroke-dasharray="{DASH[name]}"' if name in DASH else ""
        path = " ".join(f"{'M' if i == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for i, (x, y) in enumerate(pts))
        e.append(f'<path d="{path}" fill="none" stroke="{color}" stroke-width="2.5"{dash}/>')
        for x, y in pts:
            e.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="4" fill="{color}"/>')
    # legend
    lx, ly = ML + pw + 18, MT + 10
    for i, name in enumerate(data):
        y = ly + i * 24
        color = COLORS[name]
        dash = f' stroke-dasharray="{DASH[name]}"' if name in DASH else ""
        e.append(f'<line x1="{lx}" y1="{y}" x2="{lx + 28}" y2="{y}" stroke="{color}" stroke-width="2.5"{dash}/>')
        e.append(f'<circle cx="{lx + 14}" cy="{y}" r="4" fill="{color}"/>')
        e.append(f'<text x="{lx + 36}" y="{y + 4}">{name}</text>')
    meta = next((r for r in rows if r.get("case") == "meta"), {})
    note_y = ly + len(data) * 24 + 16
    for j, line in enumerate([
        "64 B and 1 KiB: bytes in the JSON;",
        "16 KiB and up: bytes in the body.",
        "Tauri: decode only (no policy,",
        "no dispatch); isogate: whole gate.",
        f"{meta.get('nproc', '?')} cores, {meta.get('mode', '')} run",
    ]):
        e.append(f'<text x="{lx}" y="{note_y + j * 17}" font-size="11" fill="#57606a">{line}</text>')
    e.append("</svg>")
    return "\n".join(e) + "\n"


def main(argv):
    if len(argv) < 2 or argv[1] in ("-h", "--help"):
        print(__doc__)
        return 0 if len(argv) >= 2 else 2
    rows = load(argv[1])
    out = Path(__file__).with_name("throughput.svg")
    if "--svg" in argv:
        out = Path(argv[argv.index("--svg") + 1])
    out.write_text(svg(rows))
    print(f"wrote {out}", file=sys.stderr)
    if "--markdown" in argv:
        print(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
