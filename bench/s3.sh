#!/usr/bin/env bash
# `trailguard detect s3://...` against S3 in moto vs `trailguard detect DIR` over the
# same files on disk, in one run (issue 8's figure: s3 within 2x of disk).
#
#   bench/s3.sh [--no-build] [--downloads N] [DIR]
#
#   DIR           archive to read (default bench/data/archive; generated with
#                 bench/gen_archive.py if missing). Its AWSLogs/... tree is uploaded
#                 as it is, so the bucket has the CloudTrail layout.
#   --no-build    use the release binary as it is (no `cargo build --release`).
#   --downloads N trailguard's --s3-downloads (objects in flight; default 8).
#
# Environment:
#   TRAILGUARD_MOTO_SERVER  moto's moto_server (else from PATH); its venv's python
#                           (with boto3) uploads the archive.
#   CARGO_TARGET_DIR        honoured when building and locating the binary.
#
# Steps: start moto on 127.0.0.1 (a free port), upload every file of DIR into bucket
# `bench-trail` (boto3, 16 threads; not timed), warm the page cache, then time:
#   (a) disk:  trailguard detect --format jsonl DIR
#   (b) s3:    trailguard detect --format jsonl s3://bench-trail --endpoint-url ...
#   (c) raw:   curl --parallel (8 in flight) GETs of every object to /dev/null: what
#              moto alone costs to serve the same bytes, with no parsing at all.
# and print seconds, peak RSS, s3/disk and s3/raw, and how many alert ids differ. Results go to bench/out/s3-last-run.txt.
set -euo pipefail

die() { echo "bench: error: $*" >&2; exit 1; }
note() { echo "bench: $*" >&2; }

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/.." && pwd)"
BUILD=1
DOWNLOADS=8
DIR=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --no-build) BUILD=0 ;;
    --downloads) DOWNLOADS="$2"; shift ;;
    -h|--help) sed -n '2,27p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) die "unknown option: $1 (see --help)" ;;
    *) [[ -z "$DIR" ]] || die "only one DIR may be given"; DIR="$1" ;;
  esac
  shift
done
DIR="${DIR:-$HERE/data/archive}"

SERVER="${TRAILGUARD_MOTO_SERVER:-$(command -v moto_server || true)}"
[[ -n "$SERVER" && -x "$SERVER" ]] || die "moto_server not found: set TRAILGUARD_MOTO_SERVER (pip install 'moto[server]')"
PY="$(dirname "$SERVER")/python"
[[ -x "$PY" ]] || PY=python3
command -v curl >/dev/null || die "curl is required for the raw download measurement"
[[ -x /usr/bin/time ]] || die "GNU /usr/bin/time is required (apt-get install time)"

TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
BIN="$TARGET_DIR/release/trailguard"
if [[ $BUILD -eq 1 ]]; then
  note "building: cargo build --release -p trailguard (target dir $TARGET_DIR)"
  (cd "$REPO" && cargo build --release -p trailguard) || die "cargo build failed"
fi
[[ -x "$BIN" ]] || die "no release binary at $BIN (build it, or set CARGO_TARGET_DIR)"

if [[ ! -d "$DIR" ]]; then
  note "archive $DIR missing: generating it with bench/gen_archive.py (1100 MB)"
  python3 "$HERE/gen_archive.py" --out "$DIR" --size-mb 1100 || die "generation failed"
fi

WORK="$(mktemp -d "${TMPDIR:-/tmp}/trailguard-s3-bench.XXXXXX")"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
"$SERVER" -H 127.0.0.1 -p "$PORT" > "$WORK/moto.log" 2>&1 &
MOTO=$!
trap 'kill $MOTO 2>/dev/null || true; wait $MOTO 2>/dev/null || true; rm -rf "$WORK"' EXIT
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$PORT/" && break
  sleep 0.2
done
ENDPOINT="http://127.0.0.1:$PORT"

note "uploading $DIR to s3://bench-trail on moto ($ENDPOINT); not timed"
"$PY" "$REPO/crates/trailguard/tests/moto/upload_tree.py" "$ENDPOINT" bench-trail "$DIR" "" \
  --threads 16 > "$WORK/upload.json" || die "upload failed"
note "uploaded: $(cat "$WORK/upload.json")"

export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_REGION=us-east-1 \
  AWS_EC2_METADATA_DISABLED=true
note "warming the page cache"
find "$DIR" -type f -print0 | xargs -0 cat > /dev/null

note "(a) disk: trailguard detect --format jsonl $DIR"
/usr/bin/time -f '%e %M' -o "$WORK/disk.time" "$BIN" detect --format jsonl "$DIR" \
  > "$WORK/disk.jsonl" 2> "$WORK/disk.err" || { cat "$WORK/disk.err" >&2; die "disk detect failed"; }
note "(b) s3: trailguard detect --format jsonl --s3-downloads $DOWNLOADS s3://bench-trail --endpoint-url $ENDPOINT"
/usr/bin/time -f '%e %M' -o "$WORK/s3.time" "$BIN" detect --format jsonl \
  --s3-downloads "$DOWNLOADS" --endpoint-url "$ENDPOINT" s3://bench-trail \
  > "$WORK/s3.jsonl" 2> "$WORK/s3.err" || { cat "$WORK/s3.err" >&2; die "s3 detect failed"; }
tail -n 3 "$WORK/s3.err" >&2
mkdir -p "$REPO/bench/out"
cp "$WORK/disk.jsonl" "$REPO/bench/out/s3-disk-alerts.jsonl"
cp "$WORK/s3.jsonl" "$REPO/bench/out/s3-s3-alerts.jsonl"
# The same alerts are expected; the threshold collector's samples depend on read order
# (disk with 1 thread vs 2 differs the same way), so differing ids are counted, not fatal.
DIFF="$(python3 -c '
import json, sys
a, b = ({json.loads(l)["id"] for l in open(p)} for p in sys.argv[1:3])
print(f"{len(a):,} alerts from disk, {len(b):,} from s3, {len(a - b)} ids differ")' "$WORK/disk.jsonl" "$WORK/s3.jsonl")"
note "alerts: $DIFF"

note "(c) raw: curl --parallel GETs of every object (8 in flight)"
(cd "$DIR" && find . -type f | sed 's|^\./||' | sort) | awk -v e="$ENDPOINT" \
  '{print "url = \"" e "/bench-trail/" $0 "\"\noutput = \"/dev/null\""}' > "$WORK/curl.cfg"
/usr/bin/time -f '%e %M' -o "$WORK/raw.time" curl --no-progress-meter --parallel --parallel-max 8 \
  -K "$WORK/curl.cfg" 2> "$WORK/raw.err" || note "curl exited with $? (first lines: $(head -c 300 "$WORK/raw.err"))"

python3 - "$WORK" "$DIR" "$(cat "$WORK/upload.json")" "$DIFF" "$DOWNLOADS" <<'PY' | tee "$REPO/bench/out/s3-last-run.txt"
import json, os, sys
work, root, upload, alerts, downloads = sys.argv[1:6]
up = json.loads(upload)
t = {k: [float(x) for x in open(os.path.join(work, k + ".time")).read().split()[-2:]]
     for k in ("disk", "s3", "raw")}
print(f"archive: {root}: {up['objects']:,} objects, {up['bytes'] / 1e6:,.1f} MB as stored; "
      f"{alerts}")
print(f"{'run':<52}{'seconds':>9}{'peak RSS MB':>13}")
print("-" * 74)
for k, label in (("disk", "(a) trailguard detect DIR"),
                 ("s3", f"(b) trailguard detect s3:// (moto, {downloads} in flight)"),
                 ("raw", "(c) curl GETs only (moto, 8 in flight)")):
    print(f"{label:<52}{t[k][0]:>9.2f}{t[k][1] / 1024:>13.1f}")
s3, disk, raw = t["s3"][0], max(t["disk"][0], 0.01), max(t["raw"][0], 0.01)
print()
print(f"s3 / disk: {s3 / disk:.2f}x  (target: within 2x)")
print(f"s3 / raw download: {s3 / raw:.2f}x  (what trailguard adds over moto serving the bytes)")
PY
