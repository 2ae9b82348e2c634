#!/usr/bin/env bash
# Investigation benchmark (issue 6): one key investigated over a CloudTrail archive,
# next to `detect` over the same archive and to the equivalent `jq` query, in one run.
#
#   bench/investigate.sh [--no-build] [--runs N] [DIR [KEY]]
#
#   DIR         archive to read (default: bench/data/archive; see bench/README.md to
#               generate it with bench/gen_archive.py)
#   KEY         access key id to investigate (default AKIAWCZC6J72HWKH4UCM, the busiest
#               key of the archive gen_archive.py writes with --seed 1)
#   --no-build  use the release binary as it is (no `cargo build --release`)
#   --runs N    runs of each trailguard command; the median is reported (default 3)
#
# Measures (page cache warmed first; GNU time for seconds and peak RSS):
#   detect       trailguard detect DIR --format jsonl > /dev/null
#   investigate  trailguard investigate --access-key KEY DIR --format json > report.json
#   jq           find DIR -name '*.json.gz' | xargs zcat | jq -n (select the key's events,
#                count them and their errors, first/last time, group by source IP, user
#                agent, region and API)
# and prints investigate/detect (target <= 1.2x) and jq/investigate (target >= 20x),
# checking that jq and trailguard count the same events. Results also go to
# bench/out/investigate-last.txt.
#
# Environment: CARGO_TARGET_DIR (where the release binary is built and found).
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD=1
RUNS=3
ARGS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --runs) shift; RUNS="${1:?--runs needs a number}" ;;
    -h|--help) sed -n '2,25p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) ARGS+=("$1") ;;
  esac
  shift
done
DIR="${ARGS[0]:-$HERE/data/archive}"
KEY="${ARGS[1]:-AKIAWCZC6J72HWKH4UCM}"
[[ -d "$DIR" ]] || die "no archive at $DIR (generate one: python3 bench/gen_archive.py --out $DIR --size-mb 1100)"

if ! command -v jq >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [[ "$(id -u)" = 0 ]]; then
    note "installing jq"
    apt-get install -y -qq jq >/dev/null 2>&1 || { apt-get update -qq && apt-get install -y -qq jq >/dev/null; }
  fi
  command -v jq >/dev/null 2>&1 || die "jq is needed (apt-get install -y jq)"
fi
[[ -x /usr/bin/time ]] && /usr/bin/time -f '%e %M' -o /dev/null true 2>/dev/null \
  || die "GNU time is needed (apt-get install -y time)"

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
[[ "$TARGET_DIR" = /* ]] || TARGET_DIR="$REPO/$TARGET_DIR"
BIN="$TARGET_DIR/release/trailguard"
if [[ $BUILD -eq 1 ]]; then
  note "building: cargo build --release (target dir $TARGET_DIR)"
  (cd "$REPO" && cargo build --release -p trailguard) || die "cargo build --release failed"
fi
[[ -x "$BIN" ]] || die "no trailguard binary at $BIN (build it, or set CARGO_TARGET_DIR)"

OUT="$REPO/bench/out"
mkdir -p "$OUT"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

note "load before: $(uptime | sed 's/.*load average/load average/')"
note "warming the page cache"
find "$DIR" -type f -print0 | xargs -0 cat > /dev/null

# time_cmd NAME OUTFILE CMD... : appends "NAME seconds rss_kib" to $TMP/times
time_cmd() {
  local name="$1" out="$2"
  shift 2
  /usr/bin/time -f '%e %M' -o "$TMP/t" "$@" > "$out" 2> "$TMP/err" || { cat "$TMP/err" >&2; die "$name failed"; }
  echo "$name $(cat "$TMP/t")" >> "$TMP/times"
}

for i in $(seq "$RUNS"); do
  note "run $i/$RUNS: detect"
  time_cmd detect /dev/null "$BIN" detect "$DIR" --format jsonl --quiet
  note "run $i/$RUNS: investigate"
  time_cmd investigate "$TMP/report.json" "$BIN" investigate --access-key "$KEY" "$DIR" --format json --quiet
done

note "jq (one run; slow)"
JQ_PROGRAM='[inputs | .Records[]? | select(.userIdentity.accessKeyId? == $k)]
  | {events: length,
     errors: (map(select(.errorCode != null)) | length),
     first_seen: (map(.eventTime) | min), last_seen: (map(.eventTime) | max),
     source_ips: (group_by(.sourceIPAddress) | map({ip: .[0].sourceIPAddress, count: length})),
     user_agents: (group_by(.userAgent) | map({user_agent: .[0].userAgent, count: length})),
     regions: (group_by(.awsRegion) | map({region: .[0].awsRegion, count: length})),
     actions: (group_by([.eventSource, .eventName])
               | map({event_source: .[0].eventSource, event_name: .[0].eventName, count: length,
                      errors: (map(select(.errorCode != null)) | length)}))}'
cat > "$TMP/jq.sh" <<EOF
find "\$1" -name '*.json.gz' -print0 | xargs -0 zcat | jq -n --arg k "\$2" '$JQ_PROGRAM'
EOF
time_cmd jq "$TMP/jq.json" bash "$TMP/jq.sh" "$DIR" "$KEY"
note "load after: $(uptime | sed 's/.*load average/load average/')"

TG_EVENTS="$(jq .event_count "$TMP/report.json")"
JQ_EVENTS="$(jq .events "$TMP/jq.json")"
TG_IPS="$(jq '.source_ips | length' "$TMP/report.json")"
JQ_IPS="$(jq '.source_ips | length' "$TMP/jq.json")"
[[ "$TG_EVENTS" == "$JQ_EVENTS" ]] || die "trailguard found $TG_EVENTS events of $KEY, jq $JQ_EVENTS"
[[ "$TG_IPS" == "$JQ_IPS" ]] || die "trailguard found $TG_IPS source IPs, jq $JQ_IPS"

python3 - "$TMP/times" "$KEY" "$TG_EVENTS" "$(jq '.derived | length' "$TMP/report.json")" "$DIR" <<'PY' | tee "$OUT/investigate-last.txt"
import statistics, sys
times, key, events, derived, d = sys.argv[1:6]
rows = {}
for line in open(times):
    name, secs, rss = line.split()
    rows.setdefault(name, []).append((float(secs), int(rss)))
def med(name):
    v = rows[name]
    return statistics.median(s for s, _ in v), max(r for _, r in v) / 1024, len(v)
det, inv, jq = med("detect"), med("investigate"), med("jq")
print(f"archive: {d}")
print(f"key: {key}: {events} events, {derived} derived credentials")
print()
print("| command | runs | seconds (median) | peak RSS MB |")
print("|---|---:|---:|---:|")
for name, m in (("trailguard detect", det), ("trailguard investigate --access-key", inv), ("jq query", jq)):
    print(f"| {name} | {m[2]} | {m[0]:.2f} | {m[1]:.1f} |")
print()
r1, r2 = inv[0] / det[0], jq[0] / inv[0]
print(f"investigate / detect = {r1:.2f}x (target <= 1.2x: {'met' if r1 <= 1.2 else 'NOT met'})")
print(f"jq / investigate     = {r2:.1f}x (target >= 20x: {'met' if r2 >= 20 else 'NOT met'})")
PY
