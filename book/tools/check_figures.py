#!/usr/bin/env python3
"""Check the figures of a built kvmlabs book: size of their text in print, and one scale.

Every figure is drawn by Graphviz (book/figures/NAME.dot -> FIGDIR/NAME.pdf) and
included in the book. What the reader sees is measured in the book's PDF:

- the figure is found in the book by its words (pdftotext -bbox on both PDFs:
  the page that holds most of the figure's words);
- its scale is the median ratio of a word's width on that page to the same
  word's width in the figure's own PDF (words that occur once in each, in the
  figure's font, so that body text on the page does not count);
- its smallest font is the smallest font size in the figure's own PDF
  (pdftohtml -xml) times that scale: the size in points the reader gets.

It fails (exit status 1, a line per failure naming the figure) when
- a figure's smallest printed font is below --min-pt;
- the scales of the figures differ by more than --tolerance (a fraction:
  0.05 allows 5 %), naming the smallest and the largest;
- a figure is drawn wider than --max-width-mm (its natural size), or is not
  found in the book at all.

With --tex, the \\includegraphics options of each figure are printed beside
its measurements, to tell how the book included it.

Usage:
  check_figures.py --pdf BOOK.pdf --figdir FIGDIR [--min-pt 7] [--tolerance 0.05]
                   [--max-width-mm 160] [--tex kvmlabs.tex] [--verbose]
Needs poppler-utils (pdftotext, pdftohtml, pdfinfo).
"""
import argparse
import collections
import html
import os
import re
import statistics
import subprocess
import sys

PT_PER_MM = 72 / 25.4
# pdftohtml reports font sizes as integers of the zoomed page; 3 is its
# largest zoom, so sizes are known to 1/3 pt.
ZOOM = 3


def run(cmd):
    try:
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, check=False)
    except FileNotFoundError:
        sys.exit("check_figures: %s not found (Debian package poppler-utils)" % cmd[0])
    if r.returncode != 0:
        sys.exit("check_figures: %s failed: %s" % (" ".join(cmd), r.stderr.decode(errors="replace").strip()))
    return r.stdout.decode("utf-8", errors="replace")


WORD_RE = re.compile(r'<word xMin="([-\d.]+)" yMin="([-\d.]+)" xMax="([-\d.]+)" yMax="([-\d.]+)">(.*?)</word>')
PAGE_RE = re.compile(r'<page width="([\d.]+)" height="([\d.]+)">')


def bbox_pages(pdf):
    """pdftotext -bbox: a list of pages, each {"size": (w, h), "words": [(text, x0, y0, x1, y1)]}."""
    out = run(["pdftotext", "-bbox", pdf, "-"])
    pages = []
    for chunk in out.split("</page>"):
        m = PAGE_RE.search(chunk)
        if not m:
            continue
        words = [(html.unescape(t), float(a), float(b), float(c), float(d))
                 for a, b, c, d, t in WORD_RE.findall(chunk)]
        pages.append({"size": (float(m.group(1)), float(m.group(2))), "words": words})
    return pages


FONTSPEC_RE = re.compile(r'<fontspec id="(\d+)" size="(-?\d+)" family="([^"]*)"')
TEXT_RE = re.compile(r'<text [^>]*font="(\d+)"[^>]*>(.*?)</text>')


def font_sizes(pdf):
    """Font sizes (pt) of the text of a PDF, with the families: {size: set(families)}."""
    out = run(["pdftohtml", "-xml", "-i", "-q", "-stdout", "-zoom", str(ZOOM), pdf])
    specs = {fid: (int(size) / ZOOM, fam) for fid, size, fam in FONTSPEC_RE.findall(out)}
    used = collections.defaultdict(set)
    for fid, text in TEXT_RE.findall(out):
        if fid in specs and re.sub(r"<[^>]+>", "", text).strip():
            size, fam = specs[fid]
            used[size].add(fam)
    return used


def tex_includes(tex):
    """{figure name: how the book's LaTeX includes it}: the options of its
    \\includegraphics, or "natural size" for the book's \\kvfigure{PATH} macro
    (tex/header.tex: natural size, shrunk only to fit the page)."""
    found = {}
    with open(tex, encoding="utf-8") as f:
        text = f.read()
    for m in re.finditer(r"\\includegraphics(?:\[([^\]]*)\])?\{([^}#]*)\}", text):
        name = os.path.splitext(os.path.basename(m.group(2)))[0]
        found[name] = m.group(1) or "natural size"
    for m in re.finditer(r"\\kvfigure\{([^}#]*)\}", text):
        found[os.path.splitext(os.path.basename(m.group(1)))[0]] = "natural size (\\kvfigure)"
    return found


def measure(name, fig_pdf, book_pages):
    """Where the figure is in the book and at what scale: (page number, scale, matched words) or None."""
    fig = bbox_pages(fig_pdf)
    if not fig:
        return None
    fwords = [w for w in fig[0]["words"] if len(w[0]) >= 2 and w[3] - w[1] > 0]
    if not fwords:
        return None
    fcount = collections.Counter(w[0] for w in fwords)
    best = None
    for no, page in enumerate(book_pages, 1):
        pcount = collections.Counter(w[0] for w in page["words"])
        hits = sum(min(n, pcount[t]) for t, n in fcount.items())
        if not best or hits > best[1]:
            best = (no, hits)
    no, hits = best
    if hits < max(3, 0.5 * len(fwords)):
        return None
    page = book_pages[no - 1]
    pwords = collections.defaultdict(list)
    for w in page["words"]:
        pwords[w[0]].append(w)
    ratios = []
    for w in fwords:
        if fcount[w[0]] == 1 and len(pwords[w[0]]) == 1:
            p = pwords[w[0]][0]
            ratios.append((p[3] - p[1]) / (w[3] - w[1]))
    if len(ratios) < 3:
        # Few unique words: every pairing, and the ratio most of them agree on.
        ratios = [(p[3] - p[1]) / (w[3] - w[1]) for w in fwords for p in pwords[w[0]]]
    if not ratios:
        return None
    scale = statistics.median(ratios)
    agree = sum(1 for r in ratios if abs(r / scale - 1) < 0.03)
    return no, scale, agree, len(ratios)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pdf", required=True, help="the built book")
    ap.add_argument("--figdir", required=True, help="the figures as Graphviz rendered them (NAME.pdf)")
    ap.add_argument("--min-pt", type=float, default=7.0, help="smallest font size allowed in print (pt)")
    ap.add_argument("--tolerance", type=float, default=0.05,
                    help="largest allowed difference between the figures' scales (fraction)")
    ap.add_argument("--max-width-mm", type=float, default=160.0,
                    help="widest a figure may be drawn (its natural width, mm)")
    ap.add_argument("--tex", help="the book's LaTeX source, to show each figure's include options")
    ap.add_argument("--verbose", "-v", action="store_true", help="a line per figure even when all is well")
    args = ap.parse_args()

    figs = sorted(f for f in os.listdir(args.figdir) if f.endswith(".pdf"))
    if not figs:
        sys.exit("check_figures: no figure PDF in %s" % args.figdir)
    book = bbox_pages(args.pdf)
    includes = tex_includes(args.tex) if args.tex else {}

    failures, rows = [], []
    for f in figs:
        name = f[:-4]
        path = os.path.join(args.figdir, f)
        fig_page = bbox_pages(path)
        width_pt = fig_page[0]["size"][0] if fig_page else 0.0
        sizes = font_sizes(path)
        if not sizes:
            failures.append("figure %s: no text found in %s" % (name, path))
            continue
        nat_min = min(sizes)
        if width_pt > args.max_width_mm * PT_PER_MM + 0.5:
            failures.append("figure %s: drawn %.0f mm wide, more than %.0f mm: redraw it narrower"
                            % (name, width_pt / PT_PER_MM, args.max_width_mm))
        m = measure(name, path, book)
        if not m:
            failures.append("figure %s: not found in %s (its words are on no page)" % (name, args.pdf))
            continue
        page, scale, agree, nratios = m
        printed = nat_min * scale
        rows.append((name, page, scale, nat_min, printed, width_pt, agree, nratios))
        if printed < args.min_pt - 0.05:
            failures.append("figure %s (page %d): smallest text %.1f pt in print (%.1f pt drawn, scale %.2f), "
                            "below %.1f pt" % (name, page, printed, nat_min, scale, args.min_pt))

    if rows:
        lo = min(rows, key=lambda r: r[2])
        hi = max(rows, key=lambda r: r[2])
        if hi[2] / lo[2] - 1 > args.tolerance:
            failures.append("figures at different scales: %s at %.2f (page %d), %s at %.2f (page %d); "
                            "allowed difference %.0f %%: include every figure at its natural size"
                            % (lo[0], lo[2], lo[1], hi[0], hi[2], hi[1], args.tolerance * 100))

    if failures or args.verbose:
        print("%-22s %4s %6s %8s %9s %8s  %s" % ("figure", "page", "scale", "drawn", "printed", "width",
                                                  "include" if includes else ""))
        for name, page, scale, nat_min, printed, width_pt, agree, nratios in rows:
            print("%-22s %4d %6.3f %6.1fpt %7.1fpt %6.0fmm  %s" % (
                name, page, scale, nat_min, printed, width_pt * scale / PT_PER_MM,
                includes.get(name, "") if includes else ""))
    for msg in failures:
        print("check_figures: " + msg)
    if failures:
        return 1
    print("check_figures: %d figures, scale %.2f-%.2f, smallest text %.1f pt in print"
          % (len(rows), min(r[2] for r in rows), max(r[2] for r in rows), min(r[4] for r in rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
