"""Printing a grade for people and writing it for machines (Gradescope results.json)."""
import json
import os
import re
import sys
import threading
from pathlib import Path

from . import exercises, labs

ERROR_LINE = re.compile(r"error|undefined reference|multiple definition|No rule|is missing|not a lab|symbolic link")

COLOURS = {"PASS": "32", "FAIL": "31", "TIMEOUT": "33", "CRASH": "35", "SKIP": "36"}


def paint(verdict, tty):
    return f"\033[{COLOURS[verdict]}m{verdict:<7}\033[0m" if tty else f"{verdict:<7}"


# What a transcript tail may show: a guest or a broken VMM can print anything,
# forever, in one line; the student's terminal gets at most this much of it.
TAIL_LINES = 20
TAIL_BYTES = 2048
LINE_CHARS = 200
INDENT = " " * 11


def printable(line, width=LINE_CHARS):
    """The line with every control or non-printable character shown as \\xNN (or \\uNNNN),
    tabs expanded, and cut after `width` characters with a marker saying how much more there was."""
    out = []
    for ch in line.expandtabs(8):
        if ch.isprintable():
            out.append(ch)
        else:
            n = ord(ch)
            out.append(f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}" if n < 0x10000 else f"\\U{n:08x}")
    text = "".join(out)
    if len(text) > width:
        text = f"{text[:width]} [... {len(text) - width} more characters]"
    return text


def tail(text, n=TAIL_LINES, limit=TAIL_BYTES):
    """(the last lines of a transcript, made printable, at most n lines and `limit`
    bytes of UTF-8 together; how many lines the transcript has)."""
    text = (text or "").rstrip()
    lines = [l[:-1] if l.endswith("\r") else l for l in text.split("\n")] if text else []
    shown, used = [], 0
    for raw in reversed(lines[-n:]):
        line = printable(raw)
        cost = len(line.encode("utf-8", "replace")) + 1
        if shown and used + cost > limit:
            break
        if cost > limit:     # one line alone over the limit (wide characters): cut it to fit
            line = line[:limit // 4] + " [... cut]"
            cost = len(line.encode("utf-8", "replace")) + 1
        shown.append(line)
        used += cost
    return list(reversed(shown)), len(lines)


def entry_checks(text, shown, n=6):
    """The failed VM-entry checks minikvm printed (the cause of a failed entry),
    made printable, when the tail does not show them: the register dump that
    follows them fills the tail."""
    lines = [printable(l.rstrip("\r")) for l in (text or "").split("\n") if l.startswith("vmentry-check:")]
    if not lines or any(l.startswith("vmentry-check:") for l in shown):
        return []
    return lines[:n] + ([f"[... {len(lines) - n} more]"] if len(lines) > n else [])


def tail_heading(shown, total):
    if len(shown) == total:
        return "transcript:" if total else "transcript: (empty: the run printed nothing)"
    return f"transcript tail (last {len(shown)} of {total} lines):"


def where_to_read(r, labdir, root):
    """'labs/04-vmx/README.md, Exercise 4 — the guest-state area (vmx_set_segment)', or None."""
    section = r.section or r.test.section
    d = Path(root, r.handout) if r.handout else labdir
    if not section or not d:
        return None
    try:
        readme = Path(d).resolve().relative_to(Path(root).resolve()) / "README.md"
    except ValueError:
        readme = Path(d) / "README.md"
    title = exercises.title_of(d, section)
    return f"{readme}, {title}" + (f" ({r.exercise})" if r.exercise else "")


def ran(r):
    """Whether the test's guest was run (not a build failure or a skip)."""
    return bool(r.transcript or r.status is not None or r.elapsed)


def failure_lines(r, labdir, root, quote=""):
    """What a failed test shows, for the terminal and for Gradescope alike: why,
    where to read, minikvm's failed VM-entry checks the tail would not show, and
    the bounded transcript tail (its lines prefixed by quote)."""
    out = []
    if r.diagnosis:
        out.append(f"why: {printable(r.diagnosis, 400)}")
    read = where_to_read(r, labdir, root)
    if read:
        out.append(f"read: {read}")
    if ran(r):
        shown, total = tail(r.transcript)
        checks = entry_checks(r.transcript, shown)
        if checks:
            out.append("failed VM-entry checks (minikvm's, before the tail):")
            out.extend(quote + l for l in checks)
        out.append(tail_heading(shown, total))
        out.extend(quote + l for l in shown)
    return out


def format_result(r, labdir, root, tty, verbose=False):
    """One test's lines as one block of text (so parallel tests never interleave)."""
    pts = f"{r.score}/{r.test.points}" if r.verdict != "SKIP" else f"-/{r.test.points}"
    t = f"{r.elapsed:5.2f} s" if r.elapsed else "       "
    line = f"  {paint(r.verdict, tty)} {r.test.name:<18} {pts:>7}  {t}"
    if r.reason:
        line += f"  {printable(r.reason, 400)}"
    out = [line]
    if r.verdict in ("FAIL", "TIMEOUT", "CRASH"):
        out.extend(INDENT + l for l in failure_lines(r, labdir, root, quote="  | "))
    for note in r.notes:
        if verbose or r.verdict != "PASS":
            lines = note.split("\n")
            out.extend(f"{INDENT}{printable(l, 400)}" for l in lines[:TAIL_LINES])
            if len(lines) > TAIL_LINES:     # a differential diff of a guest that printed much
                out.append(f"{INDENT}[... {len(lines) - TAIL_LINES} more lines]")
    if r.verdict in ("FAIL", "TIMEOUT", "CRASH") and r.rerun:
        out.append(f"{INDENT}rerun: {r.rerun}")
    return "\n".join(out) + "\n"


def print_result(r, labdir, root, tty, verbose=False, out=None):
    out = out or sys.stdout
    out.write(format_result(r, labdir, root, tty, verbose))   # one write: one block
    out.flush()


def answers_line(a):
    """'  answers   5/6 answered: question 3 is empty' (no points)."""
    return f"  {'answers':<9} {a.summary()} (no points)"


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


def test_output(r, labdir=None, root=None):
    """The text Gradescope shows under one test: verdict and reason, where to read,
    the bounded transcript tail, the notes and the command that reproduces it."""
    out = [f"{r.verdict}: {r.reason}".strip()]
    if r.verdict in ("FAIL", "TIMEOUT", "CRASH"):
        out.extend(failure_lines(r, labdir, root))
    if r.notes:
        out.append("")
        out.extend(r.notes)
    if r.verdict in ("FAIL", "TIMEOUT", "CRASH") and r.rerun:
        out.append("")
        out.append(f"rerun: {r.rerun}")
    return "\n".join(out)


def gradescope(g, root=None):
    root = root or labs.ROOT
    labdir = labs.lab_dir(root, g.lab)
    tests = []
    for r in g.results:
        tests.append({
            "name": r.test.name,
            "score": r.score,
            "max_score": 0 if r.verdict == "SKIP" else r.test.points,
            "status": "passed" if r.verdict in ("PASS", "SKIP") else "failed",
            "output": test_output(r, labdir, root),
            "tags": [r.verdict.lower()],
            "visibility": "visible",
            "extra_data": {"verdict": r.verdict, "status": r.status, "section": r.section, "exercise": r.exercise,
                           "handout": r.handout, "pointed_by": r.pointed_by, "diagnosis": r.diagnosis,
                           "rerun": r.rerun},
        })
    if g.answers is not None:
        tests.append({
            "name": "answers",
            "score": 0,
            "max_score": 0,
            "status": "passed" if g.answers.complete else "failed",
            "output": f"written answers ({g.answers.path}, no points): {g.answers.summary()}",
            "tags": ["answers"],
            "visibility": "visible",
            "extra_data": g.answers.as_dict(),
        })
    doc = {
        "score": g.score,
        "execution_time": round(sum(r.elapsed for r in g.results), 2),
        "output": "\n".join([summary_line(g)] +
                            ([f"answers: {g.answers.summary()} (no points)"] if g.answers is not None else []) +
                            [f"note: {n}" for n in g.notes] +
                            ([f"build failed:\n{g.build_error}"] if g.build_error else [])),
        "tests": tests,
        "extra_data": {"lab": g.lab, "stage": g.stage, "variant": g.variant, "platform": g.platform,
                       "max_score": g.max_score, "skipped_points": g.skipped_points, "notes": g.notes,
                       "answers": g.answers.as_dict() if g.answers is not None else None},
    }
    return doc


# A results.json stays small whatever a submission printed: each "output" text is
# cut to this many characters (its start and end kept), the notes likewise.
OUTPUT_CHARS = 16 << 10


def cut_text(text, limit=OUTPUT_CHARS):
    if not isinstance(text, str) or len(text) <= limit:
        return text
    half = limit // 2
    return f"{text[:half]}\n[... {len(text) - 2 * half} characters cut ...]\n{text[-half:]}"


def bounded(doc):
    """The results document with every output and note cut to OUTPUT_CHARS."""
    doc["output"] = cut_text(doc["output"])
    for t in doc["tests"]:
        t["output"] = cut_text(t["output"])
        t["name"] = cut_text(t["name"], 200)
    extra = doc.get("extra_data") or {}
    if isinstance(extra.get("notes"), list):
        extra["notes"] = [cut_text(n, 2048) for n in extra["notes"][:50]]
    return doc


def write_atomic(path, text):
    """Write text to path through a temporary file in its directory and os.replace,
    so a reader (or a grader killed mid-write) never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    try:
        with open(tmp, "w", encoding="utf-8", errors="replace", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_json(g, path, root=None):
    write_atomic(path, json.dumps(bounded(gradescope(g, root)), indent=2) + "\n")
