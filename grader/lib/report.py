"""Printing a grade for people and writing it for machines (Gradescope results.json)."""
import json
import re
from pathlib import Path

ERROR_LINE = re.compile(r"error|undefined reference|multiple definition|No rule|is missing|not a lab|symbolic link")

COLOURS = {"PASS": "32", "FAIL": "31", "TIMEOUT": "33", "CRASH": "35", "SKIP": "36"}


def paint(verdict, tty):
    return f"\033[{COLOURS[verdict]}m{verdict:<7}\033[0m" if tty else f"{verdict:<7}"


def tail(text, n):
    lines = text.rstrip().splitlines()
    return lines[-n:]


def print_result(r, labdir, root, tty, verbose=False):
    pts = f"{r.score}/{r.test.points}" if r.verdict != "SKIP" else f"-/{r.test.points}"
    t = f"{r.elapsed:5.2f} s" if r.elapsed else "       "
    line = f"  {paint(r.verdict, tty)} {r.test.name:<18} {pts:>7}  {t}"
    if r.reason:
        line += f"  {r.reason}"
    print(line, flush=True)
    if r.verdict in ("FAIL", "TIMEOUT", "CRASH"):
        if r.test.section and labdir:
            print(f"{'':11}read: {Path(labdir).relative_to(root)}/README.md, "
                  f"{r.test.section.replace('-', ' ').capitalize()}")
        if r.transcript:
            print(f"{'':11}transcript tail:")
            for l in tail(r.transcript, 15):
                print(f"{'':13}| {l}")
    for note in r.notes:
        if verbose or r.verdict != "PASS":
            for l in note.splitlines():
                print(f"{'':11}{l}")


def first_error(text):
    """The line of a build failure that says what went wrong (else its first line)."""
    lines = text.strip().splitlines() or [""]
    return next((l for l in lines if ERROR_LINE.search(l)), lines[0])


def summary_line(g):
    pct = 100.0 * g.score / g.max_score if g.max_score else 0.0
    s = f"score: {g.score}/{g.max_score} ({pct:.0f}%)"
    if g.skipped_points:
        s += f", {g.skipped_points} points skipped (this host cannot run them)"
    return s


def gradescope(g):
    tests = []
    for r in g.results:
        out = r.reason
        if r.transcript and r.verdict != "PASS":
            out += "\n\n" + "\n".join(tail(r.transcript, 30))
        if r.notes:
            out += "\n" + "\n".join(r.notes)
        tests.append({
            "name": r.test.name,
            "score": r.score,
            "max_score": 0 if r.verdict == "SKIP" else r.test.points,
            "status": "passed" if r.verdict in ("PASS", "SKIP") else "failed",
            "output": f"{r.verdict}: {out}".strip(),
            "tags": [r.verdict.lower()],
            "visibility": "visible",
        })
    doc = {
        "score": g.score,
        "execution_time": round(sum(r.elapsed for r in g.results), 2),
        "output": "\n".join([summary_line(g)] + [f"note: {n}" for n in g.notes] +
                            ([f"build failed:\n{g.build_error}"] if g.build_error else [])),
        "tests": tests,
        "extra_data": {"lab": g.lab, "stage": g.stage, "variant": g.variant, "platform": g.platform,
                       "max_score": g.max_score, "skipped_points": g.skipped_points, "notes": g.notes},
    }
    return doc


def write_json(g, path):
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(gradescope(g), indent=2) + "\n")
