// The installable site, "Listen" and local time in headless Chromium: the browser reads the
// manifest and the service worker takes over; offline, a topic read before still opens and an
// unread page shows the offline page (and after logging out nothing read is kept); the listen
// buttons read posts and live chat messages in the page's language; sign-up takes the browser's
// time zone (and asks for it without JavaScript); axe-core clean and nothing wider than 320 px,
// in Spanish and Hindi. Run: cargo build --bin mutual && node --test pwa.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

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

let counter = 0;
const fresh = (prefix) => `${prefix}${Date.now() % 1e6}${counter++}`;

/** The names of the caches the service worker keeps, and the topic pages among them. */
async function kept(page) {
  return page.evaluate(async () => {
    const names = await caches.keys();
    const topics = names.includes("mutual-topics-1")
      ? (await (await caches.open("mutual-topics-1")).keys()).map((r) => new URL(r.url).pathname)
      : [];
    return { names, topics };
  });
}

test("Chromium installs the site and reads topics offline", async () => {
  const base = server.base;
  const page = await newPage(browser);
  await signUp(page, base, fresh("off"), "es");

  // The manifest as Chromium parsed it: no errors, in the member's language.
  const cdp = await page.context().newCDPSession(page);
  const manifest = await cdp.send("Page.getAppManifest");
  assert.equal(manifest.url, base + "/manifest.webmanifest");
  assert.deepEqual(manifest.errors, []);
  const data = JSON.parse(manifest.data);
  assert.equal(data.lang, "es");
  assert.equal(data.display, "standalone");

  // The worker registers for the whole site and takes this page over.
  const scope = await page.evaluate(() => navigator.serviceWorker.ready.then((r) => r.scope));
  assert.equal(scope, base + "/");
  await page.waitForFunction(() => navigator.serviceWorker.controller !== null);

  // A topic read online is kept.
  const topic = `/t/${server.seededTopic}`;
  await page.goto(base + topic);
  await page.getByRole("heading", { name: "What do you eat for breakfast?" }).waitFor();
  for (let i = 0; i < 50 && !(await kept(page)).topics.includes(topic); i++) await page.waitForTimeout(100);
  const before = await kept(page);
  assert.deepEqual(before.topics, [topic]);
  const headerStyle = () => page.evaluate(() => getComputedStyle(document.querySelector("header.top")).backgroundColor);
  const online = await headerStyle();
  assert.notEqual(online, "rgba(0, 0, 0, 0)");
  assert.ok(before.names.some((n) => n.startsWith("mutual-shell-")), before.names.join());

  await page.context().setOffline(true);
  // The topic opens with no network, with its stylesheet.
  await page.goto(base + topic);
  await page.getByRole("heading", { name: "What do you eat for breakfast?" }).waitFor();
  assert.ok(await page.getByText("oats with nuts").isVisible());
  assert.equal(await headerStyle(), online, "the kept stylesheet applies");
  // A page never read: the offline page, in her language.
  await page.goto(base + `/t/${server.membersTopic}`);
  await page.getByRole("heading", { name: "Estás sin conexión" }).waitFor();
  await page.goto(base + "/groups");
  await page.getByRole("heading", { name: "Estás sin conexión" }).waitFor();
  assert.equal(await page.evaluate(() => document.documentElement.lang), "es");
  await page.context().setOffline(false);

  // Logging out forgets what she read: offline, the topic is gone too.
  await page.goto(base + "/");
  await Promise.all([page.waitForURL(base + "/"), page.locator("form[action='/logout'] button").click()]);
  const after = await kept(page);
  assert.deepEqual(after.topics, [], "nothing she read is kept after logging out");
  await page.context().setOffline(true);
  await page.goto(base + topic);
  // The visitor's browser speaks English: the offline page follows the last page shown.
  await page.getByRole("heading", { name: "You are offline" }).waitFor();
  await page.context().setOffline(false);

  // A visitor's topic pages are kept (what the server shows visitors), an error page is not.
  await page.goto(base + "/t/999999");
  await page.goto(base + topic);
  for (let i = 0; i < 50 && !(await kept(page)).topics.includes(topic); i++) await page.waitForTimeout(100);
  assert.deepEqual((await kept(page)).topics, [topic]);
  assert.deepEqual(page.problems, []);
});

/** Records what would be spoken instead of speaking (headless Chromium may have no voice). */
function stubSpeech() {
  window.__spoken = [];
  if (!window.SpeechSynthesisUtterance) {
    window.SpeechSynthesisUtterance = function (text) { this.text = text; this.lang = ""; };
  }
  const synth = window.speechSynthesis || {};
  synth.speak = (u) => window.__spoken.push({ text: u.text, lang: u.lang });
  synth.cancel = () => { window.__spoken.push({ cancelled: true }); };
  synth.getVoices = () => [];
  if (!window.speechSynthesis) Object.defineProperty(window, "speechSynthesis", { value: synth });
}

test("Listen reads a post and a live chat message aloud in the page's language", async () => {
  const base = server.base;
  const page = await newPage(browser);
  await page.addInitScript(stubSpeech);
  await signUp(page, base, fresh("oye"), "es");
  await page.goto(base + `/t/${server.seededTopic}`);
  const listen = page.locator("ol.posts li").first().getByRole("button", { name: "Escuchar" });
  await listen.waitFor();
  assert.equal(await listen.getAttribute("aria-pressed"), "false");
  await listen.click();
  assert.equal(await listen.getAttribute("aria-pressed"), "true");
  const spoken = await page.evaluate(() => window.__spoken);
  assert.equal(spoken.length, 1);
  assert.equal(spoken[0].lang, "es-MX");
  // The words as shown, not their markdown.
  assert.match(spoken[0].text, /oats with nuts/);
  assert.doesNotMatch(spoken[0].text, /\*\*/);
  // Pressed again, it stops.
  await listen.click();
  assert.equal(await listen.getAttribute("aria-pressed"), "false");
  assert.deepEqual((await page.evaluate(() => window.__spoken)).at(-1), { cancelled: true });

  // In chat, on a message that arrives over the socket.
  await page.goto(base + "/c/diabetes");
  await Promise.all([page.waitForURL(base + "/c/diabetes"), page.locator("form[action='/c/diabetes/join'] button").click()]);
  await page.goto(base + "/c/diabetes/chat");
  await page.locator("#chat-status", { hasText: /./ }).waitFor();
  await page.locator("#chat-body").fill("Caminé **media hora** hoy");
  await page.locator("#composer button[type=submit]").first().click();
  const live = page.locator("#messages li:not(.pending)", { hasText: "media hora" }).getByRole("button", { name: "Escuchar" });
  await live.waitFor();
  await live.click();
  assert.equal(await live.getAttribute("aria-pressed"), "true");
  const last = (await page.evaluate(() => window.__spoken)).at(-1);
  assert.deepEqual(last, { text: "Caminé media hora hoy", lang: "es-MX" });

  // In Hindi, the voice asked for is hi-IN.
  const hindi = await newPage(browser);
  await hindi.addInitScript(stubSpeech);
  await signUp(hindi, base, fresh("suno"), "hi");
  await hindi.goto(base + `/t/${server.seededTopic}`);
  await hindi.locator("ol.posts li").first().getByRole("button", { name: "सुनें" }).click();
  assert.equal((await hindi.evaluate(() => window.__spoken))[0].lang, "hi-IN");
  assert.deepEqual(page.problems, []);
  assert.deepEqual(hindi.problems, []);
});

test("no button where the browser cannot speak", async () => {
  const page = await newPage(browser);
  await page.addInitScript(() => {
    Object.defineProperty(window, "speechSynthesis", { value: undefined });
  });
  await page.goto(server.base + `/t/${server.seededTopic}`);
  await page.getByRole("heading", { name: "What do you eat for breakfast?" }).waitFor();
  assert.equal(await page.locator("button.listen").count(), 0);
});

test("sign-up takes the browser's time zone, and asks for it without JavaScript", async () => {
  const base = server.base;
  const page = await newPage(browser, { timezoneId: "Asia/Kolkata" });
  await page.goto(base + "/register");
  // Chromium still says Kolkata's old name (ICU); the server keeps today's.
  const sent = await page.locator("input[name=browser_timezone]").inputValue();
  assert.ok(["Asia/Kolkata", "Asia/Calcutta"].includes(sent), sent);
  assert.equal(await page.locator("select#timezone").count(), 0, "no select while the script knows");
  await signUp(page, base, fresh("tz"), "en");
  await page.goto(base + "/settings");
  assert.equal(await page.locator("select#timezone").inputValue(), "Asia/Kolkata");

  const noJs = await newPage(browser, { javaScriptEnabled: false, locale: "es-MX" });
  await noJs.goto(base + "/register");
  const select = noJs.locator("select#timezone");
  assert.ok(await select.isVisible(), "the select shows without JavaScript");
  // Mexico's zones first, the Spanish-speaker's likely one chosen.
  assert.equal(await select.inputValue(), "America/Mexico_City");
  const groups = await select.locator("optgroup").evaluateAll((gs) => gs.map((g) => g.label));
  assert.deepEqual(groups.slice(0, 3), ["México", "Estados Unidos", "India"]);
  const name = fresh("sinjs");
  await noJs.locator("#username").fill(name);
  await noJs.locator("#password").fill(PASSWORD);
  await select.selectOption("America/Monterrey");
  await Promise.all([noJs.waitForURL(base + "/"), noJs.locator("form[action='/register'] button[type=submit]").click()]);
  await noJs.goto(base + "/settings");
  assert.equal(await noJs.locator("select#timezone").inputValue(), "America/Monterrey");
});

test("axe-core clean and 320 px wide, in Spanish and Hindi", async () => {
  const base = server.base;
  const found = [];
  for (const lang of ["es", "hi"]) {
    const page = await newPage(browser, { viewport: { width: 320, height: 640 } });
    await page.addInitScript(stubSpeech);
    // The organiser runs the groups: the sessions page with its zone picker.
    await page.goto(base + "/login");
    await page.locator("#username").fill("organiser");
    await page.locator("#password").fill(PASSWORD);
    await Promise.all([page.waitForURL((u) => !u.pathname.startsWith("/login")), page.locator("form[action^='/login'] button[type=submit]").click()]);
    await page.goto(base + "/settings");
    await page.locator(`input[name=locale][value="${lang}"]`).check();
    await Promise.all([page.waitForURL(/saved=1/), page.locator("form[action='/settings'] button[type=submit]").click()]);
    const visitor = await newPage(browser, { viewport: { width: 320, height: 640 }, locale: lang });
    const pages = [
      [page, `/t/${server.seededTopic}`],
      [page, "/c/diabetes/chat"],
      [page, "/organise/diabetes/sessions"],
      [page, `/offline?lang=${lang}`],
      [visitor, "/register"],
    ];
    for (const [p, path] of pages) {
      await p.goto(base + path);
      assert.equal(await p.evaluate(() => document.documentElement.lang), lang, path);
      if (path.startsWith("/t/")) await p.locator("button.listen").first().waitFor();
      const width = await p.evaluate(() => document.documentElement.scrollWidth);
      assert.ok(width <= 320, `${path} in ${lang}: ${width} px wide`);
      for (const v of await axe(p)) found.push(`${lang} ${path}: ${v.id} (${v.impact}) ${v.help} ${v.nodes.join(", ")}`);
    }
    assert.deepEqual(page.problems, []);
    assert.deepEqual(visitor.problems, []);
  }
  assert.deepEqual(found, []);
});
