#!/usr/bin/env bash
# `trailguard scan` throughput (issue 9): MB/s over a generated source-like tree.
#
#   bench/scan.sh [--no-build] [--runs N] [--mb MB] [DIR]
#
#   DIR         tree to scan (default: bench/data/scan-tree, generated with
#               bench/gen_scan_tree.py --mb MB when missing)
#   --mb MB     size of the generated tree (default 256)
#   --no-build  use the release binary as it is (no `cargo build --release`)
#   --runs N    runs; the median is reported (default 3)
#
# Measures `trailguard scan DIR --format json --quiet > out.json` (page cache warmed
# first; GNU time for seconds and peak RSS), checks the planted pairs were all found
# with high confidence, and prints MB/s. Results also go to bench/out/scan-last.txt.
#
# Environment: CARGO_TARGET_DIR (where the release binary is built and found).
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD=1
RUNS=3
MB=256
DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --runs) shift; RUNS="${1:?--runs needs a number}" ;;
    --mb) shift; MB="${1:?--mb needs a number}" ;;
    -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) DIR="$1" ;;
  esac
  shift
done
[[ -n "${CARGO_TARGET_DIR:-}" ]] || die "set CARGO_TARGET_DIR (where the release binary is)"
BIN="$CARGO_TARGET_DIR/release/trailguard"
if [[ $BUILD == 1 ]]; then
  (cd "$REPO" && cargo build --release -p trailguard) || die "release build failed"
fi
[[ -x "$BIN" ]] || die "no release binary at $BIN (build it or drop --no-build)"

if [[ -z "$DIR" ]]; then
  DIR="$REPO/bench/data/scan-tree"
  if [[ ! -d "$DIR" ]]; then
    note "generating $MB MB under $DIR"
    mkdir -p "$(dirname "$DIR")"
    python3 "$HERE/gen_scan_tree.py" "$DIR" --mb "$MB" > "$DIR.planted"
  fi
fi
PLANTED="$(cat "$DIR.planted" 2>/dev/null || echo "?")"
BYTES="$(du -sb "$DIR" | cut -f1)"
FILES="$(find "$DIR" -type f | wc -l)"
mkdir -p "$REPO/bench/out"
OUT="$REPO/bench/out/scan.json"
find "$DIR" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache

times=()
rss=""
for _ in $(seq "$RUNS"); do
  set +e
  /usr/bin/time -f '%e %M' -o "$REPO/bench/out/scan.time" "$BIN" scan "$DIR" --format json --quiet > "$OUT"
  code=$?
  set -e
  [[ $code == 1 || $code == 0 ]] || die "scan exited $code"
  # GNU time writes "Command exited with non-zero status 1" first when keys are found.
  read -r secs kb < <(tail -n 1 "$REPO/bench/out/scan.time")
  times+=("$secs"); rss="$kb"
done
median="$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(( (RUNS + 1) / 2 ))p")"
high="$(grep -c '"confidence": "high"' "$OUT" || true)"
total="$(grep -c '"fingerprint"' "$OUT" || true)"
mbs="$(python3 -c "print(f'{$BYTES / 1048576 / $median:.0f}')")"
{
  echo "tree: $DIR ($FILES files, $(( BYTES / 1048576 )) MiB, $PLANTED planted pairs)"
  echo "runs: ${times[*]} s; median $median s; peak RSS $(( rss / 1024 )) MB"
  echo "found: $high high-confidence pairs, $total findings in all (lookalikes must not fire)"
  echo "throughput: $mbs MB/s ($(nproc) cores)"
} | tee "$REPO/bench/out/scan-last.txt"
[[ "$PLANTED" == "?" || ( "$high" == "$PLANTED" && "$total" == "$PLANTED" ) ]] \
  || die "found $high pairs ($total findings), planted $PLANTED"
