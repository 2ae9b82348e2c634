#!/usr/bin/env bash
# Pattern matching benchmark (issue 3): per-event matching time for 10, 100 and 1,000
# realistic rules and for the built-in pack, over every event of
# examples/leaked-admin-key. See crates/trailguard-core/benches/patterns.rs.
#
#   bench/patterns.sh [CRITERION ARGS...]
#
#   Runs `cargo bench -p trailguard-core --bench patterns -- ARGS` (release), then
#   prints one Markdown table from criterion's estimates: ns per event for each
#   benchmark, index/1000 / index/10 against the 1.5x target, the built-in pack
#   against the 1 us target, and linear/1000 / index/1000 (what the index saves).
#
#   Examples:
#     bench/patterns.sh                            # everything (about 3.5 minutes)
#     bench/patterns.sh 'index|builtin|linear'     # a criterion filter (a regex)
#     bench/patterns.sh --measurement-time 10      # longer samples
#     bench/patterns.sh --table-only               # no cargo: table of the last results
#
# Environment:
#   CARGO_TARGET_DIR  honoured: results are read from $CARGO_TARGET_DIR/criterion
#                     (default: target/ in the workspace).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET" in /*) ;; *) TARGET="$REPO/$TARGET" ;; esac

RUN=1
if [[ "${1:-}" == "--table-only" ]]; then
  RUN=0
  shift
elif [[ "${1:-}" == "-h" || "${1:-}" == "--help" ]]; then
  sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  exit 0
fi

command -v python3 >/dev/null || { echo "patterns.sh: python3 is needed for the table" >&2; exit 2; }

STAMP="$(mktemp)"
trap 'rm -f "$STAMP"' EXIT
if [[ $RUN -eq 1 ]]; then
  (cd "$REPO" && cargo bench -p trailguard-core --bench patterns -- "$@")
fi

python3 - "$TARGET/criterion" "$STAMP" "$RUN" <<'PY'
import json, os, sys

root, stamp, ran = sys.argv[1], sys.argv[2], sys.argv[3] == "1"
since = os.path.getmtime(stamp) if ran else 0.0

def load(full_id):
    """(ns per event, low, high, events, fresh) for a benchmark, or None."""
    d = os.path.join(root, *full_id.split("/"), "new")
    try:
        with open(os.path.join(d, "estimates.json")) as f:
            est = json.load(f)
        with open(os.path.join(d, "benchmark.json")) as f:
            bench = json.load(f)
    except FileNotFoundError:
        return None
    # criterion reports the slope when it sampled linearly, else the mean.
    e = est.get("slope") or est["mean"]
    events = (bench.get("throughput") or {}).get("Elements") or 1
    ci = e["confidence_interval"]
    fresh = os.path.getmtime(os.path.join(d, "estimates.json")) >= since
    return (e["point_estimate"] / events, ci["lower_bound"] / events,
            ci["upper_bound"] / events, events, fresh)

ROWS = [
    ("index/10", "10 rules, index, bare records"),
    ("index/100", "100 rules, index, bare records"),
    ("index/1000", "1,000 rules, index, bare records"),
    ("index/all-traffic-10", "10 rules, traffic spread over the 1,000 (worst case)"),
    ("index/all-traffic-1000", "1,000 rules meeting nearly every event (worst case)"),
    ("linear/1000", "1,000 rules, each pattern in turn, bare records"),
    ("builtin/pack", "built-in pack, index, bare records"),
    ("envelope/parse", "EventBridge line -> Event (no matching)"),
    ("envelope/parse_read_eventName", "parse + one read of detail.eventName"),
    ("envelope/parse_match_10", "parse + 10 rules"),
    ("envelope/parse_match_1000", "parse + 1,000 rules"),
    ("envelope/parse_match_builtin", "parse + built-in pack"),
    ("parts/eventname-keyed-only", "the 940 of the 1,000 keyed on eventName"),
    ("parts/source-prefix-only", "the 50 source + eventName prefix rules"),
    ("parts/unindexed-only", "the 10 rules with no exact string"),
    ("parts/1000-minus-unindexed", "the 1,000 less those 10"),
    ("read/detail.eventName", "one field read, bare record"),
    ("read/source", "one field read, bare record"),
    ("read/detail.userIdentity.type", "one field read, bare record"),
    ("read/detail.requestParameters.maxCount", "one field read, bare record"),
]
r = {name: load(name) for name, _ in ROWS}

def ns(x):
    return f"{x:,.0f}" if x >= 100 else f"{x:.1f}"

def ratio(a, b):
    return r[a][0] / r[b][0] if r.get(a) and r.get(b) else None

notes = {}
q = ratio("index/1000", "index/10")
if q is not None:
    notes["index/1000"] = f"**{q:.2f}x** index/10 (target <= 1.5x: {'met' if q <= 1.5 else '**not met**'})"
q = ratio("index/all-traffic-1000", "index/all-traffic-10")
if q is not None:
    notes["index/all-traffic-1000"] = f"{q:.2f}x index/all-traffic-10 (the 1,000 meet nearly every event, the 10 almost none)"
q = ratio("linear/1000", "index/1000")
if q is not None:
    notes["linear/1000"] = f"{q:.1f}x index/1000 (what the index saves)"
if r.get("builtin/pack"):
    b = r["builtin/pack"][0]
    notes["builtin/pack"] = f"target < 1,000 ns: {'met' if b < 1000 else '**not met**'}"
if r.get("envelope/parse"):
    p = r["envelope/parse"][0]
    for name in ("envelope/parse_read_eventName", "envelope/parse_match_10",
                 "envelope/parse_match_1000", "envelope/parse_match_builtin"):
        if r.get(name):
            extra = f"matching share {ns(r[name][0] - p)} ns"
            if name.endswith("builtin"):
                ok = r[name][0] - p < 1000
                extra += f" (target < 1,000 ns: {'met' if ok else '**not met**'})"
            if name.endswith("_1000"):
                q10 = (r[name][0] - p) / max(r["envelope/parse_match_10"][0] - p, 1e-9) \
                    if r.get("envelope/parse_match_10") else None
                if q10 is not None:
                    extra += f", {q10:.1f}x the 10 rules' share"
            notes[name] = extra

print()
print("| benchmark | what | ns/event | 95% CI | against the targets |")
print("|---|---|---:|---|---|")
stale = False
for name, what in ROWS:
    x = r[name]
    if x is None:
        continue
    mark = "" if x[4] else " (earlier run)"
    stale |= not x[4]
    print(f"| `{name}`{mark} | {what} | {ns(x[0])} | {ns(x[1])}-{ns(x[2])} | {notes.get(name, '')} |")
missing = [n for n, _ in ROWS if r[n] is None]
print()
print(f"Per event = criterion's time for one pass / events per pass ({r['index/10'][3] if r.get('index/10') else '?'} bare records, "
      f"{r['envelope/parse'][3] if r.get('envelope/parse') else '?'} EventBridge lines). Results: {root}")
if missing:
    print(f"Not measured: {', '.join(missing)}")
if stale:
    print("Rows marked (earlier run) were not measured by this run.")
PY
