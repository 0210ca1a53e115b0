// Loads each page in headless Chromium and reports, as one JSON document on stdout:
// axe-core violations for WCAG 2.1 A and AA, signs of script execution (XSS), requests to
// other origins, console errors, and the path of a screenshot when asked for one.
//
// Usage: node check.mjs SPEC.json   where SPEC is
//   { "chromium": "/usr/bin/chromium",
//     "pages": [ { "url": "http://127.0.0.1:PORT/", "screenshot": "/path/file.png",
//                  "headers": { "Accept-Language": "en" } } ] }
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axePath = require.resolve("axe-core/axe.min.js");
const spec = JSON.parse(readFileSync(process.argv[2], "utf8"));

const browser = await chromium.launch({
  executablePath: spec.chromium || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
});
const results = [];
try {
  for (const p of spec.pages) {
    // bypassCSP lets us inject axe-core; the page's own CSP is checked separately below.
    const context = await browser.newContext({
      bypassCSP: true,
      extraHTTPHeaders: p.headers || {},
      viewport: { width: 1280, height: 900 },
    });
    const page = await context.newPage();
    const origin = new URL(p.url).origin;
    const foreign = [];
    const consoleErrors = [];
    const dialogs = [];
    page.on("request", (r) => {
      const u = r.url();
      if (!u.startsWith(origin) && !u.startsWith("data:")) foreign.push(u);
    });
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("dialog", async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    const response = await page.goto(p.url, { waitUntil: "load" });
    const status = response ? response.status() : 0;
    const csp = response ? response.headers()["content-security-policy"] || "" : "";
    // Anything that ran would have set one of these.
    const xss = await page.evaluate(() => ({
      flag: typeof window.__xss !== "undefined",
      scripts: document.querySelectorAll("script").length,
      handlers: [...document.querySelectorAll("*")]
        .flatMap((el) => [...el.attributes].map((a) => a.name))
        .filter((n) => n.startsWith("on")).length,
      jsLinks: [...document.querySelectorAll("[href],[src],[action]")]
        .map((el) => el.getAttribute("href") || el.getAttribute("src") || el.getAttribute("action"))
        .filter((v) => /^\s*javascript:/i.test(v)).length,
      title: document.title,
      lang: document.documentElement.lang,
      text: document.body.innerText,
    }));
    await page.addScriptTag({ path: axePath });
    const axe = await page.evaluate(async () => {
      const r = await window.axe.run(document, {
        runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] },
        resultTypes: ["violations"],
      });
      return r.violations.map((v) => ({
        id: v.id,
        impact: v.impact,
        help: v.help,
        nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5),
      }));
    });
    if (p.screenshot) await page.screenshot({ path: p.screenshot, fullPage: true });
    results.push({
      url: p.url,
      status,
      csp,
      violations: axe,
      xss,
      foreign,
      consoleErrors,
      dialogs,
      screenshot: p.screenshot || null,
    });
    await context.close();
  }
} finally {
  await browser.close();
}
process.stdout.write(JSON.stringify(results));
