#!/usr/bin/env python3
"""What the GitHub Classroom workflow (grade.yml) runs besides make grade.

    report.py runner NN          the runs-on value (JSON) for lab NN: a self-hosted
                                 runner labelled kvm for Linux-KVM labs, else ubuntu-latest
    report.py summary RESULTS [--summary FILE] [--output FILE]
                                 the score of a results.json ('make grade JSON=...'):
                                 a Markdown table appended to FILE (the job summary) and
                                 'result=' (GitHub Classroom's autograding result, base64
                                 JSON) appended to the step output FILE

A missing or unreadable results.json is a score of 0 that says why.
"""
import argparse
import base64
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from lib import labs  # noqa: E402


def runner(lab):
    return json.dumps(["self-hosted", "kvm"] if labs.PLATFORM[lab] != "minikvm" else "ubuntu-latest")


def load(path):
    try:
        doc = json.loads(Path(path).read_text())
        return doc, None
    except (OSError, ValueError) as e:
        return None, f"no results ({e}): see the 'make grade' step's log"


def classroom(doc, why):
    """GitHub Classroom's autograding result (version 1): one test per rubric line."""
    if doc is None:
        return {"version": 1, "status": "error", "max_score": 0,
                "tests": [{"name": "grade", "status": "error", "message": why, "score": 0}]}
    tests = [{"name": t["name"], "status": "pass" if t.get("status") == "passed" else "fail",
              "score": t.get("score", 0), "message": (t.get("output") or "")[:2000]}
             for t in doc.get("tests", []) if t.get("max_score")]
    most = doc.get("extra_data", {}).get("max_score") or sum(t.get("max_score", 0) for t in doc.get("tests", []))
    return {"version": 1, "status": "pass" if doc.get("score") == most else "fail", "max_score": most,
            "tests": tests}


def markdown(doc, why):
    if doc is None:
        return f"## kvmlabs: no score\n\n{why}\n"
    extra = doc.get("extra_data", {})
    lines = [f"## kvmlabs lab {extra.get('lab', 0):02d}: {doc.get('score', 0)}/{extra.get('max_score', '?')}", "",
             "| test | verdict | points |", "|---|---|---|"]
    for t in doc.get("tests", []):
        verdict = (t.get("extra_data") or {}).get("verdict") or t.get("status", "")
        lines.append(f"| {t['name']} | {verdict} | {t.get('score', 0)}/{t.get('max_score', 0)} |")
    lines += ["", "```", *(doc.get("output") or "").splitlines()[:40], "```", ""]
    return "\n".join(lines)


def main(argv):
    p = argparse.ArgumentParser(prog="report.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("runner")
    r.add_argument("lab", type=labs.parse_lab)
    s = sub.add_parser("summary")
    s.add_argument("results", type=Path)
    s.add_argument("--summary", type=Path)
    s.add_argument("--output", type=Path)
    args = p.parse_args(argv)
    if args.command == "runner":
        print(runner(args.lab))
        return 0
    doc, why = load(args.results)
    text = markdown(doc, why)
    print(text)
    if args.summary:
        with open(args.summary, "a") as f:
            f.write(text)
    if args.output:
        blob = base64.b64encode(json.dumps(classroom(doc, why)).encode()).decode()
        with open(args.output, "a") as f:
            f.write(f"result={blob}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
