#!/usr/bin/env bash
# The trailguard Lambda (issue 8): init time, CPU per EventBridge event (no webhook
# call), CPU per CloudTrail object from S3 notifications, peak RSS, binary size; and,
# when cargo-lambda is installed, the deployable zip's size.
#
#   bench/lambda.sh [--no-build] [--events N] [--runs R]
#
#   Builds `bootstrap` (cargo build --profile lambda-release -p trailguard-lambda: release,
#   no debug info, stripped, as deployed) unless --no-build,
#   then runs bench/lambda_bench.py R times (default 5) against a local Lambda Runtime
#   API on 127.0.0.1: each run starts the process cold, feeds N EventBridge events
#   (default 5000, the bundled incident's, cycled) and every object of the incident's
#   archive as SQS batches of S3 notifications. Prints each run's figures and the
#   medians, with the commands used.
#
#   cargo-lambda (PyPI; not needed otherwise): CARGO_LAMBDA=/path/to/cargo-lambda, or
#   found on the PATH or in $HOME/.cache/trailguard/venv-cargo-lambda; its zip is built
#   for x86_64 (`--x86-64`) when no aarch64 Rust target is installed.
#
# Environment:
#   CARGO_TARGET_DIR  honoured (default: target/ in the workspace).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
TARGET="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET" in /*) ;; *) TARGET="$REPO/$TARGET" ;; esac

BUILD=1 EVENTS=5000 RUNS=5
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --events) EVENTS="$2"; shift ;;
    --runs) RUNS="$2"; shift ;;
    -h|--help) sed -n '2,20p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "lambda.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done

cd "$REPO"
if [[ $BUILD == 1 ]]; then
  echo "\$ cargo build --profile lambda-release --locked -p trailguard-lambda"
  cargo build --profile lambda-release --locked -p trailguard-lambda
fi
BIN="$TARGET/lambda-release/bootstrap"
[[ -x "$BIN" ]] || { echo "lambda.sh: $BIN missing (build it, or drop --no-build)" >&2; exit 2; }

echo
echo "== binary"
echo "\$ stat -c %s $BIN; strip -o STRIPPED $BIN"
size=$(stat -c %s "$BIN")
stripped="$(mktemp)"
strip -o "$stripped" "$BIN"
ssize=$(stat -c %s "$stripped")
rm -f "$stripped"
echo "bootstrap: $size bytes ($((size / 1024 / 1024)) MiB), stripped $ssize bytes ($((ssize / 1024 / 1024)) MiB); $(uname -m)"

echo
echo "== runs (python3 bench/lambda_bench.py $BIN --events $EVENTS)"
results="$(mktemp)"
for _ in $(seq "$RUNS"); do
  python3 "$HERE/lambda_bench.py" "$BIN" --events "$EVENTS" | tee -a "$results"
done
python3 - "$results" <<'EOF'
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
keys = ["init_ms", "init_cpu_ms", "eventbridge_cpu_us_per_event", "eventbridge_wall_us_per_event",
        "peak_rss_mb_after_eventbridge", "s3_cpu_ms_per_object", "peak_rss_mb"]
print()
print(f"== medians of {len(runs)} cold starts")
for k in keys:
    print(f"{k:32} {statistics.median(r[k] for r in runs)}")
bad = sum(r["eventbridge_failed"] + r["s3_failed_messages"] for r in runs)
print(f"{'failed invocations or messages':32} {bad}")
EOF
rm -f "$results"

CL="${CARGO_LAMBDA:-}"
[[ -z "$CL" ]] && CL="$(command -v cargo-lambda || true)"
[[ -z "$CL" && -x "$HOME/.cache/trailguard/venv-cargo-lambda/bin/cargo-lambda" ]] && CL="$HOME/.cache/trailguard/venv-cargo-lambda/bin/cargo-lambda"
if [[ -n "$CL" ]]; then
  echo
  echo "== cargo lambda zip"
  arch="--arm64"
  rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$' || arch="--x86-64"
  export PATH="$(dirname "$CL"):$PATH"
  echo "\$ cargo lambda build --profile lambda-release $arch --output-format zip -p trailguard-lambda"
  if cargo lambda build --profile lambda-release "$arch" --output-format zip -p trailguard-lambda >/dev/null 2>"$TARGET/cargo-lambda.log"; then
    zip="$TARGET/lambda/bootstrap/bootstrap.zip"
    echo "bootstrap.zip ($arch): $(stat -c %s "$zip") bytes"
  else
    echo "cargo lambda build failed ($TARGET/cargo-lambda.log):"; tail -5 "$TARGET/cargo-lambda.log"
  fi
fi
