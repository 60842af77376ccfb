// E-mail alerts on the settings page, in headless Chromium (and once without JavaScript): set an
// address and see it "not confirmed", confirm it from the mailed link (the link page asks with a
// button), choose a weekly summary and the kinds, change the password. The unsubscribe page of
// a mail's link asks before it changes anything. axe-core finds nothing in English, Spanish and
// Hindi, and nothing is wider than 320 px.
// Run: cargo build --bin mutual && node --test --test-concurrency=1 email.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer({ MUTUAL_JOB_INTERVAL_SECS: "1" });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A mail's text, its parts decoded (base64 or quoted-printable). */
function decodeMail(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const [head] = text.split("\n\n", 1);
  const boundary = (head.match(/boundary="?([^";\s]+)"?/) || [])[1];
  const parts = boundary ? text.split(`--${boundary}`).slice(1) : [];
  return [head, ...parts.map((part) => {
    const p = part.replace(/^\n/, "");
    const split = p.indexOf("\n\n");
    const partHead = p.slice(0, split);
    const body = p.slice(split + 2);
    const encoding = (partHead.match(/content-transfer-encoding:\s*(\S+)/i) || [])[1]?.toLowerCase();
    if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    if (encoding === "quoted-printable") {
      return Buffer.from(body.replace(/=\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");
    }
    return body;
  })].join("\n");
}

/** The verification link mailed to `address`, once it is there. */
async function verifyLink(address) {
  const dir = path.join(server.dataDir, "mail");
  for (let i = 0; i < 200; i++) {
    const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith("-email_verify.eml")).sort() : [];
    for (const name of names.reverse()) {
      const mail = decodeMail(readFileSync(path.join(dir, name), "utf8"));
      if (!mail.includes(address)) continue;
      const m = mail.match(/https?:\/\/[^\s"<>]+\/verify-email\/[A-Za-z0-9_-]+/);
      if (m) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no verification mail to ${address}`);
}

function problems(page) {
  return page.problems.filter((p) => !/status of (404|422)/.test(p));
}

async function submit(page, action, label) {
  await Promise.all([
    page.waitForLoadState("load"),
    page.locator(`form[action='${action}'] button[type=submit]`, { hasText: label }).click(),
  ]);
}

async function assertFits(page, label) {
  const [width, wide] = await page.evaluate(() => [
    document.documentElement.scrollWidth,
    [...document.querySelectorAll("body *")]
      .filter((el) => el.getBoundingClientRect().right > 321)
      .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${(el.textContent || "").trim().slice(0, 30)}`)
      .slice(0, 5),
  ]);
  assert.ok(width <= 320, `${label}: ${width} px wide; ${wide.join(" | ")}`);
}

const WORDS = {
  en: { title: "E-mail alerts", save: "Save address", notVerified: "Not confirmed yet", verified: "Confirmed", weekly: "A summary every week (Monday, 8:00)", choices: "Save e-mail choices", saved: "Your e-mail choices are saved.", confirm: "Confirm my address", done: "Address confirmed", password: "Change password", changed: "Your password is changed", wrong: "The current password is wrong." },
  es: { title: "Avisos por correo", save: "Guardar dirección", notVerified: "Sin confirmar", verified: "Confirmado", weekly: "Un resumen cada semana (lunes, 8:00)", choices: "Guardar opciones de correo", saved: "Tus opciones de correo se guardaron.", confirm: "Confirmar mi dirección", done: "Dirección confirmada", password: "Cambiar contraseña", changed: "Tu contraseña cambió", wrong: "La contraseña actual no es correcta." },
  hi: { title: "ई-मेल से सूचनाएँ", save: "पता सहेजें", notVerified: "अभी पक्का नहीं हुआ", verified: "पक्का हो गया", weekly: "हर हफ़्ते एक सारांश (सोमवार, 8:00)", choices: "ई-मेल की पसंद सहेजें", saved: "आपकी ई-मेल की पसंद सहेज ली गई है।", confirm: "मेरा पता पक्का करें", done: "पता पक्का हो गया", password: "पासवर्ड बदलें", changed: "आपका पासवर्ड बदल गया है", wrong: "मौजूदा पासवर्ड गलत है।" },
};

let counter = 0;
for (const lang of ["en", "es", "hi"]) {
  test(`e-mail alerts and the password in settings (${lang}), axe-clean at 320 px`, async () => {
    const w = WORDS[lang];
    const username = `mail${lang}${Date.now() % 1e5}${counter++}`;
    const address = `${username}@example.org`;
    const page = await newPage(browser, { locale: lang, viewport: { width: 320, height: 640 } });
    await signUp(page, server.base, username, lang);
    await page.goto(server.base + "/settings");
    assert.equal(await page.getAttribute("html", "lang"), lang);
    await page.getByRole("heading", { name: w.title }).waitFor();
    assert.deepEqual(await axe(page), [], `${lang} settings`);
    await assertFits(page, `${lang} settings`);

    // The address: saved, not confirmed yet.
    await page.locator("#email-address").fill(address);
    await submit(page, "/settings/email", w.save);
    await page.locator("#email-status", { hasText: w.notVerified }).waitFor();
    assert.equal(await page.locator("#email-address").inputValue(), address);
    assert.ok(await page.locator("form[action='/settings/email/resend'] button").isVisible(), "send again");
    assert.deepEqual(await axe(page), [], `${lang} settings, address saved`);

    // A weekly summary, without mentions.
    await page.getByLabel(w.weekly).check();
    await page.locator("input[name=kinds][value=mention]").uncheck();
    await submit(page, "/settings/delivery", w.choices);
    await page.getByText(w.saved).waitFor();
    assert.ok(await page.getByLabel(w.weekly).isChecked());
    assert.equal(await page.locator("input[name=kinds][value=mention]").isChecked(), false);
    assert.equal(await page.locator("input[name=kinds][value=reply]").isChecked(), true);

    // The link from the mail asks, then confirms.
    const link = await verifyLink(address);
    await page.goto(link);
    assert.deepEqual(await axe(page), [], `${lang} verify page`);
    await assertFits(page, `${lang} verify page`);
    await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: w.confirm }).click()]);
    await page.getByRole("heading", { name: w.done }).waitFor();
    assert.deepEqual(await axe(page), [], `${lang} verified page`);
    await page.goto(server.base + "/settings");
    await page.locator("#email-status", { hasText: w.verified }).waitFor();
    assert.equal(await page.locator("form[action='/settings/email/resend']").count(), 0);

    // The password: a wrong current one is refused, a right one changes it.
    await page.locator("#password-current").fill("not-my-password-at-all");
    await page.locator("#password-new").fill("purple-lantern-orchard-7");
    await submit(page, "/settings/password", w.password);
    await page.getByRole("alert").getByText(w.wrong).waitFor();
    assert.deepEqual(await axe(page), [], `${lang} password refused`);
    await page.locator("#password-current").fill(PASSWORD);
    await page.locator("#password-new").fill("purple-lantern-orchard-7");
    await submit(page, "/settings/password", w.password);
    await page.getByText(w.changed).waitFor();
    assert.deepEqual(await axe(page), [], `${lang} password changed`);
    await assertFits(page, `${lang} settings at the end`);
    const { token } = await server.api("POST", "/api/v1/auth/login", null, { username, password: "purple-lantern-orchard-7" });
    const d = await server.api("GET", "/api/v1/me/delivery", token);
    assert.equal(d.email, "weekly");
    assert.equal(d.verified, true);
    assert.equal(d.kinds.mention, false);
    assert.deepEqual(problems(page), []);
  });
}

test("the e-mail section works without JavaScript", async () => {
  // axe needs JavaScript, so this pass only checks that the plain forms do the work.
  const w = WORDS.en;
  const username = `nojs${Date.now() % 1e5}`;
  const address = `${username}@example.org`;
  const page = await newPage(browser, { javaScriptEnabled: false });
  await signUp(page, server.base, username, "en");
  await page.goto(server.base + "/settings");
  await page.locator("#email-address").fill(address);
  await submit(page, "/settings/email", w.save);
  await page.locator("#email-status", { hasText: w.notVerified }).waitFor();
  await page.getByLabel(w.weekly).check();
  await submit(page, "/settings/delivery", w.choices);
  await page.getByText(w.saved).waitFor();
  const link = await verifyLink(address);
  await page.goto(link);
  await Promise.all([page.waitForLoadState("load"), page.getByRole("button", { name: w.confirm }).click()]);
  await page.getByRole("heading", { name: w.done }).waitFor();
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD });
  const d = await server.api("GET", "/api/v1/me/delivery", token);
  assert.equal(d.email, "weekly");
  assert.equal(d.verified, true);
});

test("an unsubscribe link that does not work says so, axe-clean in three languages", async () => {
  for (const lang of ["en", "es", "hi"]) {
    const page = await newPage(browser, { locale: lang, viewport: { width: 320, height: 640 } });
    const res = await page.goto(server.base + "/unsubscribe/not-a-real-token");
    assert.equal(res.status(), 404);
    assert.equal(await page.getAttribute("html", "lang"), lang);
    assert.deepEqual(await axe(page), [], `${lang} unsubscribe page`);
    await assertFits(page, `${lang} unsubscribe page`);
  }
});
