#!/usr/bin/env bash
# Throughput benchmark: trailguard vs. plain decompression (zcat) vs. the
# original Python Lambda logic, on one CloudTrail archive, in one run.
#
#   bench/run.sh [--baselines-only] [--no-build] [DIR]
#
#   DIR               archive to read (default: bench/data/archive). Generated
#                     with bench/gen_archive.py if it does not exist.
#   --baselines-only  measure only (a) zcat and (b) python; no cargo build, no
#                     trailguard binary needed.
#   --no-build        do not run `cargo build --release`; use the binary as is.
#
# Environment:
#   BENCH_SIZE_MB     size of a generated archive, uncompressed MB (default 1100)
#   BENCH_SEED        generator seed (default 1)
#   CARGO_TARGET_DIR  honoured when building and locating the binary
#
# Prints a table: tool, seconds, events/s, MB/s (uncompressed), peak RSS MB, and
# trailguard's throughput relative to zcat and to python. Results are also saved
# in bench/out/last-run.{txt,json} (gitignored).
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"

BASELINES_ONLY=0
BUILD=1
DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --baselines-only) BASELINES_ONLY=1; BUILD=0 ;;
    --no-build) BUILD=0 ;;
    -h|--help) sed -n '2,21p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) [[ -z "$DIR" ]] || die "only one DIR may be given"; DIR="$1" ;;
  esac
  shift
done
DIR="${DIR:-$HERE/data/archive}"
SIZE_MB="${BENCH_SIZE_MB:-1100}"
SEED="${BENCH_SEED:-1}"

for tool in python3 find xargs zcat cat; do
  command -v "$tool" >/dev/null 2>&1 || die "'$tool' is required but not found in PATH"
done

# ---------------------------------------------------------------- timing tool
# /usr/bin/time (GNU time) prints "%e %M" (elapsed s, peak RSS KiB). Without
# it, a small Python wrapper measures the same via wait4/getrusage.
if [[ -x /usr/bin/time ]] && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null; then
  TIMER=(/usr/bin/time -f '%e %M' -o)
else
  note "GNU /usr/bin/time not found (apt-get install time); measuring with a Python wrapper"
  TIMER=(python3 -c '
import os, subprocess, sys, time, resource
out, cmd = sys.argv[1], sys.argv[2:]
t = time.monotonic()
rc = subprocess.call(cmd)
e = time.monotonic() - t
rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
open(out, "w").write(f"{e:.2f} {rss}\n")
sys.exit(rc)')
fi

# ---------------------------------------------------------------- build
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$REPO/$TARGET_DIR"
BIN="$TARGET_DIR/release/trailguard"
if [[ $BUILD -eq 1 ]]; then
  command -v cargo >/dev/null 2>&1 || die "cargo not found; install Rust or use --no-build / --baselines-only"
  note "building: cargo build --release (target dir $TARGET_DIR)"
  (cd "$REPO" && cargo build --release) || die "cargo build --release failed"
fi
if [[ $BASELINES_ONLY -eq 0 && ! -x "$BIN" ]]; then
  die "trailguard binary not found at $BIN.
  Build it with 'cargo build --release' (the CLI must exist), set CARGO_TARGET_DIR if
  you build elsewhere, or run 'bench/run.sh --baselines-only' to measure zcat and python only."
fi

# ---------------------------------------------------------------- data
if [[ ! -d "$DIR" ]] || [[ -z "$(ls -A "$DIR" 2>/dev/null)" ]]; then
  note "archive $DIR missing: generating ${SIZE_MB} MB (seed $SEED) with bench/gen_archive.py"
  rmdir "$DIR" 2>/dev/null || true
  python3 "$HERE/gen_archive.py" --out "$DIR" --size-mb "$SIZE_MB" --seed "$SEED" \
    || die "archive generation failed"
fi
NFILES="$(find "$DIR" -name '*.json.gz' | wc -l | tr -d ' ')"
[[ "$NFILES" -gt 0 ]] || die "no *.json.gz files under $DIR"
GZ_BYTES="$(find "$DIR" -name '*.json.gz' -printf '%s\n' | awk '{s+=$1} END {printf "%d", s}')"

OUT="$REPO/bench/out"
mkdir -p "$OUT"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/trailguard-bench.XXXXXX")"
trap 'rm -rf "$WORK"' EXIT

note "warming the page cache ($NFILES files, $((GZ_BYTES / 1000000)) MB compressed)"
find "$DIR" -type f -print0 | xargs -0 cat > /dev/null

# ---------------------------------------------------------------- (a) zcat
# One zcat process at a time over all files (xargs without -P): the cost of
# just decompressing, single-core, with no parsing.
note "(a) zcat"
"${TIMER[@]}" "$WORK/zcat.time" sh -c \
  'find "$1" -name "*.json.gz" -print0 | xargs -0 zcat > /dev/null' sh "$DIR" \
  2> "$WORK/zcat.err" || { cat "$WORK/zcat.err" >&2; die "zcat baseline failed"; }

# ---------------------------------------------------------------- (b) python
note "(b) python baseline"
"${TIMER[@]}" "$WORK/python.time" python3 "$HERE/python_baseline.py" "$DIR" \
  > "$WORK/python.out" 2> "$WORK/python.err" \
  || { cat "$WORK/python.err" >&2; die "python baseline failed"; }
cat "$WORK/python.err" >&2
RESULT="$(grep '^RESULT ' "$WORK/python.out" || true)"
[[ -n "$RESULT" ]] || die "python baseline printed no RESULT line"

# ---------------------------------------------------------------- (c) trailguard
if [[ $BASELINES_ONLY -eq 0 ]]; then
  note "(c) trailguard detect"
  rc=0
  "${TIMER[@]}" "$WORK/trailguard.time" "$BIN" detect "$DIR" --format jsonl \
    > "$WORK/trailguard.jsonl" 2> "$WORK/trailguard.err" || rc=$?
  note "trailguard stderr (last lines):"
  tail -n 15 "$WORK/trailguard.err" >&2 || true
  [[ $rc -eq 0 ]] || die "trailguard detect exited with $rc"
  note "trailguard alerts: $(wc -l < "$WORK/trailguard.jsonl" | tr -d ' ') (written to bench/out/last-alerts.jsonl)"
  cp "$WORK/trailguard.jsonl" "$OUT/last-alerts.jsonl"
fi

# ---------------------------------------------------------------- table
python3 - "$WORK" "$DIR" "$NFILES" "$GZ_BYTES" "$RESULT" "$OUT" <<'PY'
import json, os, sys
work, root, nfiles, gz, result, out = sys.argv[1:7]
res = dict(kv.split("=", 1) for kv in result.split()[1:])
events, raw = int(res["events"]), int(res["bytes"])
rows = []
for tool, label in (("zcat", "zcat (decompress only)"), ("python", "python baseline"),
                    ("trailguard", "trailguard detect")):
    p = os.path.join(work, tool + ".time")
    if not os.path.exists(p):
        continue
    e, m = open(p).read().split()[-2:]
    secs, rss_mb = max(float(e), 0.01), int(m) / 1024
    rows.append({"tool": label, "seconds": secs, "events_per_s": events / secs,
                 "mb_per_s": raw / 1e6 / secs, "peak_rss_mb": rss_mb})
lines = [f"archive: {root}",
         f"         {int(nfiles):,} files, {events:,} events, {raw / 1e6:,.1f} MB uncompressed, "
         f"{int(gz) / 1e6:,.1f} MB compressed",
         f"python matches: CreateAccessKey={res['create_access_key']} "
         f"RunInstances(IAMUser/AKIA)={res['run_instances_iam_user']}",
         "",
         f"{'tool':<26}{'seconds':>9}{'events/s':>13}{'MB/s':>9}{'peak RSS MB':>13}",
         "-" * 70]
for r in rows:
    lines.append(f"{r['tool']:<26}{r['seconds']:>9.2f}{r['events_per_s']:>13,.0f}"
                 f"{r['mb_per_s']:>9.1f}{r['peak_rss_mb']:>13.1f}")
by = {r["tool"].split()[0]: r for r in rows}
if "trailguard" in by:
    tg = by["trailguard"]["seconds"]
    lines.append("")
    lines.append(f"trailguard vs zcat:   {by['zcat']['seconds'] / tg:.2f}x zcat's throughput")
    lines.append(f"trailguard vs python: {by['python']['seconds'] / tg:.2f}x python's throughput")
else:
    lines.append("")
    lines.append("(trailguard not measured: --baselines-only)")
text = "\n".join(lines)
print(text)
open(os.path.join(out, "last-run.txt"), "w").write(text + "\n")
json.dump({"archive": root, "files": int(nfiles), "events": events, "uncompressed_bytes": raw,
           "compressed_bytes": int(gz), "rows": rows}, open(os.path.join(out, "last-run.json"), "w"),
          indent=2)
PY
