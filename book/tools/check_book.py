#!/usr/bin/env python3
"""Check a built kvmlabs book.

- every chapter title (the first level-1 header of each chapter file) is in
  the text of the PDF (pdftotext);
- no unresolved reference: no "??" in the PDF text, no undefined reference or
  citation warning in the LaTeX log;
- no missing include or figure: the build fails on those, and the PDF text
  must not contain the filter's error words either;
- the PDF has more pages than a floor, and embeds the figures;
- the HTML edition exists and carries every chapter title.
Exit status 0 when all hold; every failure is printed.
"""
import argparse
import html
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


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--html", required=True)
    ap.add_argument("--min-pages", type=int, required=True)
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

    for e in errors:
        print("book check: FAIL: " + e)
    status = "FAIL" if errors else "ok"
    print(f"book check: {status}: {pages} pages, {figs} figures, {listings} listings, "
          f"{len(a.chapters)} chapters")
    del images
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
