#!/usr/bin/env python3
"""Scores one scanner's output against the planted keys (bench/scan_compare.sh).

    python3 bench/scan_score.py corpus TOOL OUTPUT LABELS
    python3 bench/scan_score.py history TOOL OUTPUT LABELS

TOOL: trailguard (its --format json), detect-secrets (`scan` JSON) or gitleaks (its
JSON report). LABELS: the generator's .planted.jsonl.

corpus: a planted credential counts as found when the tool reports anything in its
file within 4 lines of the key id (the pair's secret is on a neighbouring line; a tool
that reports only the secret still counts). For a key inside an archive
(`a.zip!member`), a tool that reports the archive file itself at any line counts too:
only trailguard names members, and the others are not penalised for that here. A
false positive is any finding that matches no planted credential: the lookalikes.
history: found when the tool reports the planted key id (or, for a tool that hides
the value, its path and line); any finding matching no planted key is a false
positive.

Prints one JSON object: planted, found, recall, recall_plain (keys not in archives),
fp, fp_aws (false positives of the tool's AWS rules alone).
"""
import json
import sys

WINDOW = 4


def findings(tool, path):
    """(path, line, key or None, is_aws_rule) for every finding of the tool."""
    with open(path) as f:
        text = f.read()
    out = []
    if tool == "trailguard":
        for x in json.loads(text or "[]"):
            out.append((x["path"], x["line"], x.get("key_id"), True))
    elif tool == "detect-secrets":
        for name, rs in json.loads(text)["results"].items():
            for x in rs:
                out.append((name, x["line_number"], None, x["type"] == "AWS Access Key"))
    elif tool == "gitleaks":
        for x in json.loads(text or "[]"):
            secret = x.get("Secret") or ""
            key = secret if secret[:4] in ("AKIA", "ASIA", "ABIA", "ACCA") else None
            out.append((x["File"], x["StartLine"], key, "aws" in x.get("RuleID", "").lower()))
    else:
        raise SystemExit(f"unknown tool {tool}")
    return [(p[2:] if p.startswith("./") else p, line, key, aws) for p, line, key, aws in out]


def matches(label, finding):
    lpath, fpath = label["path"], finding[0]
    if finding[2] is not None and finding[2] == label["key"]:
        return True
    if fpath == lpath:
        return abs(finding[1] - label["line"]) <= WINDOW
    # The archive holding the key, reported as a whole by a tool that does not open it.
    return "!" in lpath and lpath.split("!", 1)[0] == fpath


def main():
    mode, tool, output, labels_path = sys.argv[1:5]
    labels = [json.loads(l) for l in open(labels_path) if l.strip()]
    fs = findings(tool, output)
    matched = [False] * len(fs)
    found = found_plain = 0
    for label in labels:
        hit = False
        for i, f in enumerate(fs):
            ok = (f[2] == label["key"]) if (mode == "history" and f[2] is not None) else matches(label, f)
            if ok:
                matched[i] = True
                hit = True
        found += hit
        found_plain += hit and "!" not in label["path"]
    plain = sum("!" not in l["path"] for l in labels)
    fp = [f for f, m in zip(fs, matched) if not m]
    print(json.dumps({
        "tool": tool,
        "planted": len(labels),
        "found": found,
        "recall": round(100 * found / max(len(labels), 1), 1),
        "recall_plain": round(100 * found_plain / max(plain, 1), 1),
        "fp": len(fp),
        "fp_aws": sum(1 for f in fp if f[3]),
    }))


if __name__ == "__main__":
    main()
