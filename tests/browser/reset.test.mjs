// Password reset in headless Chromium, without a line of our JavaScript needed: "Forgot your
// password?" on the log-in page, the same neutral page for every login, the link from the mail
// (read from the mail folder, as an admin with no SMTP server would) opens the new-password
// form, and the member ends signed in. axe-core finds nothing in English, Spanish and Hindi,
// and nothing is wider than 320 px at normal and double text size.
// Run: cargo build --bin mutual && node --test --test-concurrency=1 reset.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { startServer, launch, newPage, axe } from "./harness.mjs";

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
/** A member with an e-mail address, made through the API. */
async function member(locale = "en") {
  const username = `pw${Date.now() % 1e6}${counter++}`;
  await server.api("POST", "/api/v1/auth/register", null, {
    username, password: "green-kettle-river-42", email: `${username}@example.org`, locale,
  });
  return username;
}

/** A mail's headers and its parts, each decoded (base64 or quoted-printable) to text. */
function decodeMail(raw) {
  const text = raw.replace(/\r\n/g, "\n");
  const [head] = text.split("\n\n", 1);
  const boundary = (head.match(/boundary="?([^";\s]+)"?/) || [])[1];
  const parts = boundary ? text.split(`--${boundary}`).slice(1) : [];
  return [head, ...parts.map((part) => {
    const split = part.replace(/^\n/, "").indexOf("\n\n");
    const partHead = part.replace(/^\n/, "").slice(0, split);
    const body = part.replace(/^\n/, "").slice(split + 2);
    const encoding = (partHead.match(/content-transfer-encoding:\s*(\S+)/i) || [])[1]?.toLowerCase();
    if (encoding === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
    if (encoding === "quoted-printable") {
      return Buffer.from(body.replace(/=\n/g, "").replace(/=([0-9A-F]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), "latin1").toString("utf8");
    }
    return body;
  })].join("\n");
}

/** The newest reset link in the mail folder for `username`, once it is there. */
async function linkFor(username, notThis = null) {
  const dir = path.join(server.dataDir, "mail");
  for (let i = 0; i < 200; i++) {
    const names = existsSync(dir) ? readdirSync(dir).filter((n) => n.endsWith(".eml")).sort() : [];
    for (const name of names.reverse()) {
      const mail = decodeMail(readFileSync(path.join(dir, name), "utf8"));
      if (!mail.includes(`${username}@example.org`)) continue;
      const m = mail.match(/https?:\/\/[^\s"<>]+\/password-reset\/[A-Za-z0-9_-]+/);
      if (m && m[0] !== notThis) return m[0];
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no reset mail for ${username}`);
}

/** Page problems, less the statuses shown on purpose (a refused form, a spent link). */
function problems(page) {
  return page.problems.filter((p) => !/status of (404|422)/.test(p));
}

async function ask(page, login) {
  await page.goto(server.base + "/password-reset");
  await page.locator("#login").fill(login);
  await Promise.all([page.waitForLoadState("load"), page.locator("form[action='/password-reset'] button[type=submit]").click()]);
  await page.locator("h1").waitFor();
}

test("a member who forgot their password chooses a new one from the mailed link", async () => {
  const username = await member();
  const page = await newPage(browser);
  await page.goto(server.base + "/login");
  await Promise.all([page.waitForURL(server.base + "/password-reset"), page.getByRole("link", { name: "Forgot your password?" }).click()]);
  assert.deepEqual(await axe(page), [], "request form");
  await page.locator("#login").fill(username);
  await page.getByRole("button", { name: "Send me a link" }).click();
  await page.getByRole("heading", { name: "Check your mail" }).waitFor();
  await page.getByText("The link works for 30 minutes.").waitFor();
  assert.deepEqual(await axe(page), [], "the neutral page");

  const link = await linkFor(username);
  assert.ok(link.startsWith(server.base), link);
  await page.goto(link);
  await page.getByText(`This is for the account ${username}.`).waitFor();
  assert.deepEqual(await axe(page), [], "new password form");
  // Long enough for the browser's own check, too common for ours.
  await page.locator("#password").fill("password1234");
  await page.getByRole("button", { name: "Save my new password" }).click();
  await page.getByRole("alert").waitFor();
  assert.deepEqual(await axe(page), [], "new password form with an error");
  await page.locator("#password").fill("purple-lantern-orchard-7");
  await Promise.all([page.waitForURL(server.base + "/password-reset/done"), page.getByRole("button", { name: "Save my new password" }).click()]);
  await page.getByText("You are logged in now.", { exact: false }).waitFor();
  assert.deepEqual(await axe(page), [], "done page");
  // Signed in: the menu offers to log out.
  await page.getByRole("button", { name: /Log out/ }).waitFor();

  // The link is spent.
  await page.goto(link);
  await page.getByRole("heading", { name: "This link does not work any more" }).waitFor();
  assert.deepEqual(await axe(page), [], "spent link page");

  // Log in again with the new password.
  const fresh = await newPage(browser);
  await fresh.goto(server.base + "/login");
  await fresh.locator("#username").fill(username);
  await fresh.locator("#password").fill("purple-lantern-orchard-7");
  await Promise.all([fresh.waitForURL(server.base + "/"), fresh.locator("form[action='/login'] button[type=submit]").click()]);
  assert.deepEqual(problems(page), []);
  assert.deepEqual(problems(fresh), []);
});

test("every login gets the same page", async () => {
  const username = await member();
  const page = await newPage(browser);
  await ask(page, username);
  const known = await page.locator("main").innerText();
  await ask(page, "nobody-has-this-name");
  const unknown = await page.locator("main").innerText();
  assert.equal(known, unknown);
  assert.deepEqual(problems(page), []);
});

for (const [lang, title, sent] of [
  ["es", "Obtener una contraseña nueva", "Revisa tu correo"],
  ["hi", "नया पासवर्ड पाएँ", "अपना ईमेल देखें"],
]) {
  test(`the pages and the form in ${lang}, axe-clean`, async () => {
    const username = await member(lang);
    const page = await newPage(browser, { locale: lang });
    await page.goto(server.base + "/password-reset");
    await page.getByRole("heading", { name: title }).waitFor();
    assert.equal(await page.getAttribute("html", "lang"), lang);
    assert.deepEqual(await axe(page), [], `${lang} request form`);
    await ask(page, username);
    await page.getByRole("heading", { name: sent }).waitFor();
    assert.deepEqual(await axe(page), [], `${lang} neutral page`);
    await page.goto(await linkFor(username));
    await page.locator("#password").waitFor();
    assert.deepEqual(await axe(page), [], `${lang} new password form`);
    await page.goto(server.base + "/password-reset/not-a-real-token");
    assert.deepEqual(await axe(page), [], `${lang} spent link page`);
    assert.deepEqual(problems(page), []);
  });
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

test("nothing overflows sideways at 320 px, at normal and double text size", async () => {
  const username = await member();
  for (const size of ["100", "200"]) {
    const page = await newPage(browser, { viewport: { width: 320, height: 640 } });
    await page.context().addCookies([{ name: "mutual_text", value: size, url: server.base }]);
    const previous = size === "200" ? await linkFor(username) : null;
    await ask(page, username);
    await assertFits(page, `the neutral page at ${size} %`);
    const pages = ["/password-reset", new URL(await linkFor(username, previous)).pathname, "/password-reset/spent-token"];
    for (const where of pages) {
      await page.goto(server.base + where);
      await assertFits(page, `${where} at ${size} %`);
    }
    assert.deepEqual(problems(page), []);
  }
});
