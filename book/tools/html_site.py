#!/usr/bin/env python3
"""Turn the single-page HTML book into a small site that works offline.

Input: the page pandoc wrote (--section-divs, --toc), usually book.html.
Output, in the same directory:

- index.html: the title block and the list of chapters, each numbered once;
- one page per chapter and appendix, named after the chapter's identifier
  (sec:lab01 -> sec-lab01.html), with previous/next links;
- book.html again: the whole book on one page, with the same frame;
- search-index.js: one entry per section (page, anchor, number, title, text
  and the identifiers of its listings), assigned to a variable so that the
  search box loads it with a <script> element, which works from file://;
- the files of book/html/ (book.css, book.js) copied beside them;
- kvmlabs.pdf: a symbolic link to ../kvmlabs.pdf, the PDF the same build
  writes next to the site directory (a copy where links are not possible).

Every page has a top bar (contents button, search, PDF) and the table of
contents as a side bar: every chapter, and the sections of the current one.
Every link to an identifier is rewritten to point at the page that holds it.

The site is refused (exit 1, a message naming the problem) when a chapter has
no identifier, two chapters would share a page, a link points at an
identifier no chapter holds, or the search index cannot be built.
"""
import html
import json
import os
import re
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path

ASSETS = Path(__file__).resolve().parent.parent / "html"
PDF_NAME = "kvmlabs.pdf"
INDEX_JS = "search-index.js"
TOC_DEPTH = 3          # levels shown for the current chapter in the side bar
ONE_PAGE_TOC_DEPTH = 2  # levels shown in the side bar of book.html


class SiteError(Exception):
    pass


@dataclass
class Section:
    id: str
    level: int
    number: str = ""
    title_html: str = ""     # the heading without its number, links removed
    own: list = field(default_factory=list)   # HTML chunks outside subsections
    chapter: "Section" = None
    page: str = ""

    @property
    def title(self):
        return plain(self.title_html)

    @property
    def label(self):
        return f"{self.number} {self.title}".strip()


BLOCK_TAG = re.compile(r"</?(?:p|div|li|ul|ol|dl|dt|dd|td|th|tr|table|caption|h[1-6]|pre|br|hr|"
                       r"section|figure|figcaption|blockquote|header|nav)\b[^>]*>")


def plain(fragment):
    """Text of an HTML fragment: block tags make a space, inline ones vanish."""
    text = re.sub(r"<[^>]+>", "", BLOCK_TAG.sub(" ", fragment))
    return " ".join(html.unescape(text).split())


def page_name(section_id):
    return re.sub(r"[^A-Za-z0-9_-]", "-", section_id) + ".html"


def attr(tag, name):
    m = re.search(r'\b%s="([^"]*)"' % name, tag)
    return m.group(1) if m else None


SECTION_TAG = re.compile(r"<(/?)section\b([^>]*)>")
HEADING = re.compile(r"<h([1-6])\b[^>]*>(.*?)</h\1>", re.S)
NUMBER = re.compile(r'<span class="header-section-number">(.*?)</span>\s*', re.S)


def split_document(content):
    """The top-level blocks of the content (chapters, the footnotes) and
    every section with an identifier, in document order, each with its own
    HTML (the parts not inside a subsection)."""
    tops, sections, stack, pos = [], [], [], 0
    for m in SECTION_TAG.finditer(content):
        if stack:
            stack[-1][1].append(content[pos:m.start()])
        pos = m.end()
        if m.group(1):                       # </section>
            if not stack:
                raise SiteError("unbalanced </section> in the pandoc output")
            start, own, sec = stack.pop()
            if sec is not None:
                sec.own = own
            if not stack:
                tops.append((start, m.end(), content[start:m.end()], sec))
            continue
        tag = m.group(0)
        cls = (attr(tag, "class") or "").split()
        level = next((int(c[5:]) for c in cls if re.fullmatch(r"level[1-6]", c)), None)
        ident = attr(tag, "id")
        sec = None
        if level is not None:
            if level == 1 and stack:
                raise SiteError(f"a chapter (level-1 section {ident or '?'}) nested in another section")
            if not ident:
                raise SiteError("a chapter or section has no identifier: give every header "
                                "an identifier {#sec:name} (heading near: "
                                + plain(content[m.end():m.end() + 200])[:80] + ")")
            sec = Section(ident, level)
            sections.append(sec)
        stack.append((m.start(), [], sec))
    if stack:
        raise SiteError("unclosed <section> in the pandoc output")
    return tops, sections


def describe(sections, chapters):
    """Number, title and page of every section."""
    chapter = None
    for sec in sections:
        own = "".join(sec.own)
        h = HEADING.search(own)
        if not h:
            raise SiteError(f"section {sec.id} has no heading")
        inner = h.group(2)
        num = NUMBER.search(inner)
        sec.number = plain(num.group(1)) if num else ""
        inner = NUMBER.sub("", inner, count=1)
        sec.title_html = re.sub(r"</?a\b[^>]*>", "", inner).strip()
        if sec.level == 1:
            chapter = sec
        sec.chapter = chapter
        sec.page = chapter.page if chapter else ""
    for ch in chapters:
        if not ch.title:
            raise SiteError(f"chapter {ch.id} has an empty title")


CODE_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]{3,}")


def search_entries(sections, chapters):
    """One search entry per section: its own text, its listings' names."""
    chapter_index = {ch.id: i for i, ch in enumerate(chapters)}
    entries = []
    for sec in sections:
        own = "".join(sec.own)
        own = HEADING.sub(" ", own, count=1)
        code = re.findall(r"<pre\b[^>]*>(.*?)</pre>", own, re.S)
        prose = re.sub(r"<pre\b[^>]*>.*?</pre>", " ", own, flags=re.S)
        prose = re.sub(r"<(script|style)\b.*?</\1>", " ", prose, flags=re.S)
        words = []
        for block in code:
            for w in CODE_WORD.findall(plain(block)):
                if w not in words:
                    words.append(w)
        if not sec.title:
            raise SiteError(f"section {sec.id} has an empty title")
        entries.append({
            "p": sec.page,
            "a": "" if sec.level == 1 else sec.id,
            "n": sec.number,
            "t": sec.title,
            "c": chapter_index[sec.chapter.id],
            "x": plain(prose),
            "k": " ".join(words),
        })
    return entries


def search_index(chapters, entries):
    if not entries:
        raise SiteError("the search index is empty: no section found")
    for e in entries:
        if not e["p"] or not e["t"]:
            raise SiteError(f"search entry without page or title: {e}")
    data = {"chapters": [ch.label for ch in chapters], "sections": entries}
    text = ("/* The search index of the kvmlabs book, written by tools/html_site.py. */\n"
            "window.KVMLABS_SEARCH = " + json.dumps(data, ensure_ascii=False,
                                                     separators=(",", ":")) + ";\n")
    return text


def toc_list(items, href):
    """Nested <ul> of (section, extra li classes) items, in document order."""
    out, depth = [], 0
    base = items[0][0].level if items else 1
    for sec, classes in items:
        level = sec.level - base + 1
        if level > depth:
            out.append("<ul>" * (level - depth))
        else:
            out.append("</li>")
            out.append("</ul></li>" * (depth - level))
        depth = level
        cls = f' class="{" ".join(classes)}"' if classes else ""
        num = f'<span class="toc-num">{sec.number}</span> ' if sec.number else ""
        current = ' aria-current="page"' if "current" in classes else ""
        out.append(f'<li{cls}><a href="{href(sec)}" data-id="{html.escape(sec.id)}"{current}>'
                   f'{num}<span class="toc-title">{sec.title_html}</span></a>')
    if depth:
        out.append("</li>" + "</ul></li>" * (depth - 1) + "</ul>")
    return "".join(out)


def chapter_classes(ch):
    return ["chapter"] + (["appendix"] if ch.number and not ch.number.isdigit() else [])


def site_toc(sections, current):
    """Every chapter; the sections of the current one down to TOC_DEPTH."""
    items = []
    for sec in sections:
        if sec.level == 1:
            items.append((sec, chapter_classes(sec) + (["current"] if sec is current else [])))
        elif sec.chapter is current and sec.level <= TOC_DEPTH:
            items.append((sec, []))
    return toc_list(items, lambda s: s.page if s.level == 1 else f"{s.page}#{s.id}")


def one_page_toc(sections):
    items = [(s, chapter_classes(s) if s.level == 1 else [])
             for s in sections if s.level <= ONE_PAGE_TOC_DEPTH]
    return toc_list(items, lambda s: f"#{s.id}")


def wrap_tables(fragment):
    """Tables scroll sideways in a box of their own instead of the page."""
    return re.sub(r'(?<!<div class="table-wrap">)(<table\b.*?</table>)',
                  r'<div class="table-wrap">\1</div>', fragment, flags=re.S)


def link_figures(fragment):
    """A figure opens at full size when clicked (small screens shrink it)."""
    def wrap(m):
        before = fragment[max(0, m.start() - 80):m.start()]
        if before.rstrip().endswith(f'<a class="figure-link" href="{m.group(2)}">'):
            return m.group(0)
        return f'<a class="figure-link" href="{m.group(2)}">{m.group(1)}</a>'
    return re.sub(r'(<img\b[^>]*\bsrc="(fig/[^"]+)"[^>]*>)', wrap, fragment)


class Site:
    def __init__(self, src):
        self.src = Path(src)
        self.out = self.src.parent
        doc = self.src.read_text(encoding="utf-8")
        body_tag = re.search(r"<body\b[^>]*>", doc)
        if not body_tag or "</body>" not in doc:
            raise SiteError(f"no <body> in {src}")
        head, rest = doc[:body_tag.start()], doc[body_tag.end():]
        body, self.tail = rest.rsplit("</body>", 1)
        title = re.search(r'<header id="title-block-header">.*?</header>', body, re.S)
        nav = re.search(r'<nav id="TOC"[^>]*>.*?</nav>', body, re.S)
        if not title or not nav:
            raise SiteError(f"no title block or table of contents in {src} "
                            "(pandoc needs --standalone --toc)")
        self.title_block = title.group(0)
        name = re.search(r'<h1 class="title">(.*?)</h1>', self.title_block, re.S)
        self.book = plain(name.group(1)) if name else "Contents"
        script = '  <script src="book.js" defer></script>\n'
        self.head = head if script in head else head.replace("</head>", script + "</head>", 1)
        content = body[nav.end():]
        framed = re.search(r'<main id="main">(.*)</main>', content, re.S)
        if framed:     # book.html as this script left it: take the book back out
            content = framed.group(1).replace(self.title_block, "", 1)

        tops, self.sections = split_document(content)
        self.chapters = [s for s in self.sections if s.level == 1]
        if not self.chapters:
            raise SiteError(f"no chapters in {src}")
        self.html = {}          # chapter id -> its HTML
        notes = []
        for start, end, block, sec in tops:
            if sec is not None and sec.level == 1:
                self.html[sec.id] = content[start:end]
            elif "footnotes" in (attr(block[:block.index(">")], "class") or ""):
                notes.append(block)
            else:
                raise SiteError("a top-level block that is neither a chapter nor the "
                                "footnotes: " + block[:120])
        pages = {}
        for ch in self.chapters:
            ch.page = page_name(ch.id)
            if ch.page in pages or ch.page in ("index.html", "book.html"):
                raise SiteError(f"chapters {pages.get(ch.page, '?')} and {ch.id} "
                                f"would both be {ch.page}")
            pages[ch.page] = ch.id
        describe(self.sections, self.chapters)
        self.distribute_footnotes(notes)

        # Which page holds each identifier.
        self.where = {}
        for ch in self.chapters:
            for ident in re.findall(r'\bid="([^"]+)"', self.html[ch.id]):
                self.where[ident] = ch.page
        self.content = content
        self.missing = []

    def distribute_footnotes(self, blocks):
        """Pandoc puts every note at the end of the document: give each
        chapter the notes its text refers to, numbers kept."""
        for block in blocks:
            for li in re.finditer(r'<li id="(fn(\d+))"[^>]*>.*?</li>', block, re.S):
                for ch in self.chapters:
                    if f'href="#{li.group(1)}"' in self.html[ch.id]:
                        item = li.group(0).replace("<li ", f'<li value="{li.group(2)}" ', 1)
                        self.html[ch.id] += (f'\n<section class="footnotes" role="doc-endnotes">'
                                             f'<hr /><ol>{item}</ol></section>')
                        break
                else:
                    raise SiteError(f"footnote {li.group(1)} is referred to by no chapter")

    def relink(self, fragment, page):
        def fix(m):
            ident = m.group(1)
            target = self.where.get(ident)
            if target is None:
                self.missing.append(f"{page}: link to #{ident}, which no chapter holds")
                return m.group(0)
            return f'href="{target}#{ident}"' if target != page else f'href="#{ident}"'
        return re.sub(r'href="#([^"]+)"', fix, fragment)

    def frame(self, main, toc, subtitle=None, body_class="", links=""):
        head = self.head
        if subtitle:
            head = re.sub(r"<title>(.*?)</title>",
                          lambda m: f"<title>{html.escape(subtitle)} – {m.group(1)}</title>",
                          head, count=1, flags=re.S)
        if links:
            head = head.replace("</head>", links + "</head>", 1)
        book = html.escape(self.book)
        return f"""{head}<body class="{body_class}">
<a class="skip-link" href="#main">Skip to the text</a>
<header class="topbar">
<a class="toc-toggle" href="#TOC" aria-controls="TOC" aria-expanded="false" title="Contents"><span class="toc-icon" aria-hidden="true"></span><span class="toc-label">Contents</span></a>
<a class="book-name" href="index.html">{book}</a>
<div class="search" role="search" hidden>
<input id="search-input" type="search" placeholder="Search the book" aria-label="Search the book" autocomplete="off" spellcheck="false" role="combobox" aria-controls="search-results" aria-expanded="false" aria-autocomplete="list" />
<kbd class="search-key" title="Press / to search">/</kbd>
<div id="search-results" class="search-results" role="listbox" aria-label="Search results" hidden></div>
</div>
<a class="pdf-link" href="{PDF_NAME}" title="The whole book as a PDF">PDF</a>
</header>
<nav id="TOC" role="doc-toc" aria-label="Table of contents">
<p class="toc-head"><a href="index.html">Contents</a><a class="toc-close" href="#" aria-label="Close the contents">×</a></p>
{toc}
<p class="toc-foot"><a href="book.html">All on one page</a> · <a href="{PDF_NAME}">PDF</a></p>
</nav>
<main id="main">
{main}
</main>
</body>{self.tail}"""

    def pager(self, i, where):
        prev = self.chapters[i - 1] if i > 0 else None
        nxt = self.chapters[i + 1] if i + 1 < len(self.chapters) else None
        def link(ch, rel, word):
            if ch is None:
                return f'<span class="{rel} none"></span>'
            return (f'<a class="{rel}" rel="{rel}" href="{ch.page}"><span class="pager-word">{word}</span> '
                    f'<span class="pager-title">{html.escape(ch.label)}</span></a>')
        return (f'<nav class="pager pager-{where}" aria-label="Chapters">'
                + link(prev, "prev", "Previous") + '<a class="up" href="index.html">Contents</a>'
                + link(nxt, "next", "Next") + "</nav>")

    def write_chapters(self):
        for i, ch in enumerate(self.chapters):
            body = link_figures(wrap_tables(self.relink(self.html[ch.id], ch.page)))
            links = "".join(f'  <link rel="{rel}" href="{c.page}" />\n'
                            for rel, c in (("prev", self.chapters[i - 1] if i else None),
                                           ("next", self.chapters[i + 1] if i + 1 < len(self.chapters) else None))
                            if c)
            page = self.frame(self.pager(i, "top") + body + self.pager(i, "bottom"),
                              site_toc(self.sections, ch), ch.label, "chapter-page", links)
            self.files[ch.page] = page

    def write_index(self):
        items, appendix_started = [], False
        for ch in self.chapters:
            if "appendix" in chapter_classes(ch) and not appendix_started:
                appendix_started = True
                items.append('</ul>\n<h2 id="appendices">Appendices</h2>\n<ul class="chapter-list">')
            subs = [s for s in self.sections if s.chapter is ch and s.level == 2]
            parts = " · ".join(f'<a href="{ch.page}#{s.id}">{s.title_html}</a>' for s in subs)
            num = f'<span class="chapter-num">{ch.number}</span>' if ch.number else '<span class="chapter-num"></span>'
            items.append(f'<li><a class="chapter-link" href="{ch.page}">{num}'
                         f'<span class="chapter-title">{ch.title_html}</span></a>'
                         + (f'<p class="chapter-sections">{parts}</p>' if parts else "") + "</li>")
        first = self.chapters[0]
        main = (f'{self.title_block}\n'
                f'<p class="formats">Read it chapter by chapter, from <a href="{first.page}">'
                f'{html.escape(first.label)}</a> on; the whole book on one page '
                f'(<a href="book.html">book.html</a>); or as a PDF (<a href="{PDF_NAME}">{PDF_NAME}</a>). '
                f'<span class="search-hint">Press <kbd>/</kbd> to search.</span></p>\n'
                f'<h2 id="contents">Contents</h2>\n<ul class="chapter-list">' + "".join(items) + "</ul>")
        self.files["index.html"] = self.frame(main, site_toc(self.sections, None), body_class="index-page",
                                              links=f'  <link rel="next" href="{first.page}" />\n')

    def write_one_page(self):
        for ch in self.chapters:
            self.relink(self.html[ch.id], "book.html")   # only to report dangling links
        main = self.title_block + "\n" + link_figures(wrap_tables(self.content.strip()))
        self.files["book.html"] = self.frame(main, one_page_toc(self.sections), body_class="one-page")

    def copy_assets(self):
        names = [p for p in sorted(ASSETS.iterdir()) if p.is_file()] if ASSETS.is_dir() else []
        if not any(p.name == "book.js" for p in names):
            raise SiteError(f"no book.js in {ASSETS}: the search box and the contents button need it")
        for p in names:
            shutil.copyfile(p, self.out / p.name)

    def link_pdf(self):
        """kvmlabs.pdf in the site, a relative link to the PDF beside it."""
        link = self.out / PDF_NAME
        target = Path("..") / PDF_NAME
        if link.is_symlink() or link.exists():
            link.unlink()
        try:
            os.symlink(target, link)
        except OSError:
            if (self.out / target).exists():
                shutil.copyfile(self.out / target, link)

    def build(self):
        """Every file made and checked in memory first, then written, the
        index last: a refused site leaves no index.html newer than its sources."""
        self.files = {}
        self.write_chapters()
        self.write_one_page()
        self.write_index()
        if self.missing:
            raise SiteError("links to identifiers no chapter holds:\n  "
                            + "\n  ".join(sorted(set(self.missing))[:20]))
        index = search_index(self.chapters, search_entries(self.sections, self.chapters))
        (self.out / "index.html").unlink(missing_ok=True)
        self.copy_assets()
        self.link_pdf()
        (self.out / INDEX_JS).write_text(index, encoding="utf-8")
        for name in sorted(self.files, key=lambda n: n == "index.html"):
            (self.out / name).write_text(self.files[name], encoding="utf-8")
        return len(index)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: html_site.py BOOK.html")
    try:
        site = Site(sys.argv[1])
        size = site.build()
    except (SiteError, OSError) as e:
        print(f"html_site: error: {e}", file=sys.stderr)
        sys.exit(1)
    print(f"  SITE     {site.out}/index.html ({len(site.chapters)} chapters, "
          f"{len(site.sections)} sections in the search index, {size // 1024} KiB)")


if __name__ == "__main__":
    main()
