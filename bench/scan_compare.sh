#!/usr/bin/env bash
# `trailguard scan` against the scanners people use now (issue 9), side by side in one
# run: recall and false positives on the labelled corpus, MB/s over a large tree and a
# large git history, for trailguard, detect-secrets (PyPI) and gitleaks (when installed).
#
#   bench/scan_compare.sh [--no-build] [--runs N] [--mb MB] [--others-mb MB] [--commits N]
#                         [--wait-idle MIN] [--keep]
#
#   --no-build       use the release binary as it is (no `cargo build --release`)
#   --runs N         timed runs of trailguard, median reported (default 3); the others
#                    run once (they take far longer)
#   --mb MB          size of the generated tree (default 256)
#   --others-mb MB   size of a second tree of the same kind, which every tool scans
#                    (default 16: detect-secrets runs at well under 1 MB/s here, so the
#                    large tree would take it most of an hour)
#   --commits N      commits of the generated history (default 2500)
#   --wait-idle MIN  wait up to MIN minutes for a 1-minute load average under 1 before
#                    timing (default 10); the load is printed either way
#   --keep           keep the generated data under bench/data (deleted otherwise)
#
# The data: the labelled corpus of crates/trailguard-scan/tests/corpus_gen (planted keys
# in 18 file types and contexts, gzip, zip and tar.gz with a zip inside; lookalikes that
# must not fire), written by its ignored test; bench/gen_scan_tree.py (the tree);
# bench/gen_scan_history.py (the history: keys added and most deleted again). Scored by
# bench/scan_score.py. detect-secrets is installed into a venv outside the repository
# ($TRAILGUARD_BENCH_VENV, default ~/.cache/trailguard/bench-venv) and always run with
# --no-verify: by default it sends key pairs it finds to AWS STS to check them.
# gitleaks is taken from the PATH (Debian: apt-get install gitleaks); when missing, the
# output says so. Results also go to bench/out/scan-compare.txt.
#
# Environment: CARGO_TARGET_DIR (where the release binary is built and found).
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD=1 RUNS=3 MB=256 SMALL_MB=16 COMMITS=2500 WAIT=10 KEEP=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --runs) shift; RUNS="${1:?--runs needs a number}" ;;
    --mb) shift; MB="${1:?--mb needs a number}" ;;
    --others-mb) shift; SMALL_MB="${1:?--others-mb needs a number}" ;;
    --commits) shift; COMMITS="${1:?--commits needs a number}" ;;
    --wait-idle) shift; WAIT="${1:?--wait-idle needs minutes}" ;;
    --keep) KEEP=1 ;;
    -h|--help) sed -n '2,31p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
[[ -n "${CARGO_TARGET_DIR:-}" ]] || die "set CARGO_TARGET_DIR (where the release binary is)"
BIN="$CARGO_TARGET_DIR/release/trailguard"
if [[ $BUILD == 1 ]]; then
  (cd "$REPO" && cargo build --release -p trailguard) || die "release build failed"
fi
[[ -x "$BIN" ]] || die "no release binary at $BIN (build it or drop --no-build)"

VENV="${TRAILGUARD_BENCH_VENV:-$HOME/.cache/trailguard/bench-venv}"
if [[ ! -x "$VENV/bin/detect-secrets" ]]; then
  note "installing detect-secrets into $VENV"
  python3 -m venv "$VENV" && "$VENV/bin/pip" install -q detect-secrets==1.5.0 \
    || die "cannot install detect-secrets"
fi
DS="$VENV/bin/detect-secrets"
GL="$(command -v gitleaks || true)"

DATA="$REPO/bench/data"
OUT="$REPO/bench/out"
mkdir -p "$DATA" "$OUT"
CORPUS="$DATA/scan-corpus" TREE="$DATA/scan-tree" SMALL="$DATA/scan-tree-small" HIST="$DATA/scan-history"
if [[ ! -d "$CORPUS" ]]; then
  note "writing the labelled corpus to $CORPUS"
  (cd "$REPO" && TRAILGUARD_CORPUS_OUT="$CORPUS" cargo test -q -p trailguard-scan --test corpus \
     -- --ignored write_corpus_for_benchmarks >/dev/null) || die "corpus generation failed"
fi
if [[ ! -d "$TREE" ]]; then
  note "generating $MB MB under $TREE"
  python3 "$HERE/gen_scan_tree.py" "$TREE" --mb "$MB" > "$TREE.planted"
fi
if [[ ! -d "$SMALL" ]]; then
  python3 "$HERE/gen_scan_tree.py" "$SMALL" --mb "$SMALL_MB" --seed 2 > "$SMALL.planted"
fi
if [[ ! -d "$HIST" ]]; then
  note "generating a history of $COMMITS commits under $HIST"
  python3 "$HERE/gen_scan_history.py" "$HIST" --commits "$COMMITS" > /dev/null
fi
cleanup() { [[ $KEEP == 1 ]] || rm -rf "$CORPUS" "$CORPUS.planted.jsonl" "$TREE" "$TREE.planted" "$SMALL" "$SMALL.planted" "$HIST" "$HIST.planted.jsonl"; }
trap cleanup EXIT

load() { cut -d' ' -f1 /proc/loadavg; }
waited=0
while awk "BEGIN{exit !($(load) >= 1)}" && (( waited < WAIT * 60 )); do
  (( waited == 0 )) && note "load $(load): waiting up to $WAIT min for an idle machine"
  sleep 15; waited=$(( waited + 15 ))
done
LOAD_START="$(load)"

# seconds of one run of "$@" (stdout to $RUN_OUT), exit codes 0 and 1 accepted.
timed() {
  local t0 t1 code
  t0=$(date +%s.%N)
  set +e; "$@" > "$RUN_OUT" 2> "$OUT/scan-compare.err"; code=$?; set -e
  t1=$(date +%s.%N)
  [[ $code == 0 || $code == 1 ]] || die "$1 exited $code: $(tail -3 "$OUT/scan-compare.err")"
  python3 -c "print(f'{$t1 - $t0:.2f}')"
}
median() { printf '%s\n' "$@" | sort -n | sed -n "$(( ($# + 1) / 2 ))p"; }
mbs() { python3 -c "v = $1 / 1e6 / max($2, 0.001); print(f'{v:.0f}' if v >= 10 else f'{v:.2f}')"; }
score() { python3 "$HERE/scan_score.py" "$@"; }
field() { python3 -c "import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])" "$1" "$2"; }

find "$TREE" "$SMALL" "$CORPUS" -type f -print0 | xargs -0 cat > /dev/null   # warm the page cache
git -C "$HIST" cat-file --batch-all-objects --batch-check='%(objecttype) %(objectsize)' > "$OUT/hist-objects.txt"
HIST_BYTES="$(awk '$1 == "blob" {s += $2} END {print s}' "$OUT/hist-objects.txt")"
HIST_BLOBS="$(awk '$1 == "blob" {n++} END {print n}' "$OUT/hist-objects.txt")"
TREE_BYTES="$(du -sb "$TREE" | cut -f1)"
SMALL_BYTES="$(du -sb "$SMALL" | cut -f1)"
HIST_COMMITS="$(git -C "$HIST" rev-list --all | wc -l)"

# --- accuracy on the labelled corpus
RUN_OUT="$OUT/tg-corpus.json"; (cd "$CORPUS" && timed "$BIN" scan . --format json --quiet > /dev/null)
TG_C="$(score corpus trailguard "$OUT/tg-corpus.json" "$CORPUS.planted.jsonl")"
RUN_OUT="$OUT/ds-corpus.json"; (cd "$CORPUS" && timed "$DS" scan --no-verify --all-files . > /dev/null)
DS_C="$(score corpus detect-secrets "$OUT/ds-corpus.json" "$CORPUS.planted.jsonl")"
if [[ -n "$GL" ]]; then
  RUN_OUT=/dev/null; timed "$GL" detect --no-git --source "$CORPUS" --report-format json \
    --report-path "$OUT/gl-corpus.json" --exit-code 0 > /dev/null
  GL_C="$(score corpus gitleaks "$OUT/gl-corpus.json" "$CORPUS.planted.jsonl")"
fi

# --- throughput over the tree
times=()
for _ in $(seq "$RUNS"); do RUN_OUT="$OUT/tg-tree.json"; times+=("$(timed "$BIN" scan "$TREE" --format json --quiet)"); done
TG_TREE="$(median "${times[@]}")"
times=()
for _ in $(seq "$RUNS"); do RUN_OUT="$OUT/tg-small.json"; times+=("$(timed "$BIN" scan "$SMALL" --format json --quiet)"); done
TG_SMALL="$(median "${times[@]}")"
RUN_OUT="$OUT/ds-small.json"; DS_SMALL="$(cd "$SMALL" && timed "$DS" scan --no-verify --all-files .)"
if [[ -n "$GL" ]]; then
  RUN_OUT=/dev/null; GL_TREE="$(timed "$GL" detect --no-git --source "$TREE" --report-format json \
    --report-path "$OUT/gl-tree.json" --exit-code 0)"
  GL_SMALL="$(timed "$GL" detect --no-git --source "$SMALL" --report-format json \
    --report-path "$OUT/gl-small.json" --exit-code 0)"
fi

# --- throughput and recall over the history
times=()
for _ in $(seq "$RUNS"); do RUN_OUT="$OUT/tg-hist.json"; times+=("$(timed "$BIN" scan --git "$HIST" --format json --quiet)"); done
TG_HIST="$(median "${times[@]}")"
TG_H="$(score history trailguard "$OUT/tg-hist.json" "$HIST.planted.jsonl")"
RUN_OUT=/dev/null; GITLOG="$(timed git -C "$HIST" log -p --all)"
if [[ -n "$GL" ]]; then
  RUN_OUT=/dev/null; GL_HIST="$(timed "$GL" detect --source "$HIST" --log-opts=--all --report-format json \
    --report-path "$OUT/gl-hist.json" --exit-code 0)"
  GL_H="$(score history gitleaks "$OUT/gl-hist.json" "$HIST.planted.jsonl")"
fi
LOAD_END="$(load)"

row() { printf '| %-26s | %13s | %9s | %8s | %14s |\n' "$@"; }
speed() { printf '| %-26s | %20s | %20s | %22s |\n' "$@"; }
{
  echo "trailguard $("$BIN" --version | cut -d' ' -f2) ($(git -C "$REPO" rev-parse --short HEAD)), detect-secrets $("$DS" --version), gitleaks ${GL:+$("$GL" version)}${GL:-not available}"
  echo "machine: $(nproc) cores; load average $LOAD_START at start, $LOAD_END at the end"
  echo "corpus: $(field "$TG_C" planted) planted credentials ($(grep -c '!' "$CORPUS.planted.jsonl") inside archives), $(find "$CORPUS" -path '*lookalikes*' -type f | wc -l) files of lookalikes"
  echo "trees: $(( TREE_BYTES / 1048576 )) MiB in $(find "$TREE" -type f | wc -l) files, $(( SMALL_BYTES / 1048576 )) MiB in $(find "$SMALL" -type f | wc -l) files"
  echo "history: $HIST_COMMITS commits, $HIST_BLOBS distinct blobs, $(( HIST_BYTES / 1048576 )) MiB of blobs, $(field "$TG_H" planted) keys planted (most deleted again)"
  echo
  row "accuracy (corpus)" "recall" "in files" "FP (all)" "FP (AWS rules)"
  row "---" "---" "---" "---" "---"
  row trailguard "$(field "$TG_C" recall)%" "$(field "$TG_C" recall_plain)%" "$(field "$TG_C" fp)" "$(field "$TG_C" fp_aws)"
  row "detect-secrets --no-verify" "$(field "$DS_C" recall)%" "$(field "$DS_C" recall_plain)%" "$(field "$DS_C" fp)" "$(field "$DS_C" fp_aws)"
  if [[ -n "$GL" ]]; then
    row gitleaks "$(field "$GL_C" recall)%" "$(field "$GL_C" recall_plain)%" "$(field "$GL_C" fp)" "$(field "$GL_C" fp_aws)"
  else
    row gitleaks "not available" "" "" ""
  fi
  echo
  speed "throughput (MB/s, wall s)" "tree $(( TREE_BYTES / 1048576 )) MiB" "tree $(( SMALL_BYTES / 1048576 )) MiB" "history $(( HIST_BYTES / 1048576 )) MiB"
  speed "---" "---" "---" "---"
  speed trailguard "$(mbs "$TREE_BYTES" "$TG_TREE") ($TG_TREE s)" "$(mbs "$SMALL_BYTES" "$TG_SMALL") ($TG_SMALL s)" "$(mbs "$HIST_BYTES" "$TG_HIST") ($TG_HIST s)"
  speed "detect-secrets --no-verify" "not run (too slow)" "$(mbs "$SMALL_BYTES" "$DS_SMALL") ($DS_SMALL s)" "n/a: no history scan"
  if [[ -n "$GL" ]]; then
    speed gitleaks "$(mbs "$TREE_BYTES" "$GL_TREE") ($GL_TREE s)" "$(mbs "$SMALL_BYTES" "$GL_SMALL") ($GL_SMALL s)" "$(mbs "$HIST_BYTES" "$GL_HIST") ($GL_HIST s)"
  else
    speed gitleaks "not available" "not available" "not available"
  fi
  speed "(floor) git log -p --all" "" "" "$(mbs "$HIST_BYTES" "$GITLOG") ($GITLOG s)"
  echo
  echo "history recall: trailguard $(field "$TG_H" found)/$(field "$TG_H" planted), false positives $(field "$TG_H" fp)${GL_H:+; gitleaks $(field "$GL_H" found)/$(field "$GL_H" planted), false positives $(field "$GL_H" fp)}"
  echo "speed-up on the shared tree: trailguard $(python3 -c "print(f'{$DS_SMALL / max($TG_SMALL, 0.001):.0f}')")x detect-secrets${GL:+, $(python3 -c "print(f'{${GL_SMALL:-1} / max($TG_SMALL, 0.001):.1f}')")x gitleaks}"
  [[ -n "$GL" ]] || echo "gitleaks: not on this machine (Debian has no gitleaks package for this release: apt-get install gitleaks finds none); install it on the PATH to compare"
  echo "MB/s: bytes of the files (trees) or of every distinct blob (history) over wall seconds; trailguard the median of $RUNS runs, the others one run"
} | tee "$OUT/scan-compare.txt"
