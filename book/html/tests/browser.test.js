#!/usr/bin/env node
/* The HTML site in a browser, as a reader uses it (needs chromium; node 22, or
 * node 20 with --experimental-websocket):
 *     node --experimental-websocket book/html/tests/browser.test.js build/book/html [SHOT_DIR]
 * Drives headless chromium over the DevTools protocol: the side bar at 1280 px
 * and the drawer at 400 px, the chapter and section marked while scrolling,
 * search by keyboard and by ?q=, the one-page book, and the site without
 * JavaScript. With SHOT_DIR, saves a PNG of each view there. */
"use strict";
const { spawn } = require("child_process");
const fs = require("fs");
const site = require("path").resolve(process.argv[2] || "build/book/html");
const shots = process.argv[3];
const port = 9333;
const chrome = spawn(process.env.CHROMIUM || "chromium", ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
  `--remote-debugging-port=${port}`, "--window-size=1280,900", "about:blank"], { stdio: "ignore" });
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
let ws, id = 0; const waiting = {}; const events = [];
function send(method, params = {}) {
  return new Promise((res, rej) => { const i = ++id; waiting[i] = { res, rej }; ws.send(JSON.stringify({ id: i, method, params })); });
}
async function ev(expr) {
  const r = await send("Runtime.evaluate", { expression: expr, returnByValue: true, awaitPromise: true });
  if (r.exceptionDetails) throw new Error(expr + ": " + JSON.stringify(r.exceptionDetails));
  return r.result.value;
}
async function size(w, h) { await send("Emulation.setDeviceMetricsOverride", { width: w, height: h, deviceScaleFactor: 1, mobile: false }); }
async function go(url) { await send("Page.navigate", { url: "file://" + site + "/" + url }); await sleep(900); }
async function shot(name) { if (!shots) return; const r = await send("Page.captureScreenshot", { format: "png" }); fs.writeFileSync(`${shots}/${name}.png`, Buffer.from(r.data, "base64")); }
async function key(k, code, text) {
  await send("Input.dispatchKeyEvent", { type: "keyDown", key: k, code: code || k, text, windowsVirtualKeyCode: { ArrowDown: 40, ArrowUp: 38, Enter: 13, Escape: 27, "/": 191 }[k] || 0 });
  await send("Input.dispatchKeyEvent", { type: "keyUp", key: k, code: code || k });
}
let fails = 0;
function check(what, ok, got) { console.log((ok ? "ok   " : "FAIL ") + what + (got !== undefined ? "  [" + JSON.stringify(got) + "]" : "")); if (!ok) fails++; }
const active = () => ev(`(document.querySelector('#TOC a.active')||{}).dataset?.id || null`);

(async () => {
  let list;
  for (let i = 0; i < 50; i++) { try { list = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json(); break; } catch (e) { await sleep(200); } }
  const page = list.find((t) => t.type === "page");
  ws = new WebSocket(page.webSocketDebuggerUrl);
  await new Promise((r) => (ws.onopen = r));
  ws.onmessage = (m) => { const d = JSON.parse(m.data); if (d.id && waiting[d.id]) { (d.error ? waiting[d.id].rej : waiting[d.id].res)(d.error || d.result); delete waiting[d.id]; } else events.push(d); };
  await send("Page.enable"); await send("Runtime.enable");

  // 1. wide: side bar, current chapter, section by scroll position
  await size(1280, 900);
  await go("sec-lab03.html#sec:smp");
  check("1280: contents visible as side bar", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "block");
  check("1280: toggle hidden", await ev(`getComputedStyle(document.querySelector('.toc-toggle')).display`) === "none");
  check("current chapter marked", await ev(`document.querySelector('#TOC li.current > a').dataset.id`) === "sec:lab03");
  let a = await active(); check("#sec:smp: active section", a === "sec:smp", a);
  await shot("smp-1280");
  await ev(`document.getElementById('sec:dirty-log').scrollIntoView(); 1`); await sleep(400);
  a = await active(); check("scrolled to dirty-log: active follows", a === "sec:dirty-log", a);
  await ev(`window.scrollTo(0, 0); 1`); await sleep(400);
  a = await active(); check("top of page: chapter active", a === "sec:lab03", a);
  await ev(`window.scrollTo(0, document.body.scrollHeight); 1`); await sleep(400);
  a = await active(); check("bottom of page: last section active", a !== "sec:lab03" && a !== null, a);
  await shot("bottom-1280");

  // 2. narrow: drawer
  await size(400, 850);
  await go("sec-lab02.html");
  check("400: contents hidden", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "none");
  await ev(`document.querySelector('.toc-toggle').click(); 1`); await sleep(200);
  check("400: button opens the drawer", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "block");
  check("aria-expanded", await ev(`document.querySelector('.toc-toggle').getAttribute('aria-expanded')`) === "true");
  await shot("drawer-400");
  await key("Escape"); await sleep(200);
  check("Escape closes the drawer", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "none");
  await ev(`document.querySelector('.toc-toggle').click(); 1`); await sleep(100);
  await ev(`document.querySelector('#TOC a[data-id="sec:paging"]').click(); 1`); await sleep(500);
  check("a link in the drawer closes it and goes there", await ev(`getComputedStyle(document.getElementById('TOC')).display === 'none' && location.hash === '#sec:paging'`));
  await shot("paging-400");

  await go("sec-lab04.html#TOC");
  check("JS, #TOC in the address: drawer open", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "block");
  await key("Escape"); await sleep(200);
  check("JS, #TOC: Escape closes it", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "none");
  await go("sec-lab04.html#sec:vm-exits");
  await ev(`document.querySelector('.toc-toggle').click(); 1`); await sleep(200);
  check("drawer opened scrolled to the active section", await ev(`(() => { const a = document.querySelector('#TOC a.active'), n = document.getElementById('TOC'); const r = a.getBoundingClientRect(); return r.top >= n.getBoundingClientRect().top && r.bottom <= innerHeight; })()`));
  check("page not scrolled by opening", await ev(`location.hash`) === "#sec:vm-exits");
  await shot("drawer-vmexits-400");
  await key("Escape");

  // 3. search by keyboard
  await size(1280, 900);
  await go("sec-intro.html");
  await key("/", "Slash", "/"); await sleep(100);
  check("/ focuses the search box", await ev(`document.activeElement.id`) === "search-input");
  await send("Input.insertText", { text: "kvm_set_sregs" }); await sleep(600);
  let hits = await ev(`[...document.querySelectorAll('#search-results .hit')].map(a => a.querySelector('.hit-title').textContent)`);
  check("results for kvm_set_sregs", hits.length > 0, hits.slice(0, 4));
  await shot("search-1280");
  await key("ArrowDown"); await sleep(100);
  const sel = await ev(`[...document.querySelectorAll('#search-results .hit')].findIndex(a => a.classList.contains('selected'))`);
  check("ArrowDown selects the second result", sel === 1, sel);
  const href = await ev(`document.querySelector('#search-results .hit.selected').getAttribute('href')`);
  await key("Enter"); await sleep(900);
  const loc = await ev(`location.pathname.split('/').pop() + location.hash`);
  check("Enter opens it", decodeURIComponent(loc) === href, [loc, href]);
  await go("index.html?q=vmxon%20vmcs");
  hits = await ev(`[...document.querySelectorAll('#search-results .hit')].map(a => a.querySelector('.hit-title').textContent)`);
  check("?q= pre-fills and searches", hits.length > 0, hits.slice(0, 3));
  await go("index.html?q=zzzyyqq");
  check("no match says so", (await ev(`document.getElementById('search-results').textContent`)).includes("No section"));
  await size(400, 850);
  await go("sec-lab01.html?q=memslot");
  await shot("search-400");

  // 4. one page: the chapter follows the scroll
  await size(1280, 900);
  await go("book.html");
  await ev(`document.getElementById('sec:gdt').scrollIntoView(); 1`); await sleep(400);
  check("book.html: chapter of the section marked", await ev(`document.querySelector('#TOC li.current > a').dataset.id`) === "sec:lab02");
  a = await active(); check("book.html: section marked", a === "sec:gdt", a);
  await shot("onepage-1280");

  // 5. without JavaScript
  await send("Emulation.setScriptExecutionDisabled", { value: true });
  await size(400, 850);
  await go("sec-lab04.html");
  check("no JS: search hidden", await ev(`getComputedStyle(document.querySelector('.search')).display`) === "none");
  check("no JS: contents hidden", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "none");
  await go("sec-lab04.html#TOC");
  check("no JS: #TOC shows the contents", await ev(`getComputedStyle(document.getElementById('TOC')).display`) === "block");
  await shot("nojs-toc-400");
  await send("Emulation.setScriptExecutionDisabled", { value: false });

  console.log(fails ? `browser: ${fails} check(s) failed` : "browser: ok");
  chrome.kill(); process.exit(fails ? 1 : 0);
})().catch((e) => { console.error(e); chrome.kill(); process.exit(2); });
