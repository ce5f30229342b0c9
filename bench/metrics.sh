#!/usr/bin/env bash
# bench/metrics.sh: size figures of the `isogate` library crate.
#
#   bench/metrics.sh [REPO_DIR]
#
# REPO_DIR is a checkout of this repository (default: the current
# directory). Prints, for the library crate `isogate` only (the package at
# the repository root, `src/`; not `cli/`, `bench/`, `fuzz/`, the helper
# crates, nor a binary target under `src/bin/`):
#
#   1. lines of Rust in the library, test code left out;
#   2. the public API of a default build, counted from rustdoc's JSON;
#   3. the library package's dependencies (default features, normal edges).
#
# Needs cargo and python3. Builds docs into the checkout's target
# directory, or into $CARGO_TARGET_DIR if set. Cargo runs with `--locked`
# (set METRICS_CARGO_FLAGS to change that, e.g. to "--locked --offline").
# On a shared machine run it as `nice -n 19 bench/metrics.sh`: cargo and
# rustc inherit the niceness.
#
# What is counted, and why:
#
# Lines (1). Every `src/**/*.rs` file except
#   - binary targets (`src/main.rs`, `src/bin/**`): not the library;
#   - test-only files: the modules in TEST_SUPPORT below (`danger`,
#     `fuzzing`, `test_rng`), always, plus any module whose `mod` item
#     carries a test-only `cfg` (see below) and any file that starts with
#     a test-only `#![cfg(...)]`;
# and, inside the files counted, every item under a test-only `cfg`
# attribute: `#[cfg(test)] mod tests { ... }` blocks (brace-matched, with
# strings, chars and comments skipped), but also single test-only
# functions, impls and `use`s. A `cfg` is test-only when its predicate is
# `test`, `doctest` or `feature = "test-util"`, an `any(...)` of only
# those, or an `all(...)` with one of them. "total" counts every line
# left; "code" leaves out blank lines and lines that are only comment
# (`//`, `///`, `//!`, or inside `/* */`).
#
# Public items (2). `cargo rustdoc --lib` with rustdoc's JSON output
# (unstable, enabled on stable with RUSTC_BOOTSTRAP=1), default features,
# hidden items left out (rustdoc's default). The API is walked from the
# crate root: modules' items, `pub use` re-exports of this crate's items
# (each item counted once, however many paths reach it), structs' fields,
# enums' variants, traits' items, and the items of inherent impls.
# Visibility: an item counts when rustdoc says `public`; enum variants and
# trait items (and variant fields) have no visibility of their own
# (rustdoc says `default`) and count when their enum or trait does. Trait
# impls (`impl Display for X`, derives, blanket impls) are not walked:
# they add no names. Functions are split into free functions and methods
# (inherent and trait methods). The headline "public items" is everything
# but struct fields, variants and variant fields, and `use` items (a
# re-export is the same item under a second path).
#
# Dependencies (3). `cargo tree -p isogate -e normal` (host platform,
# default features): the number of distinct crate names (and of
# name+version pairs) below the library package, itself not counted, and
# the direct dependencies (`--depth 1`). Note that cargo resolves a
# package, not a target: a dependency only a binary target of the package
# uses is counted too.

set -euo pipefail

REPO="${1:-.}"
REPO="$(cd "$REPO" && pwd)"
CRATE=isogate
# Extra cargo flags; `--locked` by default so that a stale Cargo.lock is an
# error rather than rewritten in the checkout being measured.
read -r -a CARGO_FLAGS <<< "${METRICS_CARGO_FLAGS---locked}"
# Test-support modules of the crate root: left out of the line counts
# whether or not `src/lib.rs` gates them.
TEST_SUPPORT="danger fuzzing test_rng"

if [[ ! -f "$REPO/Cargo.toml" || ! -f "$REPO/src/lib.rs" ]]; then
    echo "metrics.sh: $REPO is not a checkout of $CRATE (no Cargo.toml or src/lib.rs)" >&2
    exit 2
fi

commit="$(git -C "$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=""
if [[ -n "$(git -C "$REPO" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
    dirty=" (uncommitted changes in src/ or Cargo.*)"
fi
echo "== $CRATE metrics: $REPO @ $commit$dirty"
echo "   $(git -C "$REPO" log -1 --format='%cd %s' --date=iso 2>/dev/null | cut -c1-100)"

# ---------------------------------------------------------------------
# 1. Lines of Rust in the library, test code left out.
# ---------------------------------------------------------------------
echo
echo "-- lines of Rust (src/, library, no test code)"
python3 - "$REPO/src" "$TEST_SUPPORT" <<'PY'
import os, re, sys

src, test_support = sys.argv[1], sys.argv[2].split()

def mask(text):
    """The source with comments blanked to spaces and the insides of
    string and char literals replaced by 'x'; newlines and offsets kept.
    Braces, brackets and `;` left in the result are the code's own."""
    out, i, n = list(text), 0, len(text)
    def blank(a, b, ch):
        for k in range(a, b):
            if out[k] != "\n":
                out[k] = ch
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            blank(i, j, " ")
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            blank(i, j, " ")
            i = j
        elif (m := re.compile(r'(?:b|c)?r(#*)"').match(text, i)) and (
                i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            end = text.find('"' + m.group(1), m.end())
            end = n if end < 0 else end
            blank(m.end(), end, "x")
            i = end + 1 + len(m.group(1))
        elif c == '"' or (c in "bc" and text.startswith('"', i + 1) and
                          (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            j = i + (1 if c == '"' else 2)
            start = j
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            blank(start, min(j, n), "x")
            i = j + 1
        elif c == "'" or (c == "b" and text.startswith("'", i + 1) and
                          (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"))):
            # A char literal ('a', '\n', '\u{7f}', b'x') or a lifetime ('a).
            j = i + (1 if c == "'" else 2)
            m = re.compile(r"\\(?:u\{[0-9a-fA-F_]*\}|x[0-9a-fA-F]{2}|.)'|[^\\\n]'").match(text, j)
            if m:
                blank(j, m.end() - 1, "x")
                i = m.end()
            else:
                i = j  # a lifetime or label
        else:
            i += 1
    return "".join(out)

def match_close(m, i):
    """Index just past the bracket closing the one at m[i]."""
    pairs = {"(": ")", "[": "]", "{": "}"}
    stack = [pairs[m[i]]]
    j = i + 1
    while j < len(m) and stack:
        if m[j] in pairs:
            stack.append(pairs[m[j]])
        elif m[j] in ")]}" and m[j] == stack[-1]:
            stack.pop()
        j += 1
    return j

def split_args(s):
    parts, depth, cur = [], 0, ""
    for ch in s:
        if ch == "," and depth == 0:
            parts.append(cur); cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        parts.append(cur)
    return [p.strip() for p in parts]

def test_only(pred):
    pred = re.sub(r"\s+", " ", pred.strip())
    if pred in ("test", "doctest") or re.fullmatch(r'feature ?= ?"test-util"', pred):
        return True
    m = re.fullmatch(r"(any|all)\s*\((.*)\)", pred)
    if m:
        args = split_args(m.group(2))
        return bool(args) and (all if m.group(1) == "any" else any)(map(test_only, args))
    return False

def line_of(text, pos):
    return text.count("\n", 0, pos)

def test_items(text, m):
    """(first line, last line, `mod` name or None) of each item under a
    test-only cfg attribute, and whether a `#![cfg]` makes the whole file
    test-only."""
    lines = text.split("\n")
    mlines = m.split("\n")
    items, i = [], 0
    whole_file = False
    for a in re.finditer(r"#!\s*\[\s*cfg\s*\(", m):
        close = match_close(m, m.index("(", a.start()))
        if test_only(text[m.index("(", a.start()) + 1:close - 1]):
            whole_file = True
    attr = re.compile(r"#\s*\[")
    while True:
        a = attr.search(m, i)
        if not a:
            break
        end = match_close(m, a.end() - 1)
        body = text[a.end():end - 1].strip()
        c = re.fullmatch(r"cfg\s*\((.*)\)", body, re.S)
        if not (c and test_only(c.group(1))):
            i = end
            continue
        # The item: from this attribute (and the attributes and doc
        # comments on the lines just above) to its `;` or closing brace.
        first = line_of(m, a.start())
        while first > 0:
            prev_m, prev = mlines[first - 1].strip(), lines[first - 1].strip()
            if (prev_m.startswith("#[") and prev_m.endswith("]")) or prev.startswith("///"):
                first -= 1
            else:
                break
        j, depth = end, 0
        while j < len(m):
            ch = m[j]
            if ch == "#" and m.startswith("[", j + 1) and depth == 0:
                j = match_close(m, j + 1)
                continue
            if ch in "([":
                depth += 1
            elif ch in ")]":
                depth -= 1
            elif ch == ";" and depth == 0:
                j += 1
                break
            elif ch == "{" and depth == 0:
                j = match_close(m, j)
                k = j
                while k < len(m) and m[k] in " \t":
                    k += 1
                if k < len(m) and m[k] == ";":
                    j = k + 1
                break
            j += 1
        last = line_of(m, j - 1)
        decl = m[end:j]
        mod = re.match(r"\s*(?:#\s*\[[^\]]*\]\s*)*(?:pub(?:\s*\([^)]*\))?\s+)?mod\s+(\w+)\s*;", decl)
        items.append((first, last, mod.group(1) if mod else None))
        i = j
    return items, whole_file

def module_paths(path, name):
    """The file and directory a `mod name;` in `path` may live in."""
    d = os.path.dirname(path)
    base = os.path.basename(path)
    if base not in ("lib.rs", "mod.rs", "main.rs"):
        d = os.path.join(d, base[:-3])
    return os.path.join(d, name + ".rs"), os.path.join(d, name)

files = []
for root, dirs, names in os.walk(src):
    for f in names:
        if f.endswith(".rs"):
            files.append(os.path.join(root, f))
files.sort()
rel = lambda p: os.path.relpath(p, os.path.dirname(src))

excluded = {}   # path prefix -> reason
for name in test_support:
    for p in module_paths(os.path.join(src, "lib.rs"), name):
        excluded[p] = "test support"
excluded[os.path.join(src, "main.rs")] = "binary target"
excluded[os.path.join(src, "bin")] = "binary target"

data = {}
for p in files:
    with open(p, encoding="utf-8") as fh:
        text = fh.read()
    m = mask(text)
    items, whole = test_items(text, m)
    data[p] = (text, m, items, whole)
    for first, last, mod in items:
        if mod:
            for q in module_paths(p, mod):
                excluded.setdefault(q, "cfg-gated module")

def reason(p):
    for q, why in excluded.items():
        if p == q or p.startswith(q + os.sep):
            return why
    if data[p][3]:
        return "#![cfg(test)] file"
    return None

def count(text, m, skip):
    total = code = 0
    for k, (line, mline) in enumerate(zip(text.split("\n"), m.split("\n"))):
        if k in skip:
            continue
        if k == len(text.split("\n")) - 1 and line == "":
            continue  # after the final newline
        total += 1
        if line.strip() and mline.strip():
            code += 1
    return total, code

tot = code = nfiles = 0
blocks = block_lines = 0
out_files = {}
gated_in_default = []
lib_text = data.get(os.path.join(src, "lib.rs"), ("", "", [], False))
for p in files:
    text, m, items, whole = data[p]
    why = reason(p)
    if why:
        t, c = count(text, m, set())
        r = out_files.setdefault(why, [0, 0, 0])
        r[0] += 1; r[1] += t; r[2] += c
        continue
    skip = set()
    for first, last, mod in items:
        blocks += 1
        skip.update(range(first, last + 1))
    block_lines += len(skip)
    t, c = count(text, m, skip)
    tot += t; code += c; nfiles += 1

# Test-support modules that a default build compiles (no test-only cfg on
# their `mod` item in lib.rs): counted out above, but worth knowing.
lib = os.path.join(src, "lib.rs")
gated = {mod for _, _, mod in data[lib][2] if mod}
ungated = [n for n in test_support
           if n not in gated and any(os.path.exists(q) for q in module_paths(lib, n))]

print(f"files counted:           {nfiles}")
print(f"total lines:             {tot}")
print(f"code lines:              {code}   (no blank or comment-only lines)")
print(f"test-only items removed: {blocks} items, {block_lines} lines (cfg(test) mod blocks and other test-only items)")
for why, (n, t, c) in sorted(out_files.items()):
    print(f"files left out ({why}): {n} files, {t} lines, {c} code lines")
if ungated:
    print(f"NOTE: test-support module(s) compiled into a default build (no cfg in src/lib.rs), left out anyway: {', '.join(ungated)}")
PY

# ---------------------------------------------------------------------
# 2. Public items of a default build, from rustdoc's JSON.
# ---------------------------------------------------------------------
echo
echo "-- public items (rustdoc JSON, default features, hidden items left out)"
TARGET="${CARGO_TARGET_DIR:-$(cd "$REPO" && cargo metadata --no-deps --format-version 1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')}"
JSON="$TARGET/doc/$CRATE.json"
rm -f "$JSON"
if ! (cd "$REPO" && RUSTC_BOOTSTRAP=1 cargo rustdoc -q "${CARGO_FLAGS[@]}" -p "$CRATE" --lib -- \
        -Z unstable-options --output-format json) >&2 || [[ ! -f "$JSON" ]]; then
    echo "rustdoc JSON failed: no public item counts (see the errors above)"
else
python3 - "$JSON" <<'PY'
import json, sys
from collections import Counter

doc = json.load(open(sys.argv[1]))
index = doc["index"]
root = index[str(doc["root"])]

def inner(item):
    ((kind, body),) = item["inner"].items()
    return kind, body

seen, kinds = set(), Counter()
by_module = Counter()  # headline items by the top-level module defining them
paths = doc.get("paths", {})

def visit(id_, inherited=False, in_impl=False, top="(root)"):
    item = index.get(str(id_))
    if item is None or item["crate_id"] != 0:
        return  # another crate's item, or stripped (private, hidden)
    kind, body = inner(item)
    vis = item["visibility"]
    p = paths.get(str(id_))
    if p and p.get("crate_id") == 0 and len(p["path"]) >= 2:
        top = p["path"][1] if len(p["path"]) > 2 or p["kind"] == "module" else "(root)"
    if kind == "impl":
        if body.get("trait") is None and not body.get("is_synthetic"):
            for i in body["items"]:
                visit(i, in_impl=True, top=top)
        return
    if not (vis == "public" or (vis == "default" and inherited)):
        return
    if id_ in seen:
        return
    seen.add(id_)
    if kind not in ("use", "struct_field", "variant") and id_ != doc["root"]:
        by_module[top] += 1
    if kind == "use":
        kinds["use (re-export)"] += 1
        target = index.get(str(body.get("id")))
        if body.get("is_glob") and target and inner(target)[0] == "module":
            for i in inner(target)[1]["items"]:
                visit(i)  # `pub use m::*`: m's items, not m
        elif body.get("id") is not None:
            visit(body["id"])
        return
    if kind == "function":
        kinds["method" if in_impl else "function"] += 1
        return
    if kind == "struct_field":
        kinds["variant_field" if inherited else "struct_field"] += 1
        return
    kinds[kind] += 1
    if kind == "module":
        for i in body["items"]:
            visit(i)
    elif kind in ("struct", "union", "enum"):
        if kind == "struct":
            st = body["kind"]
            fields = st.get("plain", {}).get("fields", []) if isinstance(st, dict) else []
            if isinstance(st, dict) and "tuple" in st:
                fields = [f for f in st["tuple"] if f is not None]
        elif kind == "union":
            fields = body["fields"]
        else:
            fields = []
            for v in body["variants"]:
                visit(v, inherited=True, top=top)
        for f in fields:
            visit(f, top=top)
        for i in body.get("impls", []):
            visit(i, top=top)
    elif kind == "variant":
        vk = body["kind"]
        if isinstance(vk, dict):
            fs = vk.get("tuple") or vk.get("struct", {}).get("fields", [])
            for f in fs:
                if f is not None:
                    visit(f, inherited=True, top=top)
    elif kind == "trait":
        for i in body["items"]:
            visit(i, inherited=True, in_impl=True, top=top)
        # Impls of the trait for this crate's types add no names.

visit(doc["root"])
kinds["module"] -= 1  # the crate root

order = ["module", "struct", "enum", "union", "trait", "function", "method",
         "type_alias", "assoc_type", "constant", "assoc_const", "static",
         "macro", "proc_macro", "trait_alias"]
not_headline = {"struct_field", "variant", "variant_field", "use (re-export)"}
print(f"rustdoc JSON format_version {doc['format_version']}, crate version {doc.get('crate_version')}")
for k in order + sorted(set(kinds) - set(order)):
    if kinds.get(k):
        mark = "" if k not in not_headline else "   (not in the headline)"
        print(f"  {k:<18} {kinds[k]:>5}{mark}")
head = sum(v for k, v in kinds.items() if k not in not_headline)
print(f"public items (headline): {head}")
print(f"  functions+methods:     {kinds['function'] + kinds['method']}")
print(f"  struct fields: {kinds['struct_field']}, variants: {kinds['variant']}, variant fields: {kinds['variant_field']}")
print("headline items by the top-level module that defines them:")
print("  " + ", ".join(f"{m} {n}" for m, n in sorted(by_module.items(), key=lambda x: (-x[1], x[0])) if n))
PY
fi

# ---------------------------------------------------------------------
# 3. Dependencies of the library package (default features, normal edges).
# ---------------------------------------------------------------------
echo
echo "-- dependencies (cargo tree -p $CRATE -e normal, default features, host platform)"
# Lines look like `regex v1.11.1` or `isogate v0.1.0 (/path)`, with ` (*)`
# on repeats; the first line is the package itself.
deps="$(cd "$REPO" && cargo tree -q "${CARGO_FLAGS[@]}" -p "$CRATE" -e normal --prefix none |
    tail -n +2 | awk '{print $1, $2}' | sort -u)"
names="$(awk '{print $1}' <<< "$deps" | sort -u)"
echo "crates (distinct names):          $(grep -c . <<< "$names")"
echo "crates (distinct name+version):   $(grep -c . <<< "$deps")"
dups="$(awk '{print $1}' <<< "$deps" | uniq -d | tr '\n' ' ')"
if [[ -n "$dups" ]]; then
    echo "  in more than one version: $dups"
fi
direct="$(cd "$REPO" && cargo tree -q "${CARGO_FLAGS[@]}" -p "$CRATE" -e normal --prefix none --depth 1 |
    tail -n +2 | awk '{print $1}' | sort -u)"
echo "direct dependencies:              $(grep -c . <<< "$direct")"
echo "  $(paste -sd ' ' <<< "$direct")"
