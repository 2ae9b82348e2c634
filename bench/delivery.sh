#!/usr/bin/env bash
# Delivery benchmark (issue 5): the outbox and its delivery workers against a webhook
# receiver on 127.0.0.1 (no network). See crates/trailguard-io/examples/delivery_bench.rs.
#
#   bench/delivery.sh [--alerts N] [--latency N] [--queued N]
#
#   Builds the example in release and prints one Markdown table:
#   - alerts/s through a file outbox (the --state case) and an in-memory one, queued in
#     batches of 1,000 and delivered by one worker (N alerts, default 20,000);
#   - latency from queueing an alert to the request reaching the receiver, alerts
#     queued one at a time every 2 ms (median, p99, max; default 2,000 alerts);
#   - an outage: N alerts (default 100,000) queued while the receiver is down, one
#     simulated hour of retries (test clock, 10 s steps), resident memory sampled
#     at each step; then the receiver comes back and the backlog is flushed.
#
# Environment:
#   CARGO_TARGET_DIR  honoured (default: target/ in the workspace).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE/.."
cargo build --release --quiet -p trailguard-io --example delivery_bench
TARGET="${CARGO_TARGET_DIR:-target}"
BIN="$TARGET/release/examples/delivery_bench"
echo "| measure | result |"
echo "|---|---|"
"$BIN" --only throughput "$@"
"$BIN" --only latency "$@"
# A process of its own, so that its memory figures start from nothing.
"$BIN" --only outage "$@"
