// Moderation that decides, in a real browser at 320 px: a new member's first post waits (its
// author told so in Spanish), a moderator approves it and keeps the next one hidden from the
// queue; an appeal is restored by a second moderator (the first one reads why they cannot
// decide); a moderator mutes a member from their profile in Hindi. Every page passes axe-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

let server;
let browser;
const narrow = { viewport: { width: 320, height: 640 } };

before(async () => {
  server = await startServer({ MUTUAL_RATE_LIMITS: "on" });
  browser = await launch();
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function fitsAt320(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `${what}: ${width} px wide at 320 px`);
}

async function noViolations(page, what) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `${what}: ${JSON.stringify(violations, null, 1)}`);
}

async function login(page, username) {
  await page.goto(server.base + "/login");
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(PASSWORD);
  await Promise.all([page.waitForNavigation(), page.locator("form[action='/login'] button[type=submit]").click()]);
}

/** A member made through the API, joined to the diabetes group; their token. */
async function member(username) {
  await server.api("POST", "/api/v1/auth/register", null, { username, password: PASSWORD, health_data_consent: { version: "health-data-2026-12" } });
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD });
  await server.api("POST", "/api/v1/communities/diabetes/join", token);
  return token;
}

async function moderator(username) {
  const token = await member(username);
  await server.api("PUT", `/api/v1/communities/diabetes/roles/moderator/${username}`, server.adminToken);
  return token;
}

test("a new member's post waits; a moderator approves one and keeps the next hidden", async () => {
  await moderator("mod_uno");
  const author = await newPage(browser, narrow);
  await signUp(author, server.base, "nueva", "es");
  await author.goto(server.base + "/c/diabetes");
  await author.getByRole("button", { name: "Unirme", exact: true }).first().click();
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username: "nueva", password: PASSWORD });
  const first = await server.api("POST", "/api/v1/communities/diabetes/topics", token, { title: "Hola a todos", body: "mi primer mensaje" });
  await author.goto(`${server.base}/t/${first.topic.id}`);
  await author.getByText("normalmente en menos de 24 horas").waitFor();
  await fitsAt320(author, "the waiting post (es)");
  await noViolations(author, "the waiting post (es)");

  const mod = await newPage(browser, narrow);
  await login(mod, "mod_uno");
  // On a phone the cases waiting are in the folded menu.
  await mod.locator(".menu-toggle").first().click();
  await mod.getByRole("link", { name: /Cases waiting: 1/ }).click();
  await mod.getByText("First posts of a new member").first().waitFor();
  await fitsAt320(mod, "the queue");
  await noViolations(mod, "the queue");
  const card = mod.locator("li", { hasText: "mi primer mensaje" });
  await card.getByLabel("Reason (members will read it)").first().fill("welcome");
  await Promise.all([mod.waitForURL(/done=1/), card.getByRole("button", { name: "Approve and show it" }).click()]);
  await mod.getByText("Nothing is waiting").waitFor();

  const reply = await server.api("POST", `/api/v1/topics/${first.topic.id}/posts`, token, { body: "vendo pastillas" });
  await mod.goto(server.base + "/mod/diabetes");
  const next = mod.locator("li", { hasText: "vendo pastillas" });
  await next.getByLabel("Reason (members will read it)").first().fill("selling is not allowed");
  await Promise.all([mod.waitForURL(/done=1/), next.getByRole("button", { name: "Keep hidden" }).click()]);
  await author.goto(`${server.base}/t/${first.topic.id}`);
  await author.getByText("selling is not allowed").waitFor();
  assert.ok(reply.post.id > 0);
});

test("an appeal is restored by a second moderator; the first one reads why they cannot decide", async () => {
  const first = await moderator("mod_dos");
  await moderator("mod_tres");
  const writer = await member("escritor");
  // Past the new-member hold: two posts approved by the API.
  const topic = await server.api("POST", "/api/v1/communities/diabetes/topics", writer, { title: "Mi doctor", body: "mi doctor lo dijo" });
  const hide = await server.api("POST", "/api/v1/moderation/actions", first, {
    action: "hide", target: { type: "post", id: topic.post.id }, reason: "no source given",
  });
  await server.api("POST", "/api/v1/appeals", writer, { log_id: hide.log_id, text: "cité a mi propio doctor" });

  const one = await newPage(browser, narrow);
  await login(one, "mod_dos");
  await one.goto(server.base + "/mod/diabetes");
  const card = one.locator("li", { hasText: "cité a mi propio doctor" });
  await card.getByText("another moderator decides this appeal").waitFor();
  assert.equal(await card.getByRole("button", { name: "Undo the action" }).count(), 0);

  const two = await newPage(browser, narrow);
  await login(two, "mod_tres");
  await two.goto(server.base + "/mod/diabetes");
  const theirs = two.locator("li", { hasText: "cité a mi propio doctor" });
  await theirs.getByText("mi doctor lo dijo").waitFor();
  await noViolations(two, "the appeal card");
  await fitsAt320(two, "the appeal card");
  await theirs.getByLabel("Reason (members will read it)").first().fill("quoting a doctor is fine");
  await Promise.all([two.waitForURL(/done=1/), theirs.getByRole("button", { name: "Undo the action" }).click()]);
  const posts = await server.api("GET", `/api/v1/topics/${topic.topic.id}/posts`, server.adminToken);
  assert.equal(posts.items[0].body, "mi doctor lo dijo");
});

test("a moderator mutes a member from their profile, in Hindi", async () => {
  await moderator("mod_hindi");
  await server.api("PATCH", "/api/v1/me", (await server.api("POST", "/api/v1/auth/login", null, { username: "mod_hindi", password: PASSWORD })).token, { locale: "hi" });
  await member("zor_se");
  const page = await newPage(browser, narrow);
  await login(page, "mod_hindi");
  await page.goto(server.base + "/u/zor_se");
  assert.equal(await page.locator("html").getAttribute("lang"), "hi");
  await fitsAt320(page, "the profile (hi)");
  await noViolations(page, "the profile (hi)");
  await page.getByLabel("कितनी देर चुप रहें").selectOption("1440");
  await page.locator("input[name=reason]").fill("बहुत तीखी बातें");
  await Promise.all([page.waitForURL(/done=1/), page.getByRole("button", { name: "चुप कराएँ", exact: true }).click()]);
  await page.getByRole("status").waitFor();
});
