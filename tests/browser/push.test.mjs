// "Notifications on this device" on the settings page, in headless Chromium, in Spanish and
// Hindi at 320 px: with JavaScript the browser's push support shows the button (and pressing it
// asks for permission and says what came of it); without JavaScript (our script blocked), or in
// a browser without Web Push, the section explains that this device can't receive them. axe-core finds nothing either way. A full
// subscription needs a browser push service, which headless Chromium does not have: the
// delivery itself is tested in tests/server/push.rs with a local push endpoint.
// Run: cargo build --bin mutual && node --test --test-concurrency=1 push.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

const narrow = { viewport: { width: 320, height: 640 } };

const WORDS = {
  es: {
    title: "Notificaciones en este aparato",
    turnOn: "Activar notificaciones en este aparato",
    unsupported: "Este aparato no puede recibir notificaciones de Mutual",
    outcomes: [
      "Este navegador está bloqueando las notificaciones de este sitio.",
      "No funcionó. Por favor, inténtalo más tarde.",
    ],
  },
  hi: {
    title: "इस डिवाइस पर सूचनाएँ",
    turnOn: "इस डिवाइस पर सूचनाएँ चालू करें",
    unsupported: "यह डिवाइस Mutual की सूचनाएँ नहीं पा सकता",
    outcomes: [
      "यह ब्राउज़र इस साइट की सूचनाएँ रोक रहा है।",
      "यह नहीं हो पाया। कृपया थोड़ी देर बाद फिर कोशिश करें।",
    ],
  },
};

async function fitsAt320(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `${what}: ${width} px wide at 320 px`);
}

async function noViolations(page, what) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `${what}: ${JSON.stringify(violations, null, 1)}`);
}

let counter = 0;

for (const lang of ["es", "hi"]) {
  const w = WORDS[lang];

  test(`with JavaScript, the section offers the button (${lang})`, async () => {
    // Permission granted up front: headless Chromium shows no prompt to answer.
    const page = await newPage(browser, { ...narrow, permissions: ["notifications"] });
    await signUp(page, server.base, `push${lang}${counter++}`, lang);
    await page.goto(server.base + "/settings");
    assert.equal(await page.locator("html").getAttribute("lang"), lang);
    await page.getByRole("heading", { name: w.title }).waitFor();
    const button = page.getByRole("button", { name: w.turnOn });
    await button.waitFor();
    assert.equal(await page.getByText(w.unsupported).isVisible(), false, "the no-JS explanation gives way");
    assert.deepEqual(page.problems, []);
    await fitsAt320(page, `/settings (${lang})`);
    await noViolations(page, `/settings with the push section (${lang})`);

    // Headless Chromium has no push service (and this branch no /sw.js yet): pressing the
    // button must still end in words the member can read, never silence.
    await button.click();
    const status = page.locator("#push-status");
    await page.waitForFunction((texts) => texts.includes(document.getElementById("push-status").textContent), w.outcomes);
    assert.ok(w.outcomes.includes(await status.textContent()));
    assert.equal(await button.isVisible(), true, "still offered, to try again");
    await noViolations(page, `/settings after pressing the button (${lang})`);
  });

  test(`without JavaScript, or without push, the section explains this device can't receive them (${lang})`, async () => {
    // axe needs JavaScript to run, so "without JavaScript" is the page without our script:
    // what a browser with JavaScript off gets from the server.
    const page = await newPage(browser, narrow);
    await page.route("**/site.js", (route) => route.abort());
    await signUp(page, server.base, `nojs${lang}${counter++}`, lang);
    await page.goto(server.base + "/settings");
    await page.getByRole("heading", { name: w.title }).waitFor();
    assert.equal(await page.getByText(w.unsupported).isVisible(), true);
    assert.equal(await page.getByRole("button", { name: w.turnOn }).count(), 0, "no button that could not work");
    await fitsAt320(page, `/settings without JavaScript (${lang})`);
    await noViolations(page, `/settings without JavaScript (${lang})`);

    // A browser with JavaScript but no Web Push keeps the explanation too.
    const old = await newPage(browser, narrow);
    await old.addInitScript(() => { delete window.PushManager; });
    await signUp(old, server.base, `nopush${lang}${counter++}`, lang);
    await old.goto(server.base + "/settings");
    await old.getByRole("heading", { name: w.title }).waitFor();
    assert.equal(await old.getByText(w.unsupported).isVisible(), true);
    assert.equal(await old.getByRole("button", { name: w.turnOn }).count(), 0);
    assert.deepEqual(old.problems, []);
    await noViolations(old, `/settings without Web Push (${lang})`);
  });

}
