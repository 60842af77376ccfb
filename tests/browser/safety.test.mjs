// Issue 17 in a real browser at 320 px, the points the other files leave out:
// - detection: a Hinglish crisis post ("main marna chahta hoon") lands on the lines (Hindi page),
//   while "I want to diet before surgery" posts normally, visible to others, without lines;
// - an edit into a crisis lands on the lines (Spanish page);
// - a moderator with a page open gets a live alert for a new report, the urgent one for a
//   crisis, and the header's "Cases waiting" count follows (Spanish page);
// - personal identifiers: a phone number in chat (with JavaScript) is sent only after
//   confirming; a CURP in a bio and a phone number in a topic title are asked about first.
// Every page passes axe-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

let server;
let browser;
const narrow = { viewport: { width: 320, height: 640 } };

before(async () => {
  server = await startServer();
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

async function tokenOf(username) {
  return (await server.api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD })).token;
}

/** A member signed up through the form in `language`, joined to `group`; their page. */
async function member(username, language, group = "diabetes") {
  const page = await newPage(browser, narrow);
  await signUp(page, server.base, username, language);
  await server.api("POST", `/api/v1/communities/${group}/join`, await tokenOf(username));
  return page;
}

/** Posts a new topic through the form; resolves once the answer's page has loaded. */
async function newTopic(page, title, body, landing) {
  await page.goto(server.base + "/c/diabetes/new");
  await page.locator("#title").fill(title);
  await page.locator("#body").fill(body);
  await Promise.all([
    page.waitForURL(landing),
    page.locator("form[action='/c/diabetes/new'] button[type=submit]").first().click(),
  ]);
}

test("Hinglish crisis words show the lines; diet talk posts normally", async () => {
  const hindi = await member("arjun_safety", "hi");
  await newTopic(hindi, "Aaj ka din", "sach kahun to main marna chahta hoon", /crisis=1#crisis-lines$/);
  const panel = hindi.getByRole("alert").filter({ has: hindi.getByRole("heading", { name: "आप अभी किसी से बात कर सकते हैं" }) });
  await panel.waitFor();
  await panel.getByText("Tele-MANAS").waitFor();
  assert.equal(await hindi.evaluate(() => document.activeElement && document.activeElement.id), "crisis-lines");
  await fitsAt320(hindi, "the Hinglish crisis topic (hi)");
  await noViolations(hindi, "the Hinglish crisis topic (hi)");
  assert.deepEqual(hindi.problems, []);

  const english = await member("dana_diet", "en");
  await newTopic(english, "Before my sleeve surgery", "I want to diet before surgery. Any tips?", /\/t\/\d+$/);
  const topic = english.url();
  assert.equal(await english.locator("#crisis-lines").count(), 0);
  await english.getByText("I want to diet before surgery").waitFor();
  // Others see it: a visitor, and the group's list.
  const visitor = await newPage(browser, narrow);
  await visitor.goto(topic);
  await visitor.getByText("I want to diet before surgery").waitFor();
  assert.equal(await visitor.locator("#crisis-lines").count(), 0);
  await visitor.goto(server.base + "/c/diabetes");
  await visitor.getByRole("link", { name: "Before my sleeve surgery" }).waitFor();
  await noViolations(visitor, "the group with the diet topic");
  assert.deepEqual(english.problems, []);
  assert.deepEqual(visitor.problems, []);
});

test("editing a post into a crisis lands on the lines, in Spanish", async () => {
  const page = await member("sofia_edita", "es");
  await newTopic(page, "Mi semana", "Todo bien por aquí, caminé un poco.", /\/t\/\d+$/);
  await Promise.all([page.waitForURL(/\/p\/\d+\/edit$/), page.getByRole("link", { name: "Editar", exact: true }).click()]);
  await page.getByRole("heading", { name: "Editar tu publicación" }).waitFor();
  assert.equal(await page.locator("#body").inputValue(), "Todo bien por aquí, caminé un poco.");
  await fitsAt320(page, "the edit form (es)");
  await noViolations(page, "the edit form (es)");
  await page.locator("#body").fill("La verdad ya no quiero vivir.");
  await Promise.all([
    page.waitForURL(/crisis=1#crisis-lines$/),
    page.getByRole("button", { name: "Guardar cambios" }).click(),
  ]);
  const panel = page.getByRole("alert").filter({ has: page.getByRole("heading", { name: "Puedes hablar con alguien ahora" }) });
  await panel.waitFor();
  await panel.getByText("24 horas, todos los días").first().waitFor();
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "crisis-lines");
  await page.getByText("La verdad ya no quiero vivir.").waitFor();
  await fitsAt320(page, "the edited post with the lines (es)");
  await noViolations(page, "the edited post with the lines (es)");
  assert.deepEqual(page.problems, []);
});

test("a moderator with a page open hears of each new report, a crisis as urgent", async () => {
  await server.api("POST", "/api/v1/communities", server.adminToken, {
    slug: "alerts", name: "Hypertension circle", visibility: "public", description: "Blood pressure, day by day.",
  });
  await server.api("POST", "/api/v1/auth/register", null, {
    username: "mod_vivo", password: PASSWORD, locale: "es", health_data_consent: { version: "health-data-2026-12" },
  });
  await server.api("POST", "/api/v1/communities/alerts/join", await tokenOf("mod_vivo"));
  await server.api("PUT", "/api/v1/communities/alerts/roles/moderator/mod_vivo", server.adminToken);
  const joined = async (username) => {
    await server.api("POST", "/api/v1/auth/register", null, { username, password: PASSWORD, health_data_consent: { version: "health-data-2026-12" } });
    const token = await tokenOf(username);
    await server.api("POST", "/api/v1/communities/alerts/join", token);
    return token;
  };
  const writer = await joined("escribe_mucho");
  const reporter = await joined("mira_bien");

  const mod = await newPage(browser, narrow);
  await mod.goto(server.base + "/login");
  await mod.locator("#username").fill("mod_vivo");
  await mod.locator("#password").fill(PASSWORD);
  await Promise.all([mod.waitForNavigation(), mod.locator("form[action='/login'] button[type=submit]").click()]);
  await mod.goto(server.base + "/c/alerts");
  // Nothing waits yet: no count in the header; the socket is open.
  assert.equal(await mod.locator("header a.cases").count(), 0);
  await mod.locator("#case-alerts[data-live=on]").waitFor({ state: "attached" });

  const plain = await server.api("POST", "/api/v1/communities/alerts/topics", writer, { title: "Buy my pills", body: "cheap pills here, message me" });
  await server.api("POST", "/api/v1/reports", reporter, { target: { type: "post", id: plain.post.id }, reason: "spam" });
  const report = mod.locator(".case-alert", { hasText: "Nuevo reporte" });
  await report.waitFor();
  assert.equal(await report.getAttribute("role"), null, "a report waits its turn (polite)");
  assert.equal(await report.getByRole("link", { name: "Abrir la cola" }).getAttribute("href"), "/mod/alerts");
  // The count lives in the menu, folded away on a phone: it follows even while folded.
  await mod.getByRole("link", { name: "Casos pendientes: 1", includeHidden: true }).waitFor({ state: "attached" });
  assert.equal(mod.url(), server.base + "/c/alerts", "no page load");

  await server.api("POST", "/api/v1/communities/alerts/topics", writer, { title: "A very bad night", body: "I want to die tonight" });
  const urgent = mod.getByRole("alert").filter({ hasText: "Urgente: alguien podría estar en crisis" });
  await urgent.waitFor();
  assert.match(await urgent.getAttribute("class"), /urgent/);
  await mod.getByRole("link", { name: "Casos pendientes: 2", includeHidden: true }).waitFor({ state: "attached" });
  await fitsAt320(mod, "the page with live alerts (es)");
  await noViolations(mod, "the page with live alerts (es)");
  await urgent.getByRole("button", { name: "Cerrar" }).click();
  assert.equal(await mod.locator(".case-alert.urgent").count(), 0);
  await Promise.all([mod.waitForURL(/\/mod\/alerts$/), report.getByRole("link", { name: "Abrir la cola" }).click()]);
  await mod.getByText("cheap pills here").first().waitFor();
  assert.deepEqual(mod.problems, []);
});

test("a phone number in chat is sent only after the member confirms", async () => {
  const page = await member("carla_chat", "es");
  await page.goto(server.base + "/c/diabetes/chat");
  await page.waitForURL(/\/c\/diabetes\/chat\/\d+$/);
  const room = page.url();
  const other = await member("beto_chat", "es");
  await other.goto(room);
  await page.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  await page.locator("#chat-body").fill("Llámame al 55 1234 5678");
  await page.locator("#composer button[type=submit]").first().click();
  const ask = page.locator("#chat-identifiers");
  await ask.waitFor();
  assert.equal(await ask.getAttribute("role"), "alert");
  await ask.getByText("datos personales").waitFor();
  assert.equal(await page.locator("#chat-body").inputValue(), "Llámame al 55 1234 5678", "the words are kept");
  assert.equal(await page.locator("#messages li", { hasText: "55 1234 5678" }).count(), 0, "not sent");
  await fitsAt320(page, "the chat asking about a phone number (es)");
  await noViolations(page, "the chat asking about a phone number (es)");
  await ask.getByRole("button", { name: "Publicarlo así" }).click();
  await page.locator("#messages li:not(.pending) .body", { hasText: "55 1234 5678" }).waitFor();
  assert.equal(await page.locator("#chat-identifiers").count(), 0);
  assert.equal(page.url(), room, "over the socket");
  await other.locator("#messages .body", { hasText: "55 1234 5678" }).waitFor();
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
});

test("a CURP in a bio and a phone number in a title are asked about first", async () => {
  const page = await member("gabo_bio", "es");
  await page.goto(server.base + "/settings");
  await page.locator("#bio").fill("Mi CURP es GODE561231HDFRRN09");
  await page.locator("form[action='/settings'] button[type=submit]").click();
  const ask = page.locator("#bio-identifiers");
  await ask.waitFor();
  await ask.getByText("un número de identificación").waitFor();
  assert.equal(await page.locator("#bio").inputValue(), "Mi CURP es GODE561231HDFRRN09");
  await fitsAt320(page, "settings asking about a CURP (es)");
  await noViolations(page, "settings asking about a CURP (es)");
  let me = await server.api("GET", "/api/v1/me", await tokenOf("gabo_bio"));
  assert.equal(me.bio, "", "nothing published yet");
  await ask.getByLabel("Sí, publicarlo").check();
  await Promise.all([page.waitForNavigation(), page.locator("form[action='/settings'] button[type=submit]").click()]);
  me = await server.api("GET", "/api/v1/me", await tokenOf("gabo_bio"));
  assert.equal(me.bio, "Mi CURP es GODE561231HDFRRN09");

  const hindi = await member("kavya_title", "hi");
  await hindi.goto(server.base + "/c/diabetes/new");
  await hindi.locator("#title").fill("Call karo 55/1234/5678");
  await hindi.locator("#body").fill("shaam ko baat karte hain");
  await hindi.locator("form[action='/c/diabetes/new'] button[type=submit]").first().click();
  const warn = hindi.getByRole("alert").filter({ has: hindi.getByRole("heading", { name: "पोस्ट करने से पहले देख लें" }) });
  await warn.waitFor();
  await warn.getByText("फ़ोन नंबर").waitFor();
  assert.equal(await hindi.locator("#title").inputValue(), "Call karo 55/1234/5678");
  await fitsAt320(hindi, "the new topic asking about a phone number (hi)");
  await noViolations(hindi, "the new topic asking about a phone number (hi)");
  await Promise.all([
    hindi.waitForURL(/\/t\/\d+$/),
    hindi.getByRole("button", { name: "ऐसे ही पोस्ट करें" }).click(),
  ]);
  await hindi.getByRole("heading", { name: "Call karo 55/1234/5678" }).waitFor();
  // The question comes back with 422 (a form to fix), which Chromium logs; nothing else may.
  const unexpected = (p) => p.problems.filter((m) => !/status of 422/.test(m));
  assert.deepEqual(unexpected(page), []);
  assert.deepEqual(unexpected(hindi), []);
});
