#!/usr/bin/env python3
"""A large git history for `trailguard scan --git` (bench/scan_compare.sh).

    python3 bench/gen_scan_history.py OUT [--commits 2500] [--files 400] [--seed 1]

Builds a repository at OUT with `git fast-import` (then `git repack -a -d`, as a real
repository is packed): a source-like tree of --files files, then --commits commits
that each rewrite a few files (so every version is a new blob), with AWS key pairs
planted in one commit in 100 (a `.env`, a settings file or a CI workflow) and deleted
again a few commits later in two cases out of three, so the tip does not show most of
them. Lookalikes (documentation example keys, AIDA ids, hex digests, random base64)
are sprinkled through every file. Writes the planted keys, one JSON object per line
({"key", "path", "line"}), to OUT.planted.jsonl and prints their count.
Deterministic for a seed.
"""
import argparse
import json
import os
import random
import subprocess

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WORDS = ("def return import self value config region bucket client session request "
         "response error handler logger status result items index user account policy "
         "role token cache retry timeout stream buffer reader writer").split()


def rand(r, alphabet, n):
    return "".join(r.choice(alphabet) for _ in range(n))


def line(r):
    k = r.random()
    if k < 0.02:
        return f'    user_id = "AIDA{rand(r, B32, 17)}"'
    if k < 0.03:
        return "    # e.g. aws_access_key_id = AKIAIOSFODNN7EXAMPLE"
    if k < 0.04:
        return f"    blob = '{rand(r, B64, 40)}'"
    if k < 0.05:
        return f"    digest = '{r.getrandbits(160):040x}'"
    n = r.randint(3, 12)
    return "    " + " ".join(r.choice(WORDS) for _ in range(n)) + ("," if r.random() < 0.3 else ":")


def body(r, n):
    return "\n".join(line(r) for _ in range(n)) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--commits", type=int, default=2500)
    ap.add_argument("--files", type=int, default=400)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    os.makedirs(a.out)
    subprocess.run(["git", "init", "-q", "-b", "main", a.out], check=True)
    imp = subprocess.Popen(["git", "-C", a.out, "fast-import", "--quiet"], stdin=subprocess.PIPE)
    w = imp.stdin

    def data(text):
        b = text.encode()
        w.write(b"data %d\n" % len(b))
        w.write(b)
        w.write(b"\n")

    exts = [".py", ".js", ".yml", ".md"]
    files = {f"src/pkg{i // 50:02d}/mod{i}{exts[i % 4]}": body(r, r.randint(150, 700))
             for i in range(a.files)}
    planted, pending = [], []
    t = 1_600_000_000
    for c in range(a.commits + 1):
        changes = {}
        if c == 0:
            changes = dict(files)
        else:
            for path in r.sample(sorted(files), 3):
                lines = files[path].splitlines()
                at = r.randrange(len(lines))
                lines[at:at + 20] = body(r, r.randint(10, 40)).splitlines()
                files[path] = changes[path] = "\n".join(lines) + "\n"
        deletes = []
        if c % 100 == 50:
            key, secret = "AKIA" + rand(r, B32, 16), rand(r, B64, 40)
            kind = (c // 100) % 3
            if kind == 0:
                path, text, ln = f"deploy/env{c}/.env", f"REGION=eu-west-1\nAWS_ACCESS_KEY_ID={key}\nAWS_SECRET_ACCESS_KEY={secret}\n", 2
            elif kind == 1:
                path, text, ln = f"config/settings_{c}.py", f"import os\n\nAWS = {{\n    'aws_access_key_id': '{key}',\n    'aws_secret_access_key': '{secret}',\n}}\n", 4
            else:
                path, ln = f".github/workflows/deploy{c}.yml", 5
                text = (f"on: push\njobs:\n  d:\n    env:\n      AWS_ACCESS_KEY_ID: {key}\n"
                        f"      AWS_SECRET_ACCESS_KEY: {secret}\n")
            changes[path] = text
            planted.append({"key": key, "path": path, "line": ln})
            if r.random() < 2 / 3:
                pending.append((c + r.randint(1, 10), path))
        for due, path in list(pending):
            if due == c:
                deletes.append(path)
                pending.remove((due, path))
        t += r.randint(60, 7200)
        w.write(b"commit refs/heads/main\n")
        w.write(f"committer Dev {c % 7} <dev{c % 7}@example.com> {t} +0000\n".encode())
        data(f"change {c}")
        for path, text in changes.items():
            w.write(f"M 100644 inline {path}\n".encode())
            data(text)
        for path in deletes:
            w.write(f"D {path}\n".encode())
        w.write(b"\n")
    w.close()
    if imp.wait() != 0:
        raise SystemExit("git fast-import failed")
    subprocess.run(["git", "-C", a.out, "repack", "-a", "-d", "-q"], check=True)
    subprocess.run(["git", "-C", a.out, "checkout", "-q", "-f", "main"], check=True)
    with open(a.out.rstrip("/") + ".planted.jsonl", "w") as f:
        for p in planted:
            f.write(json.dumps(p) + "\n")
    print(len(planted))


if __name__ == "__main__":
    main()
