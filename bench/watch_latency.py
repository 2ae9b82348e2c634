#!/usr/bin/env python3
"""End-to-end alert latency of `trailguard watch -` (issue 5): from an event line
written to watch's stdin to the alert's POST arriving at a webhook receiver on
127.0.0.1. One clock (this process) stamps both ends.

    python3 bench/watch_latency.py [--events N] [--every-ms MS] [--bin PATH]

Each event is a CreateAccessKey by a different IAM user key (so each is an incident
of its own and alerted at once). Runs twice: with `--state FILE` (alerts recorded in
the SQLite outbox before the send, the durable path) and without (in-memory outbox).
Prints a Markdown table: median, p99 and max latency in milliseconds.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

arrived = {}
lock = threading.Lock()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        now = time.time()
        try:
            alert = json.loads(body)
            with lock:
                for event_id in alert.get("event_ids", []):
                    arrived.setdefault(event_id, now)
        except ValueError:
            pass
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


def key_id(i):
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    s = ""
    n = i
    for _ in range(12):
        s += alphabet[n % 32]
        n //= 32
    return "AKIAWCZC6J72" + s[:8]


def event(i):
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    return {
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": "AIDAEXAMPLE%06d" % i,
            "arn": "arn:aws:iam::418295730164:user/u%d" % i,
            "accountId": "418295730164",
            "accessKeyId": key_id(i),
            "userName": "u%d" % i,
        },
        "eventTime": t,
        "eventSource": "iam.amazonaws.com",
        "eventName": "CreateAccessKey",
        "awsRegion": "us-east-1",
        "sourceIPAddress": "198.51.100.%d" % (i % 250 + 1),
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": {"userName": "u%d" % i},
        "responseElements": {"accessKey": {"accessKeyId": key_id(i + 1_000_000), "status": "Active", "userName": "u%d" % i}},
        "eventID": "bench-%08d" % i,
        "eventType": "AwsApiCall",
        "readOnly": False,
        "recipientAccountId": "418295730164",
    }


def run(binary, events, every, state):
    arrived.clear()
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = "http://127.0.0.1:%d/hook" % server.server_address[1]
    args = [binary, "watch", "-", "--quiet", "--format", "jsonl", "--sink", "webhook=" + url]
    if state:
        args += ["--state", state]
    env = dict(os.environ)
    env.pop("TRAILGUARD_WEBHOOK_SECRET", None)
    proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=env)
    time.sleep(1.0)  # rules loaded, delivery started
    written = {}
    for i in range(events):
        line = (json.dumps(event(i)) + "\n").encode()
        written["bench-%08d" % i] = time.time()
        proc.stdin.write(line)
        proc.stdin.flush()
        time.sleep(every / 1000.0)
    deadline = time.time() + 30
    while time.time() < deadline:
        with lock:
            if len(arrived) >= events:
                break
        time.sleep(0.05)
    proc.stdin.close()
    proc.wait(timeout=60)
    server.shutdown()
    lat = sorted((arrived[k] - written[k]) * 1000 for k in written if k in arrived)
    if not lat:
        sys.exit("no alert arrived")
    p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
    return len(lat), statistics.median(lat), p99, lat[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--events", type=int, default=300)
    ap.add_argument("--every-ms", type=float, default=20)
    target = os.environ.get("CARGO_TARGET_DIR", "target")
    ap.add_argument("--bin", default=os.path.join(target, "release", "trailguard"))
    a = ap.parse_args()
    if not os.path.exists(a.bin):
        sys.exit("build first: cargo build --release (or pass --bin)")
    print("| watch -, one event every %g ms | alerts | median ms | p99 ms | max ms |" % a.every_ms)
    print("|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as d:
        for name, state in (("--state (SQLite outbox)", os.path.join(d, "state.db")), ("no state (memory)", None)):
            n, med, p99, mx = run(a.bin, a.events, a.every_ms, state)
            print("| %s | %d/%d | %.2f | %.2f | %.2f |" % (name, n, a.events, med, p99, mx))


if __name__ == "__main__":
    main()
