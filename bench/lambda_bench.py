#!/usr/bin/env python3
"""Measures the trailguard Lambda (`bootstrap`) against a local Lambda Runtime API.

Starts the binary with AWS_LAMBDA_RUNTIME_API pointing at a Runtime API served here on
127.0.0.1, feeds it invocations, and reads the process's own accounting from /proc:

  init      process start -> its first GET /runtime/invocation/next (wall clock), and the
            CPU time spent until then;
  per event CPU time (user + system) of the process from that first /next to the answer
            to the last invocation, divided by the events: detection, redaction, routing
            and the Runtime API round trip; no sink is configured, so no webhook call;
  RSS       peak resident set (VmHWM) at the end, and after the EventBridge phase.

Phases (one process, in order):
  eventbridge  every EventBridge event of examples/leaked-admin-key/eventbridge.jsonl,
               repeated to --events invocations (one event each, as EventBridge invokes);
  s3           every CloudTrail object of examples/leaked-admin-key/AWSLogs as SQS batches
               of S3 notifications (10 per batch), read from a local folder standing in
               for the bucket (TRAILGUARD_LOCAL_OBJECTS_DIR).

Prints one JSON object (the figures) on stdout.
"""

import argparse
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "leaked-admin-key"
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def peak_rss_mb(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


def s3_record(bucket, key, size):
    return {
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
        "eventTime": "2025-09-17T23:23:04.512Z", "eventName": "ObjectCreated:Put",
        "userIdentity": {"principalId": "AWS:AROAEXAMPLE:regional-delivery"},
        "requestParameters": {"sourceIPAddress": "192.0.2.44"},
        "responseElements": {"x-amz-request-id": "C3D13FE58DE4C810", "x-amz-id-2": "x"},
        "s3": {"s3SchemaVersion": "1.0", "configurationId": "trailguard",
               "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3NL1KOZZKEXAMPLE"},
                          "arn": f"arn:aws:s3:::{bucket}"},
               "object": {"key": key.replace(" ", "+"), "size": size, "eTag": "0f34", "sequencer": "00"}},
    }


def sqs_batch(messages):
    return {"Records": [{
        "messageId": mid, "receiptHandle": "AQEB" + mid, "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1758151385120",
                       "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1758151385131"},
        "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:418295730164:trailguard-objects", "awsRegion": "us-east-1",
    } for mid, body in messages]}


class Api:
    """The Runtime API: /next hands out queued invocations; answers are recorded."""

    def __init__(self):
        self.invocations = queue.Queue()
        self.answers = {}
        self.answered = threading.Condition()
        self.first_next = None
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path != "/2018-06-01/runtime/invocation/next":
                    self.send_error(404)
                    return
                if api.first_next is None:
                    api.first_next = time.monotonic()
                rid, payload = api.invocations.get()
                if rid is None:  # the end: hold the request until the process is stopped
                    time.sleep(3600)
                    return
                body = payload.encode()
                self.send_response(200)
                self.send_header("Lambda-Runtime-Aws-Request-Id", rid)
                self.send_header("Lambda-Runtime-Deadline-Ms", str(int(time.time() * 1000) + 60000))
                self.send_header("Lambda-Runtime-Invoked-Function-Arn", "arn:aws:lambda:us-east-1:1:function:tg")
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n)
                parts = self.path.split("/")
                self.send_response(202)
                self.send_header("Content-Length", "0")
                self.end_headers()
                if len(parts) >= 6 and parts[3] == "invocation":
                    with api.answered:
                        api.answers[parts[4]] = (parts[5], body)
                        api.answered.notify_all()
                elif self.path.endswith("/init/error"):
                    sys.stderr.write(f"init error: {body.decode(errors='replace')}\n")
                    with api.answered:
                        api.answers["__init__"] = ("error", body)
                        api.answered.notify_all()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.address = f"127.0.0.1:{self.server.server_address[1]}"

    def wait(self, rid, timeout=600):
        end = time.monotonic() + timeout
        with self.answered:
            while rid not in self.answers and "__init__" not in self.answers:
                left = end - time.monotonic()
                if left <= 0:
                    raise SystemExit(f"no answer to {rid}")
                self.answered.wait(left)
            if "__init__" in self.answers:
                raise SystemExit("the function's init failed")
            return self.answers[rid]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("binary")
    ap.add_argument("--events", type=int, default=5000, help="EventBridge invocations (default 5000)")
    args = ap.parse_args()

    events = [l for l in (EXAMPLE / "eventbridge.jsonl").read_text().splitlines() if l.strip()]
    eb = [events[i % len(events)] for i in range(args.events)]
    logs = sorted(p for p in (EXAMPLE / "AWSLogs").rglob("*.json.gz") if "/CloudTrail/" in str(p))

    with tempfile.TemporaryDirectory() as root:
        os.symlink(EXAMPLE, Path(root) / "example-trail")
        api = Api()
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_LAMBDA_RUNTIME_API": api.address,
            "AWS_LAMBDA_FUNCTION_NAME": "trailguard",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "TRAILGUARD_LOCAL_OBJECTS_DIR": root,
            "TRAILGUARD_LOG_ALERTS": "false",
        }
        log = open(Path(root) / "function.log", "w+b")
        start = time.monotonic()
        proc = subprocess.Popen([args.binary], env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            while api.first_next is None:
                if proc.poll() is not None:
                    log.seek(0)
                    raise SystemExit("bootstrap exited: " + log.read().decode(errors="replace"))
                time.sleep(0.0005)
            init_ms = (api.first_next - start) * 1000
            cpu_init = cpu_seconds(proc.pid)

            t0 = time.monotonic()
            for i, payload in enumerate(eb):
                api.invocations.put((f"eb-{i}", payload))
            kind, body = api.wait(f"eb-{len(eb) - 1}")
            eb_wall = time.monotonic() - t0
            cpu_eb = cpu_seconds(proc.pid)
            rss_eb = peak_rss_mb(proc.pid)
            failed = [r for r, (k, _) in api.answers.items() if k != "response"]

            t1 = time.monotonic()
            batches = [logs[i:i + 10] for i in range(0, len(logs), 10)]
            for b, batch in enumerate(batches):
                messages = []
                for j, path in enumerate(batch):
                    key = str(path.relative_to(EXAMPLE))
                    note = {"Records": [s3_record("example-trail", key, path.stat().st_size)]}
                    messages.append((f"m-{b}-{j}", json.dumps(note)))
                api.invocations.put((f"s3-{b}", json.dumps(sqs_batch(messages))))
            s3_failures = 0
            for b in range(len(batches)):
                kind, body = api.wait(f"s3-{b}")
                s3_failures += len(json.loads(body).get("batchItemFailures", [])) if kind == "response" else len(batches[b])
            s3_wall = time.monotonic() - t1
            cpu_s3 = cpu_seconds(proc.pid)
            rss_end = peak_rss_mb(proc.pid)
            api.invocations.put((None, None))
        finally:
            proc.kill()
            proc.wait()

    print(json.dumps({
        "init_ms": round(init_ms, 2),
        "init_cpu_ms": round(cpu_init * 1000, 1),
        "eventbridge_invocations": len(eb),
        "eventbridge_failed": len(failed),
        "eventbridge_cpu_us_per_event": round((cpu_eb - cpu_init) / len(eb) * 1e6, 1),
        "eventbridge_wall_us_per_event": round(eb_wall / len(eb) * 1e6, 1),
        "peak_rss_mb_after_eventbridge": rss_eb,
        "s3_objects": len(logs),
        "s3_sqs_batches": len(batches),
        "s3_failed_messages": s3_failures,
        "s3_cpu_ms_per_object": round((cpu_s3 - cpu_eb) / len(logs) * 1000, 3),
        "s3_wall_ms_total": round(s3_wall * 1000, 1),
        "peak_rss_mb": rss_end,
        "clock_tick_ms": round(1000 / TICK, 1),
    }, indent=None))


if __name__ == "__main__":
    main()
