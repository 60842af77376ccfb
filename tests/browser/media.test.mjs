// Photos and voice notes in headless Chromium (issue 21): a photo uploaded from the reply form
// with its alt text, a "before and after" photo blurred until tapped, a voice note recorded in
// the composer (a fake microphone) and played with the native <audio> element, axe-core with
// zero violations in English, Spanish and Hindi, and nothing wider than 320 px.
// Run: cargo build --bin mutual && node --test --test-concurrency=1 media.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { startServer, newPage, axe, signUp, CHROMIUM } from "./harness.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const VOICE = readFileSync(path.join(here, "..", "fixtures", "voice-3s.webm"));

let server;
let browser;
let topic;

/** A JPEG of `w` × `h` drawn by the browser itself. */
async function jpeg(page, w, h) {
  const b64 = await page.evaluate(([w, h]) => {
    const c = document.createElement("canvas");
    c.width = w; c.height = h;
    const g = c.getContext("2d");
    g.fillStyle = "#3a7"; g.fillRect(0, 0, w, h);
    g.fillStyle = "#fd3"; g.fillRect(w / 4, h / 4, w / 2, h / 2);
    return c.toDataURL("image/jpeg", 0.8).split(",")[1];
  }, [w, h]);
  return Buffer.from(b64, "base64");
}

async function uploadAsAdmin(bytes, type) {
  const res = await fetch(server.base + "/api/v1/media", {
    method: "POST",
    headers: { authorization: `Bearer ${server.adminToken}`, "content-type": type },
    body: bytes,
  });
  const text = await res.text();
  assert.equal(res.status, 201, text);
  return JSON.parse(text);
}

before(async () => {
  server = await startServer();
  // A fake microphone, so MediaRecorder records without a device or a permission prompt.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream", "--autoplay-policy=no-user-gesture-required"],
  });
  const made = await server.api("POST", "/api/v1/communities/diabetes/topics", server.adminToken, {
    title: "Show us your wins", body: "Photos welcome.",
  });
  topic = made.topic.id;
  const page = await newPage(browser);
  const photo = await uploadAsAdmin(await jpeg(page, 900, 600), "image/jpeg");
  await page.context().close();
  await server.api("POST", `/api/v1/topics/${topic}/posts`, server.adminToken, {
    body: "Before and after, one year apart.", content_warning: "photos",
    attachments: [{ id: photo.id, alt: "Two photos of the same person, one year apart" }],
  });
  const voice = await uploadAsAdmin(VOICE, "audio/webm;codecs=opus");
  await server.api("POST", `/api/v1/topics/${topic}/posts`, server.adminToken, {
    body: "A voice note for those who prefer listening.", attachments: [{ id: voice.id }],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

let counter = 0;
async function member(options = {}, language = "en") {
  const page = await newPage(browser, options);
  const name = `p${Date.now() % 1e6}${counter++}`;
  await signUp(page, server.base, name, language);
  await page.goto(server.base + "/c/diabetes");
  await Promise.all([page.waitForURL(server.base + "/c/diabetes"), page.locator("form[action$='/join'] button").first().click()]);
  return page;
}

test("a member uploads a photo with alt text from the reply form", async () => {
  const page = await member();
  await page.goto(`${server.base}/t/${topic}`);
  const photo = await jpeg(page, 1200, 900);
  await page.locator("#file").setInputFiles({ name: "jeans.jpg", mimeType: "image/jpeg", buffer: photo });
  assert.equal(await page.locator("#alt").evaluate((e) => e.required), true, "a photo makes alt text required");
  await page.locator("#body").fill("Bought these jeans off the rack today!");
  await page.locator("#alt").fill("Blue jeans folded on a shop counter");
  await Promise.all([page.waitForURL(/\/t\/\d+/), page.getByRole("button", { name: "Send reply" }).click()]);
  const img = page.getByRole("img", { name: "Blue jeans folded on a shop counter" });
  await img.scrollIntoViewIfNeeded();
  await img.waitFor();
  assert.equal(await img.getAttribute("loading"), "lazy");
  assert.equal(await img.getAttribute("width"), "320");
  assert.equal(await img.getAttribute("height"), "240");
  await page.waitForFunction((alt) => {
    const i = document.querySelector(`img[alt="${alt}"]`);
    return i && i.complete && i.naturalWidth === 320;
  }, "Blue jeans folded on a shop counter");
  const full = await img.evaluate((e) => e.closest("a").href);
  const res = await page.request.get(full);
  assert.equal(res.status(), 200);
  assert.equal(res.headers()["content-type"], "image/jpeg");
  assert.deepEqual(page.problems, []);
});

test("a before-and-after photo stays blurred until tapped", async () => {
  const page = await member();
  await page.goto(`${server.base}/t/${topic}`);
  const details = page.locator("details.photo-cw").first();
  assert.equal(await details.evaluate((d) => d.open), false);
  const clear = page.getByRole("img", { name: "Two photos of the same person, one year apart" });
  assert.equal(await clear.isVisible(), false, "the clear photo is hidden");
  const blurred = details.locator(".blurred img");
  assert.match(await blurred.evaluate((i) => getComputedStyle(i).filter), /blur/);
  await details.locator("summary").click();
  await clear.waitFor({ state: "visible" });
  assert.equal(await details.evaluate((d) => d.open), true);
  assert.equal(await blurred.isVisible(), false);
  // And by keyboard: closed again with Enter on the summary.
  await details.locator("summary").focus();
  await page.keyboard.press("Enter");
  assert.equal(await details.evaluate((d) => d.open), false);
  assert.deepEqual(page.problems, []);
});

test("a voice note plays in the native audio element", async () => {
  const page = await member();
  await page.goto(`${server.base}/t/${topic}`);
  const audio = page.locator("audio[controls]").first();
  const src = await audio.getAttribute("src");
  assert.match(src, /^\/media\/\d+$/);
  const loaded = await audio.evaluate((a) => new Promise((resolve) => {
    a.addEventListener("loadedmetadata", () => resolve({ ok: true, state: a.readyState }), { once: true });
    a.addEventListener("error", () => resolve({ ok: false, code: a.error && a.error.code }), { once: true });
    a.preload = "auto";
    a.load();
  }));
  assert.equal(loaded.ok, true, JSON.stringify(loaded));
  assert.ok(loaded.state >= 1);
  const played = await audio.evaluate(async (a) => { await a.play(); await new Promise((r) => setTimeout(r, 600)); a.pause(); return a.currentTime; });
  assert.ok(played > 0.1, `played ${played} s`);
  assert.deepEqual(page.problems, []);
});

test("a voice note recorded in the composer is posted and plays", async () => {
  const page = await member();
  await page.goto(`${server.base}/t/${topic}`);
  const record = page.locator("fieldset[data-media] .recorder button");
  await record.click();
  await page.locator("fieldset[data-media] [role=status]").filter({ hasText: /0:0[1-9]/ }).waitFor();
  await record.click();
  await page.waitForFunction(() => document.querySelector("#file").files.length === 1);
  assert.equal(await page.locator("#alt").evaluate((e) => e.required), false, "no alt text needed for sound");
  await page.locator("#body").fill("Hola a todos, les mando un saludo.");
  await Promise.all([page.waitForURL(/\/t\/\d+/), page.getByRole("button", { name: "Send reply" }).click()]);
  const audio = page.locator("audio[controls]").last();
  const ok = await audio.evaluate((a) => new Promise((resolve) => {
    a.addEventListener("loadedmetadata", () => resolve(true), { once: true });
    a.addEventListener("error", () => resolve(false), { once: true });
    a.preload = "auto";
    a.load();
  }));
  assert.equal(ok, true);
  assert.deepEqual(page.problems, []);
});

test("a voice note recorded in chat arrives with an audio player", async () => {
  const page = await member();
  await page.goto(`${server.base}/c/diabetes/chat`);
  await page.locator("#chat-status, #chat-online").first().waitFor({ state: "attached" });
  const record = page.locator("#composer .recorder button");
  await record.waitFor();
  // Wait for the socket before recording (the recording is sent over it).
  await page.waitForFunction(() => !document.querySelector("#chat-status") || !/offline/i.test(document.querySelector("#chat-status").textContent));
  await page.waitForTimeout(500);
  await record.click();
  await page.locator("#composer [role=status]").filter({ hasText: /0:0[1-9]/ }).waitFor();
  await record.click();
  const audio = page.locator("#messages li audio[controls]").last();
  await audio.waitFor({ state: "attached", timeout: 15000 });
  assert.match(await audio.getAttribute("src"), /^\/media\/\d+$/);
  const ok = await audio.evaluate((a) => new Promise((resolve) => {
    a.addEventListener("loadedmetadata", () => resolve(true), { once: true });
    a.addEventListener("error", () => resolve(false), { once: true });
    a.preload = "auto";
    a.load();
  }));
  assert.equal(ok, true);
  // Drawn by the server too, after a reload.
  await page.reload();
  await page.locator("#messages li audio[controls]").last().waitFor({ state: "attached" });
  assert.deepEqual(await axe(page), []);
  assert.deepEqual(page.problems, []);
});

for (const language of ["en", "es", "hi"]) {
  test(`the topic with photos and a voice note passes axe and fits 320 px (${language})`, async () => {
    const page = await member({ viewport: { width: 320, height: 640 } }, language);
    await page.goto(`${server.base}/t/${topic}`);
    assert.equal(await page.locator("html").getAttribute("lang"), language);
    const violations = await axe(page);
    assert.deepEqual(violations, [], JSON.stringify(violations, null, 1));
    await page.locator("details.photo-cw summary").first().click();
    assert.deepEqual(await axe(page), []);
    const width = await page.evaluate(() => document.documentElement.scrollWidth);
    assert.ok(width <= 320, `${width} px wide`);
    assert.deepEqual(page.problems, []);
  });
}
