#!/usr/bin/env python3
"""Split the single-page HTML book into a small site.

Input: the page pandoc wrote (--section-divs, --toc). Output, in the same
directory: index.html (title and contents), one page per chapter and
appendix (named after the chapter's identifier), with the table of contents
in a side bar and previous/next links; the single page stays as book.html.
Every link to an identifier is rewritten to point at the page that holds it.
"""
import re
import sys
from pathlib import Path


def page_name(section_id):
    return re.sub(r"[^A-Za-z0-9_-]", "-", section_id) + ".html"


def main():
    src = Path(sys.argv[1])
    out = src.parent
    doc = src.read_text(encoding="utf-8")

    head, rest = doc.split("<body>", 1)
    body, tail = rest.rsplit("</body>", 1)
    title = re.search(r"<header id=\"title-block-header\">.*?</header>", body, re.S)
    nav = re.search(r"<nav id=\"TOC\"[^>]*>.*?</nav>", body, re.S)
    if not title or not nav:
        sys.exit("html_site: no title block or table of contents in " + str(src))
    content = body[nav.end():]

    # Top-level sections follow one another; each runs to the next one.
    starts = [m for m in re.finditer(r"<section id=\"([^\"]+)\" class=\"level1[^\"]*\">", content)]
    if not starts:
        sys.exit("html_site: no chapters in " + str(src))
    chapters = []
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(content)
        html = content[m.start():end]
        heading = re.search(r"<h1[^>]*>(.*?)</h1>", html, re.S)
        chapters.append({
            "id": m.group(1),
            "file": page_name(m.group(1)),
            "html": html,
            "title": re.sub(r"<[^>]+>", "", heading.group(1)).strip() if heading else m.group(1),
        })

    # Which page holds each identifier.
    where = {}
    for ch in chapters:
        for ident in re.findall(r"\bid=\"([^\"]+)\"", ch["html"]):
            where[ident] = ch["file"]

    def relink(html):
        def fix(m):
            ident = m.group(1)
            target = where.get(ident)
            return f'href="{target}#{ident}"' if target else m.group(0)
        return re.sub(r"href=\"#([^\"]+)\"", fix, html)

    sidebar = relink(nav.group(0))
    head = head.replace("<title>", "<title>", 1)

    def page(inner, subtitle=None):
        h = head
        if subtitle:
            h = re.sub(r"<title>(.*?)</title>", lambda m: f"<title>{subtitle} – {m.group(1)}</title>", h, count=1)
        return f"{h}<body>\n{sidebar}\n{inner}\n</body>{tail}"

    for i, ch in enumerate(chapters):
        links = ['<a href="index.html">Contents</a>']
        if i > 0:
            links.insert(0, f'<a href="{chapters[i - 1]["file"]}">← {chapters[i - 1]["title"]}</a>')
        if i + 1 < len(chapters):
            links.append(f'<a href="{chapters[i + 1]["file"]}">{chapters[i + 1]["title"]} →</a>')
        bar = '<p class="pager">' + " · ".join(links) + "</p>"
        (out / ch["file"]).write_text(page(bar + relink(ch["html"]) + bar, ch["title"]), encoding="utf-8")

    toc = "<ol class=\"chapters\">" + "".join(
        f'<li><a href="{ch["file"]}">{ch["title"]}</a></li>' for ch in chapters) + "</ol>"
    index = (title.group(0) + "\n<h2>Contents</h2>\n" + toc +
             '\n<p>The whole book on one page: <a href="book.html">book.html</a>. '
             'As a PDF: <code>kvmlabs.pdf</code>, built beside this directory.</p>')
    (out / "index.html").write_text(page(index), encoding="utf-8")
    (out / "book.html").write_text(doc, encoding="utf-8")
    print(f"  SITE     {out}/index.html ({len(chapters)} chapters)")


if __name__ == "__main__":
    main()
