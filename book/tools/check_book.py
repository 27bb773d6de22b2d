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
  (a second line of defence behind the filter, which never includes one);
- no warning from pandoc, citeproc (an unknown citation) or the filter
  ("book: warning: ...": a table, figure or listing without a caption);
- in the Markdown sources: no pipe-table row with more cells than its header
  and no line of text run into a table (a table needs a blank line after it);
  every table and figure has a caption;
- every listing caption is on the same page as the start of its code;
- the LaTeX log has at most --overfull-max overfull lines;
- chapters 0-9 end with Summary, Questions, Further reading (in that order,
  after "Where this lives in Linux"), and chapters 1-9 pull in their lab
  handout's questions.
Exit status 0 when all hold; every failure is printed.
"""
import argparse
import html
import json
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
        for target in re.findall(r'(?:href|src)="(?![a-z][a-z0-9+.-]*:)([^"]*)"', doc):
            path, _, frag = target.partition("#")
            path = path or name
            if not os.path.exists(os.path.join(site, path)):
                errs.append(f"HTML {name}: link to missing {path}")
            elif frag and path.endswith(".html") and frag not in ids.get(path, set()):
                errs.append(f"HTML {name}: link to missing #{frag} in {path}")
    return errs[:20]


FENCE = re.compile(r"^\s*(```+|~~~+)")


def site_complete(site):
    """The HTML site has what a reader needs: every page framed (contents,
    contents button, search box, PDF link, script), each chapter page marks
    its chapter and links to its neighbours, the index numbers each chapter
    once, and the search index covers every section of every chapter page."""
    errs = []
    for name in ("index.html", "book.html", "book.css", "book.js", "search-index.js", "kvmlabs.pdf"):
        if not os.path.exists(os.path.join(site, name)):
            errs.append(f"HTML: {name} missing from {site}")
    if errs:
        return errs
    pages = {n: open(os.path.join(site, n), encoding="utf-8").read()
             for n in sorted(os.listdir(site)) if n.endswith(".html")}
    chapters = [n for n in pages if n not in ("index.html", "book.html")]
    for name, doc in pages.items():
        for what, mark in (("table of contents", '<nav id="TOC"'),
                           ("contents button", 'class="toc-toggle" href="#TOC"'),
                           ("search box", 'id="search-input"'),
                           ("PDF link", 'href="kvmlabs.pdf"'),
                           ("script", '<script src="book.js"')):
            if mark not in doc:
                errs.append(f"HTML {name}: no {what}")
    for name in chapters:
        doc = pages[name]
        if doc.count('aria-current="page"') != 1:
            errs.append(f"HTML {name}: its chapter is not marked once in the contents")
        if 'class="pager pager-bottom"' not in doc:
            errs.append(f"HTML {name}: no previous/next links")
    index = pages["index.html"]
    if re.search(r"<ol\b", index):
        errs.append("HTML index.html: a numbered list of chapters numbers them twice")
    listed = index.count('class="chapter-link"')
    if listed != len(chapters):
        errs.append(f"HTML index.html: {listed} chapters listed, {len(chapters)} chapter pages")
    text = open(os.path.join(site, "search-index.js"), encoding="utf-8").read()
    m = re.search(r"window\.KVMLABS_SEARCH = (.*);\s*$", text, re.S)
    try:
        data = json.loads(m.group(1)) if m else None
    except ValueError:
        data = None
    if not data or not data.get("sections"):
        return errs + ["HTML search-index.js: no window.KVMLABS_SEARCH with sections"]
    indexed = {(e["p"], e["a"]) for e in data["sections"]}
    for name in chapters:
        ids = re.findall(r'<section id="([^"]+)" class="level\d', pages[name])
        for i, ident in enumerate(ids):
            if (name, "" if i == 0 else ident) not in indexed:
                errs.append(f"HTML search-index.js: section {ident} of {name} not indexed")
    return errs[:20]


def source_lines(path):
    """(line number, line, inside a code fence) for a Markdown file."""
    fence = None
    with open(path, encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            m = FENCE.match(line)
            if m and fence is None:
                fence = m.group(1)[0]
                yield n, line, True
                continue
            if m and fence and m.group(1)[0] == fence:
                fence = None
                yield n, line, True
                continue
            yield n, line, fence is not None


def pipe_cells(line):
    """The cells of a pipe-table row: | not escaped and not in a code span."""
    cells, cur, code, i = [], "", False, 0
    while i < len(line):
        c = line[i]
        if c == "\\" and i + 1 < len(line):
            cur += line[i:i + 2]
            i += 2
            continue
        if c == "`":
            code = not code
        if c == "|" and not code:
            cells.append(cur)
            cur = ""
        else:
            cur += c
        i += 1
    cells.append(cur)
    if line.lstrip().startswith("|"):
        cells = cells[1:]
    if line.rstrip().endswith("|") and cells:
        cells = cells[:-1]
    return cells


SEPARATOR = re.compile(r"^\s*\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?\s*$")


def table_rows(path):
    """Pipe-table rows with more cells than the header, or text run into a
    table (a line after its rows without a blank line between)."""
    errs = []
    lines = list(source_lines(path))
    name = os.path.basename(path)
    i = 1
    while i < len(lines):
        n, line, code = lines[i]
        prev_n, prev, prev_code = lines[i - 1]
        if code or prev_code or not SEPARATOR.match(line) or "|" not in prev or "-" not in line:
            i += 1
            continue
        width = len(pipe_cells(prev))
        piped = prev.lstrip().startswith("|")
        i += 1
        while i < len(lines) and lines[i][1].strip():
            n, row, code = lines[i]
            if row.startswith("Table:") or row.startswith(": ") or row.startswith(":::"):
                break       # the caption, or the end of the table's Div
            cells = pipe_cells(row)
            if piped and not row.lstrip().startswith("|"):
                errs.append(f"{name}:{n}: text run into the table above (leave a blank line after a table): "
                            f"{row.strip()[:60]}")
            elif len(cells) > width:
                errs.append(f"{name}:{n}: a table row with {len(cells)} cells, its header has {width}: "
                            f"{row.strip()[:60]}")
            i += 1
    return errs


def walk(x, fn):
    if isinstance(x, dict):
        fn(x)
        for v in x.values():
            walk(v, fn)
    elif isinstance(x, list):
        for v in x:
            walk(v, fn)


def stringify(x):
    out = []

    def f(e):
        t = e.get("t")
        if t in ("Str", "Code"):
            out.append(e["c"] if t == "Str" else e["c"][1])
        elif t in ("Space", "SoftBreak", "LineBreak"):
            out.append(" ")
    walk(x, f)
    return "".join(out).strip()


def captions(path):
    """Tables and figures of a chapter source without a caption."""
    doc = json.loads(subprocess.run(["pandoc", "--from=markdown", "--to=json", path],
                                    check=True, capture_output=True, text=True).stdout)
    name, errs = os.path.basename(path), []

    def f(e):
        t = e.get("t")
        if t == "Table":
            caption = e["c"][1]          # [short, long blocks]
            if not stringify(caption[1]):
                head = e["c"][3]          # TableHead attr rows
                first = stringify(head[1][0][1][0][4]) if head[1] and head[1][0][1] else "?"
                errs.append(f"{name}: a table without a caption (first header cell: '{first}'): "
                            f"write 'Table: Caption.' after it")
        elif t == "Para" and len(e["c"]) == 1 and e["c"][0].get("t") == "Image":
            img = e["c"][0]["c"]
            if not stringify(img[1]):
                errs.append(f"{name}: a figure without a caption ({img[2][0]})")
    walk(doc["blocks"], f)
    return errs


def chapter_end(path):
    """Chapters 0-9 end with Summary, Questions, Further reading."""
    m = re.match(r"^(\d\d)-", os.path.basename(path))
    if not m or int(m.group(1)) > 9:
        return []
    nn = m.group(1)
    name = os.path.basename(path)
    heads, handout = [], []
    for n, line, code in source_lines(path):
        if code:
            continue
        h = re.match(r"^##\s+(.*?)\s*(\{[^}]*\})?\s*$", line)
        if h:
            heads.append((n, plain(h.group(1)), h.group(2) or ""))
        d = re.match(r"^:::+\s*\{[^}]*\.handout-questions[^}]*\}", line)
        if d:
            lab = re.search(r'lab="?(\d+)"?', line)
            handout.append((n, lab and lab.group(1), heads[-1][1] if heads else None))
    errs = []
    want = [("Summary", f"#sec:lab{nn}-summary"), ("Questions", f"#sec:lab{nn}-questions"),
            ("Further reading", f"#sec:lab{nn}-reading")]
    last = [h[1] for h in heads[-3:]]
    if last != [w[0] for w in want]:
        errs.append(f"{name}: does not end with the sections Summary, Questions, Further reading "
                    f"(its last level-2 sections: {', '.join(last) or 'none'})")
    else:
        for (n, title, attr), (_, ident) in zip(heads[-3:], want):
            if ident not in attr:
                errs.append(f"{name}:{n}: '## {title}' wants the identifier {{{ident}}}")
    linux = [i for i, h in enumerate(heads) if h[1].startswith("Where this lives in Linux")]
    if nn != "00" and not linux:
        errs.append(f"{name}: no 'Where this lives in Linux' section")
    elif linux and last == [w[0] for w in want] and linux[-1] != len(heads) - 4:
        errs.append(f"{name}: 'Where this lives in Linux' must come just before Summary")
    if nn == "00":
        if handout:
            errs.append(f"{name}:{handout[0][0]}: chapter 0 has no lab handout to pull questions from")
    else:
        if not handout:
            errs.append(f"{name}: no '::: {{.handout-questions lab=\"{nn}\"}}' in its Questions section")
        for n, lab, under in handout:
            if lab is None or int(lab) != int(nn):
                errs.append(f"{name}:{n}: handout-questions of lab {lab}, in chapter {int(nn)}")
            if under != "Questions":
                errs.append(f"{name}:{n}: the handout-questions div belongs in the Questions section")
    return errs


def separated_captions(pdf_text, html_path):
    """Listing captions set at the foot of a page, their code on the next."""
    with open(html_path, encoding="utf-8") as f:
        doc = f.read()
    caps = {}
    for m in re.finditer(r'<div[^>]*class="listing"[^>]*>\s*<p>(.*?)</p>', doc, re.S):
        text = html.unescape(re.sub(r"<[^>]+>", "", m.group(1)))
        num = re.match(r"Listing\s+([0-9A-Z]+\.\d+):", text)
        if num:
            caps[num.group(1)] = squash(text)
    errs = []
    for page_no, page in enumerate(pdf_text.split("\f"), 1):
        lines = [l.strip() for l in page.splitlines() if l.strip()]
        while lines and re.fullmatch(r"\d+|[ivxlc]+", lines[-1]):
            lines.pop()
        for i, line in enumerate(lines):
            m = re.match(r"^Listing ([0-9A-Z]+\.\d+):", line)
            if not m or m.group(1) not in caps:
                continue
            tail = squash(" ".join(lines[i:]))
            if caps[m.group(1)].startswith(tail):
                errs.append(f"listing {m.group(1)}: its caption is at the foot of page {page_no}, "
                            f"its code on the next")
    return errs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pdf", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--html", required=True)
    ap.add_argument("--min-pages", type=int, required=True)
    ap.add_argument("--solution", required=True)
    ap.add_argument("--pandoc-log", action="append", default=[],
                    help="pandoc's stderr of a build: its warnings fail the check")
    ap.add_argument("--overfull-max", type=int, default=None,
                    help="most overfull lines allowed in the LaTeX log")
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

    seen = set()
    for path in a.pandoc_log:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                for line in f:
                    line = line.strip()
                    if ("[WARNING]" in line or "book: warning:" in line) and line not in seen:
                        seen.add(line)
                        errors.append(f"pandoc: {line}")
        except FileNotFoundError:
            errors.append(f"no pandoc log {path} (build with make first)")

    overfull = re.findall(r"^Overfull \\hbox \(([\d.]+)pt too wide\) .*?lines? (\d+)", log, re.M)
    if a.overfull_max is not None:
        worst = sorted(overfull, key=lambda o: -float(o[0]))[:5]
        detail = ", ".join(f"{float(w):.0f}pt at kvmlabs.tex:{ln}" for w, ln in worst)
        print(f"book check: {len(overfull)} overfull lines in the LaTeX log (limit {a.overfull_max})"
              + (f"; widest: {detail}" if worst else ""))
        if len(overfull) > a.overfull_max:
            errors.append(f"{len(overfull)} overfull lines in the LaTeX log, more than {a.overfull_max}: "
                          f"see {a.log}")

    for ch in a.chapters:
        errors.extend(table_rows(ch))
        errors.extend(captions(ch))
        errors.extend(chapter_end(ch))
    errors.extend(separated_captions(subprocess.run(["pdftotext", a.pdf, "-"], check=True,
                                                    capture_output=True, text=True).stdout, a.html))

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
    errors.extend(site_complete(os.path.dirname(a.html)))

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
