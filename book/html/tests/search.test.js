#!/usr/bin/env node
/* The search of the HTML site, run on a built site:
 *     node book/html/tests/search.test.js build/book/html
 * Loads search-index.js the way a page does (a script assigning a variable),
 * and the search code of book.js, then checks that every section of every
 * page is in the index, that every entry points at a page and identifier that
 * exist, and that a few queries find what a reader would expect. */
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const site = process.argv[2];
if (!site) { console.error("usage: search.test.js SITE_DIR"); process.exit(2); }
const search = require(path.resolve(site, "book.js"));
const sandbox = { window: {} };
vm.runInNewContext(fs.readFileSync(path.join(site, "search-index.js"), "utf8"), sandbox);
const data = sandbox.window.KVMLABS_SEARCH;
let failures = 0;
function check(what, ok, detail) {
  if (!ok) { failures++; console.log(`search: FAIL ${what}${detail ? ": " + detail : ""}`); }
}

check("search-index.js defines window.KVMLABS_SEARCH with sections",
      data && Array.isArray(data.sections) && data.sections.length > 0);
if (!data) process.exit(1);

/* Every section of every chapter page is in the index, and every entry
 * points at a page and an identifier that exist. */
const ids = {};
for (const name of fs.readdirSync(site)) {
  if (!name.endsWith(".html") || name === "index.html" || name === "book.html") continue;
  ids[name] = new Set([...fs.readFileSync(path.join(site, name), "utf8")
    .matchAll(/<section id="([^"]+)" class="level\d/g)].map((m) => m[1]));
}
const indexed = new Set(data.sections.map((s) => s.p + "#" + (s.a || "")));
for (const [page, set] of Object.entries(ids)) {
  set.forEach((id) => {
    const whole = [...set][0] === id;   // the chapter itself: the page, no anchor
    check(`section ${id} of ${page} is in the index`, indexed.has(page + "#" + (whole ? "" : id)));
  });
}
for (const s of data.sections) {
  check(`entry "${s.t}" points at a page`, ids[s.p] !== undefined, s.p);
  if (s.a) check(`entry "${s.t}" points at an identifier`, ids[s.p] && ids[s.p].has(s.a), s.p + "#" + s.a);
  check(`entry "${s.t}" has a chapter`, typeof data.chapters[s.c] === "string");
}

/* Queries. */
const index = search.prepare(data);
function top(q, n) { return search.search(index, q, n || 5).map((h) => h.entry.s); }
function expectTitle(q, re, n) {
  const hits = top(q, n);
  check(`"${q}" finds a section titled ${re} among the first ${n || 5}`,
        hits.some((s) => re.test(s.t)), hits.map((s) => s.t).join(" | "));
}
expectTitle("vmcs", /VMCS/, 3);
expectTitle("VMCS", /VMCS/, 3);                 // case does not matter
expectTitle("memslot", /memslot/i, 3);
expectTitle("kvm_run", /kvm_run/, 3);
expectTitle("kvm_set_sregs", /KVM_SET_SREGS/, 3);
expectTitle("sregs", /KVM_SET_SREGS/, 5);       // a part of an identifier
expectTitle("pagin", /paging/i, 3);             // a prefix (with chapter 5, "page" alone finds shadow pages first)
expectTitle("dirty log", /Dirty-page logging/, 3);
check(`nonsense finds nothing`, top("qqzzxxv").length === 0);
check(`an empty query finds nothing`, top("  ").length === 0);
const all = top("vm entry", 50);
check(`every hit of a two-word query has both words (or words they start)`, all.length && all.every((s) => {
  const words = search.tokens(s.t + " " + s.x + " " + s.k);
  return ["vm", "entry"].every((t) => words.some((w) => w.startsWith(t)));
}));
const titled = top("guest", 1)[0];
check(`a title match ranks first`, titled && /guest/i.test(titled.t), titled && titled.t);

/* Snippets: the term is in the snippet, marked. */
const parts = search.snippet("the quick VMCS field encodings of the VMCS", "vmcs", 40);
check("snippet marks the term", parts.length >= 3 && parts[1] === "VMCS", JSON.stringify(parts));
const long = "word ".repeat(100) + "needle " + "word ".repeat(100);
const cut = search.snippet(long, "needle", 80).join("");
check("snippet of a long text is around the term, cut with ellipses",
      cut.includes("needle") && cut.startsWith("…") && cut.endsWith("…") && cut.length < 90, cut);

if (failures) { console.log(`search: ${failures} check(s) failed`); process.exit(1); }
console.log(`search: ok (${data.sections.length} sections, ${Object.keys(ids).length} pages)`);
