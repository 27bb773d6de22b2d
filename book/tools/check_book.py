#!/usr/bin/env python3
"""Check a built kvmlabs book.

- every chapter title (the first level-1 header of each chapter file) is in
  the text of the PDF (pdftotext);
- no unresolved reference: no "??" in the PDF text, no undefined reference or
  citation warning in the LaTeX log;
- no missing include or figure: the build fails on those, and the PDF text
  must not contain the filter's error words either;
- the PDF has more pages than a floor, and embeds the figures;
- the HTML edition exists and carries every chapter title;
- no line of a lab exercise's solution appears in any listing of the book
  (a second line of defence behind the filter, which never includes one).
Exit status 0 when all hold; every failure is printed.
"""
import argparse
import html
import os
import re
import subprocess
import sys


def chapter_title(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"^#\s+(.*?)\s*(\{.*\})?\s*$", line)
            if m:
                return m.group(1)
    return None


def plain(s):
    """Markdown title -> the words a reader sees, whitespace-normalised."""
    s = re.sub(r"[`*_]", "", s)
    s = s.replace("\\", "")
    return " ".join(s.split())


def squash(s):
    # pdftotext may break a long title across lines or turn quotes/dashes into
    # typographic ones; compare on letters and digits only.
    return re.sub(r"[^0-9a-z]", "", s.lower())


MARK = re.compile(r"^\s*//\s*@(region|lab|stub|end)\b")


def solution_lines(root):
    """Distinctive lines inside lab regions, minus any line that also occurs
    outside them (those the book may legitimately show)."""
    lab, other = set(), set()
    for dirpath, _, files in os.walk(root):
        for name in files:
            if not name.endswith((".c", ".h", ".S")):
                continue
            depth = 0
            with open(os.path.join(dirpath, name), encoding="utf-8", errors="replace") as f:
                for line in f:
                    m = MARK.match(line)
                    if m:
                        kind = m.group(1)
                        if kind == "lab":
                            depth += 1
                        elif kind == "end" and depth:
                            depth -= 1
                        continue
                    t = " ".join(line.split())
                    (lab if depth else other).add(t)
    return {t for t in lab - other if len(t) >= 30}


def html_code_lines(path):
    with open(path, encoding="utf-8") as f:
        doc = f.read()
    lines = set()
    for block in re.findall(r"<pre[^>]*>(.*?)</pre>", doc, re.S):
        text = html.unescape(re.sub(r"<[^>]+>", "", block))
        lines.update(" ".join(l.split()) for l in text.splitlines())
    return lines


def broken_links(site):
    """Every local link of the HTML site points at a page and an id that exist."""
    ids, pages, errs = {}, {}, []
    for name in os.listdir(site):
        if name.endswith(".html"):
            with open(os.path.join(site, name), encoding="utf-8") as f:
                pages[name] = f.read()
            ids[name] = set(re.findall(r'\bid="([^"]+)"', pages[name]))
    for name, doc in pages.items():
        for target in re.findall(r'(?:href|src)="([^":]*(?:#[^"]*)?)"', doc):
            path, _, frag = target.partition("#")
            path = path or name
            if not os.path.exists(os.path.join(site, path)):
                errs.append(f"HTML {name}: link to missing {path}")
            elif frag and path.endswith(".html") and frag not in ids.get(path, set()):
                errs.append(f"HTML {name}: link to missing #{frag} in {path}")
    return errs[:20]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--html", required=True)
    ap.add_argument("--min-pages", type=int, required=True)
    ap.add_argument("--solution", required=True)
    ap.add_argument("chapters", nargs="+")
    a = ap.parse_args()

    errors = []
    text = subprocess.run(["pdftotext", "-layout", a.pdf, "-"], check=True,
                          capture_output=True, text=True).stdout
    flat = squash(text)
    info = subprocess.run(["pdfinfo", a.pdf], check=True, capture_output=True, text=True).stdout
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    with open(a.html, encoding="utf-8") as f:
        html_text = squash(html.unescape(re.sub(r"<[^>]+>", " ", f.read())))

    for ch in a.chapters:
        t = chapter_title(ch)
        if not t:
            errors.append(f"{ch}: no level-1 title")
            continue
        if squash(plain(t)) not in flat:
            errors.append(f"{ch}: chapter title '{plain(t)}' not in the PDF text")
        if squash(plain(t)) not in html_text:
            errors.append(f"{ch}: chapter title '{plain(t)}' not in the HTML")

    if "??" in text:
        for line in text.splitlines():
            if "??" in line:
                errors.append(f"unresolved reference in the PDF: {line.strip()}")
                break
    with open(a.log, encoding="latin-1") as f:
        log = f.read()
    for pat in (r"LaTeX Warning: Reference `[^']*' on page \d+ undefined",
                r"LaTeX Warning: There were undefined references",
                r"LaTeX Warning: Citation `[^']*' on page \d+ undefined",
                r"LaTeX Warning: Label\(s\) may have changed",
                r"! LaTeX Error: File `[^']*' not found"):
        for m in re.finditer(pat, log):
            errors.append(f"LaTeX log: {m.group(0)}")
    for word in ("missing include", "missing region", "book: error"):
        if word in text:
            errors.append(f"PDF text contains '{word}'")

    if pages < a.min_pages:
        errors.append(f"PDF has {pages} pages, fewer than the floor of {a.min_pages}")

    images = subprocess.run(["pdfimages", "-list", a.pdf], capture_output=True, text=True).stdout
    figs = len(re.findall(r"^\s*Figure \d+\.\d+:", text, re.M))
    if figs < 5:
        errors.append(f"only {figs} numbered figures found in the PDF (want at least 5)")
    listings = len(re.findall(r"^\s*Listing \d+\.\d+:", text, re.M))
    if listings < 1:
        errors.append("no numbered listing in the PDF")

    errors.extend(broken_links(os.path.dirname(a.html)))

    leaked = solution_lines(a.solution) & html_code_lines(a.html)
    for line in sorted(leaked):
        errors.append(f"a lab solution line is shown in the book: {line}")

    for e in errors:
        print("book check: FAIL: " + e)
    status = "FAIL" if errors else "ok"
    print(f"book check: {status}: {pages} pages, {figs} figures, {listings} listings, "
          f"{len(a.chapters)} chapters")
    del images
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
