#!/usr/bin/env python3
"""A large source-like tree for `trailguard scan` throughput (bench/scan.sh).

    python3 bench/gen_scan_tree.py OUT [--mb 256] [--seed 1]

Writes about --mb megabytes of text files (Python, JavaScript, YAML, JSON, Markdown,
one minified bundle in every 50 files) with a planted key pair in one file in 200,
documentation example keys and AIDA/AROA ids sprinkled everywhere (lookalikes), and
prints the number of planted keys on stdout. Deterministic for a seed.
"""
import argparse
import os
import random

B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
WORDS = ("def return import self value config region bucket client session request "
         "response error handler logger status result items index user account policy "
         "role token cache retry timeout stream buffer reader writer").split()


def line(r):
    k = r.random()
    if k < 0.02:
        return f'    user_id = "AIDA{"".join(r.choice(B32) for _ in range(17))}"'
    if k < 0.03:
        return "    # e.g. aws_access_key_id = AKIAIOSFODNN7EXAMPLE"
    if k < 0.05:
        return f"    digest = '{r.getrandbits(160):040x}'"
    n = r.randint(3, 12)
    return "    " + " ".join(r.choice(WORDS) for _ in range(n)) + ("," if r.random() < 0.3 else ":")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--mb", type=int, default=256)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    r = random.Random(a.seed)
    target = a.mb * 1024 * 1024
    written = planted = i = 0
    exts = [".py", ".js", ".yml", ".json", ".md"]
    while written < target:
        d = os.path.join(a.out, f"pkg{i // 100:04d}")
        os.makedirs(d, exist_ok=True)
        if i % 50 == 49:
            body = "var a=function(b){return b+1},c=[1,2,3].map(a);" * r.randint(4000, 12000)
            path = os.path.join(d, f"bundle{i}.min.js")
        else:
            lines = [line(r) for _ in range(r.randint(200, 2000))]
            if i % 200 == 7:
                key = "AKIA" + "".join(r.choice(B32) for _ in range(16))
                secret = "".join(r.choice(B64) for _ in range(40))
                at = r.randrange(len(lines))
                lines[at:at] = [f'AWS_ACCESS_KEY_ID = "{key}"', f'AWS_SECRET_ACCESS_KEY = "{secret}"']
                planted += 1
            body = "\n".join(lines) + "\n"
            path = os.path.join(d, f"file{i}{exts[i % len(exts)]}")
        with open(path, "w") as f:
            f.write(body)
        written += len(body)
        i += 1
    print(planted)


if __name__ == "__main__":
    main()
