#!/usr/bin/env python3
"""What the original Lambda did, as a plain loop: walk DIR, gzip.open + json.load
every `*.json.gz` CloudTrail log file, and check two rules with dict lookups:

  1. iam.amazonaws.com CreateAccessKey
  2. ec2.amazonaws.com RunInstances by an IAM user with a long-term (AKIA) key

    python3 bench/python_baseline.py DIR

Digest files (`CloudTrail-Digest/`) are skipped. Prints counts; the last line is
machine-readable (`RESULT key=value ...`) for bench/run.sh. Standard library only.
"""

import gzip
import json
import os
import sys
import time


def main() -> int:
    if len(sys.argv) != 2 or not os.path.isdir(sys.argv[1]):
        print("usage: python_baseline.py DIR", file=sys.stderr)
        return 2
    root = sys.argv[1]
    t0 = time.perf_counter()
    files = events = raw_bytes = errors = 0
    create_access_key = run_instances = 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        if "CloudTrail-Digest" in dirpath.split(os.sep):
            continue
        for name in sorted(filenames):
            if not name.endswith(".json.gz"):
                continue
            path = os.path.join(dirpath, name)
            try:
                with gzip.open(path, "rb") as f:
                    data = f.read()
                doc = json.loads(data)
            except (OSError, ValueError) as e:
                errors += 1
                print(f"skip {path}: {e}", file=sys.stderr)
                continue
            files += 1
            raw_bytes += len(data)
            records = doc.get("Records") if isinstance(doc, dict) else None
            if not isinstance(records, list):
                continue
            for r in records:
                events += 1
                src = r.get("eventSource")
                name_ = r.get("eventName")
                if src == "iam.amazonaws.com" and name_ == "CreateAccessKey":
                    create_access_key += 1
                elif src == "ec2.amazonaws.com" and name_ == "RunInstances":
                    ui = r.get("userIdentity") or {}
                    if ui.get("type") == "IAMUser" and str(ui.get("accessKeyId", "")).startswith("AKIA"):
                        run_instances += 1
    secs = time.perf_counter() - t0
    print(f"files {files:,}  events {events:,}  uncompressed {raw_bytes / 1e6:,.1f} MB  "
          f"unreadable {errors}  in {secs:.2f} s", file=sys.stderr)
    print(f"matches: CreateAccessKey={create_access_key} "
          f"RunInstances(IAMUser, AKIA)={run_instances}", file=sys.stderr)
    print(f"RESULT files={files} events={events} bytes={raw_bytes} errors={errors} "
          f"create_access_key={create_access_key} run_instances_iam_user={run_instances} "
          f"seconds={secs:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
