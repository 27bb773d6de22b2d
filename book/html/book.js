/* kvmlabs book, HTML edition: the contents button, the current section in the
 * contents, and the search box. Works from file:// (the search index is a
 * script, search-index.js, loaded on first use). Without this script the
 * contents are still reachable: the button is a link to #TOC, which CSS shows. */
"use strict";

/* ---- search: no DOM here, so that node can test it ---- */

function kvmTokens(text) {
  var out = [];
  (text.toLowerCase().match(/[a-z0-9_]+/g) || []).forEach(function (w) {
    out.push(w);
    if (w.indexOf("_") >= 0)
      w.split("_").forEach(function (p) { if (p) out.push(p); });
  });
  return out;
}

function kvmPrepare(data) {
  return data.sections.map(function (s) {
    var body = new Map();
    kvmTokens(s.x).forEach(function (w) { body.set(w, (body.get(w) || 0) + 1); });
    return { s: s, chapter: data.chapters[s.c], title: kvmTokens(s.t), body: body,
             code: new Set(kvmTokens(s.k)), lower: s.t.toLowerCase() };
  });
}

/* Every term must match a word (or the start of one) in the title, the text
 * or the listings of a section; a match in the title counts most. */
function kvmSearch(index, query, limit) {
  var terms = query.toLowerCase().match(/[a-z0-9_]+/g) || [];
  if (!terms.length) return [];
  var phrase = query.toLowerCase().trim(), hits = [];
  index.forEach(function (e) {
    var score = 0;
    for (var i = 0; i < terms.length; i++) {
      var t = terms[i], inTitle = 0, inBody = 0, inCode = 0;
      e.title.forEach(function (w) {
        if (w === t) inTitle += 3; else if (w.lastIndexOf(t, 0) === 0) inTitle += 1;
      });
      e.body.forEach(function (n, w) {
        if (w === t) inBody += n; else if (w.lastIndexOf(t, 0) === 0) inBody += n / 2;
      });
      e.code.forEach(function (w) { if (!inCode && w.lastIndexOf(t, 0) === 0) inCode = 1; });
      if (!inTitle && !inBody && !inCode) return;
      score += 10 * Math.min(inTitle, 3) + (inBody ? 2 + Math.log2(1 + inBody) : 0) + inCode;
    }
    if (terms.length > 1 && e.lower.indexOf(phrase) >= 0) score += 10;
    hits.push({ entry: e, score: score });
  });
  hits.sort(function (a, b) { return b.score - a.score; });
  return hits.slice(0, limit || 12);
}

/* Up to `size` characters of text around the first term found, as parts:
 * [text, matched, text, matched, ...]. */
function kvmSnippet(text, query, size) {
  var terms = (query.toLowerCase().match(/[a-z0-9_]+/g) || []).filter(Boolean);
  size = size || 160;
  var lower = text.toLowerCase(), at = -1;
  terms.forEach(function (t) {
    var re = new RegExp("(^|[^a-z0-9])" + t, "g"), m = re.exec(lower);
    if (m && (at < 0 || m.index < at)) at = m.index + m[1].length;
  });
  var start = Math.max(0, at - Math.floor(size / 3));
  if (start > 0) { var sp = text.indexOf(" ", start); if (sp >= 0 && sp < at) start = sp + 1; }
  var end = Math.min(text.length, start + size);
  if (end < text.length) { var sp2 = text.lastIndexOf(" ", end); if (sp2 > start) end = sp2; }
  var cut = (start > 0 ? "…" : "") + text.slice(start, end).replace(start > 0 ? /^[^\w(“"‘']+/ : /^$/, "") + (end < text.length ? "…" : "");
  if (!terms.length) return [cut];
  var re = new RegExp("(" + terms.join("|") + ")", "gi");
  return cut.split(re);
}

if (typeof module !== "undefined")
  module.exports = { tokens: kvmTokens, prepare: kvmPrepare, search: kvmSearch, snippet: kvmSnippet };

/* ---- the page ---- */

if (typeof document !== "undefined") (function () {
  document.documentElement.classList.add("js");
  var body = document.body, nav = document.getElementById("TOC");
  var toggle = document.querySelector(".toc-toggle");

  /* The contents: a side bar from 80rem on, a drawer behind the button below. */
  function setOpen(open) {
    body.classList.toggle("toc-open", open);
    if (toggle) toggle.setAttribute("aria-expanded", open ? "true" : "false");
    if (!open && location.hash === "#TOC")
      history.replaceState(null, "", location.pathname + location.search);
    if (open) { var a = nav.querySelector("a.active") || nav.querySelector("li.current > a");
                if (a) nav.scrollTop = a.offsetTop - nav.clientHeight / 3; }
  }
  if (toggle && nav) {
    toggle.addEventListener("click", function (e) {
      e.preventDefault();
      setOpen(!body.classList.contains("toc-open"));
    });
    nav.addEventListener("click", function (e) {
      var a = e.target.closest("a");
      if (!a) return;
      if (a.classList.contains("toc-close")) e.preventDefault();
      setOpen(false);
    });
    if (location.hash === "#TOC") setOpen(true);
    document.addEventListener("click", function (e) {
      if (body.classList.contains("toc-open") && !nav.contains(e.target) && !toggle.contains(e.target))
        setOpen(false);
    });
  }

  /* The section being read, marked in the contents. */
  var links = nav ? Array.prototype.slice.call(nav.querySelectorAll("a[data-id]")) : [];
  var spots = links.map(function (a) {
    return { link: a, el: document.getElementById(a.getAttribute("data-id")) };
  }).filter(function (s) { return s.el && s.el.tagName === "SECTION"; });
  var active = null;
  function mark() {
    var line = window.innerHeight * 0.25, now = null;
    spots.forEach(function (s) { if (s.el.getBoundingClientRect().top <= line) now = s; });
    var end = document.documentElement;   /* at the very bottom, the last section */
    if (end.scrollTop > 0 && end.scrollTop + window.innerHeight >= end.scrollHeight - 2) now = spots[spots.length - 1];
    if (!now && spots.length) now = spots[0];
    if (!now || now === active) return;
    if (active) active.link.classList.remove("active");
    now.link.classList.add("active");
    active = now;
    if (body.classList.contains("one-page")) {
      var li = now.link.closest("li.chapter");
      nav.querySelectorAll("li.chapter.current").forEach(function (c) {
        if (c !== li) { c.classList.remove("current"); c.firstElementChild.removeAttribute("aria-current"); }
      });
      if (li) li.classList.add("current");
    }
    var r = now.link.getBoundingClientRect(), n = nav.getBoundingClientRect();
    if (nav.scrollHeight > nav.clientHeight && (r.top < n.top + 40 || r.bottom > n.bottom - 40))
      nav.scrollTop += r.top - n.top - nav.clientHeight / 3;
  }
  if (spots.length && "IntersectionObserver" in window) {
    var io = new IntersectionObserver(mark, { rootMargin: "0px 0px -75% 0px" });
    spots.forEach(function (s) {
      var h = s.el.querySelector("h1, h2, h3, h4, h5, h6");
      io.observe(h || s.el);
    });
    window.addEventListener("hashchange", mark);
    mark();
  }

  /* Search. */
  var box = document.querySelector(".search");
  var input = document.getElementById("search-input");
  var list = document.getElementById("search-results");
  if (!box || !input || !list) return;
  box.hidden = false;
  var index = null, loading = false, hits = [], sel = -1;

  function load(then) {
    if (index) return then();
    if (window.KVMLABS_SEARCH) { index = kvmPrepare(window.KVMLABS_SEARCH); return then(); }
    if (loading) return;
    loading = true;
    var s = document.createElement("script");
    s.src = "search-index.js";
    s.onload = function () { index = kvmPrepare(window.KVMLABS_SEARCH); then(); };
    s.onerror = function () { show([], "The search index (search-index.js) could not be loaded."); };
    document.head.appendChild(s);
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }
  function show(found, message) {
    list.textContent = "";
    hits = found;
    sel = found.length ? 0 : -1;
    if (message) list.appendChild(el("p", "search-none", message));
    found.forEach(function (h, i) {
      var s = h.entry.s, a = el("a", "hit");
      a.href = s.p + (s.a ? "#" + s.a : "");
      a.id = "hit-" + i;
      a.setAttribute("role", "option");
      var t = el("span", "hit-title");
      if (s.n) t.appendChild(el("span", "hit-num", s.n + " "));
      t.appendChild(document.createTextNode(s.t));
      a.appendChild(t);
      if (s.a) a.appendChild(el("span", "hit-where", h.entry.chapter));
      var snip = el("span", "hit-text");
      kvmSnippet(s.x || s.k, input.value, 150).forEach(function (part, j) {
        snip.appendChild(j % 2 ? el("mark", "", part) : document.createTextNode(part));
      });
      a.appendChild(snip);
      a.addEventListener("mousemove", function () { select(i); });
      list.appendChild(a);
    });
    var open = !!(found.length || message);
    list.hidden = !open;
    input.setAttribute("aria-expanded", open ? "true" : "false");
    select(sel);
  }
  function select(i) {
    var items = list.querySelectorAll(".hit");
    items.forEach(function (a, j) { a.classList.toggle("selected", j === i); a.setAttribute("aria-selected", j === i); });
    sel = i;
    if (items[i]) { input.setAttribute("aria-activedescendant", items[i].id); items[i].scrollIntoView({ block: "nearest" }); }
    else input.removeAttribute("aria-activedescendant");
  }
  function run() {
    var q = input.value.trim();
    if (!q) return show([]);
    load(function () {
      var found = kvmSearch(index, input.value, 12);
      show(found, found.length ? "" : "No section matches “" + q + "”.");
    });
  }
  input.addEventListener("input", run);
  list.addEventListener("click", function () { list.hidden = true; input.blur(); });
  input.addEventListener("focus", function () { load(function () {}); if (input.value.trim()) run(); });
  input.addEventListener("keydown", function (e) {
    if (e.key === "ArrowDown" && hits.length) { e.preventDefault(); select((sel + 1) % hits.length); }
    else if (e.key === "ArrowUp" && hits.length) { e.preventDefault(); select((sel - 1 + hits.length) % hits.length); }
    else if (e.key === "Enter") { e.preventDefault(); var a = list.querySelectorAll(".hit")[sel]; if (a) { list.hidden = true; location.href = a.href; } }
    else if (e.key === "Escape") { if (input.value) { input.value = ""; show([]); } else input.blur(); }
  });
  document.addEventListener("keydown", function (e) {
    var t = e.target.tagName;
    if (e.key === "/" && t !== "INPUT" && t !== "TEXTAREA" && !e.ctrlKey && !e.metaKey && !e.altKey) {
      e.preventDefault(); input.focus(); input.select();
    } else if (e.key === "Escape" && body.classList.contains("toc-open")) setOpen(false);
  });
  document.addEventListener("click", function (e) { if (!box.contains(e.target)) list.hidden = true; });
  var q = new URLSearchParams(location.search).get("q");
  if (q) { input.value = q; run(); }
})();
