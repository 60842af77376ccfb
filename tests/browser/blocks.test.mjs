// Blocking and ignoring (#22 point 2) in a real browser at 320 px:
// - block from a member's profile through the page that explains it, see their post collapsed
//   on the topic page and open it, see their chat message collapsed (drawn by the server and
//   arriving live), undo from the settings;
// - ignore in Spanish and block in Hindi, with the words of each page in that language.
// Every page passes axe-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

let server;
let browser;
let pesky;
const narrow = { viewport: { width: 320, height: 640 } };

before(async () => {
  server = await startServer();
  browser = await launch();
  // The member the others keep away, with a reply in the seeded topic.
  await server.api("POST", "/api/v1/auth/register", null, {
    username: "pesky", password: PASSWORD, display_name: "Pesky Pete", health_data_consent: { version: "health-data-2026-12" },
  });
  pesky = await tokenOf("pesky");
  await server.api("POST", "/api/v1/communities/diabetes/join", pesky);
  await server.api("POST", `/api/v1/topics/${server.seededTopic}/posts`, pesky, { body: "Skip breakfast entirely, trust me." });
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

async function member(username, language) {
  const page = await newPage(browser, narrow);
  await signUp(page, server.base, username, language);
  await server.api("POST", "/api/v1/communities/diabetes/join", await tokenOf(username));
  return page;
}

/** From pesky's profile: the link, the page explaining it, the button; back on the profile. */
async function keepAway(page, link, heading, button, done, what) {
  await page.goto(server.base + "/u/pesky");
  await noViolations(page, `the profile (${what})`);
  await fitsAt320(page, `the profile (${what})`);
  await Promise.all([page.waitForURL(/\/u\/pesky\/(block|ignore)$/), page.getByRole("link", { name: link, exact: true }).click()]);
  await page.getByRole("heading", { name: heading }).waitFor();
  await fitsAt320(page, `the confirmation (${what})`);
  await noViolations(page, `the confirmation (${what})`);
  await Promise.all([page.waitForURL(/\/u\/pesky\?kept=/), page.getByRole("button", { name: button }).click()]);
  await page.getByRole("status").filter({ hasText: done }).waitFor();
  await noViolations(page, `the profile after (${what})`);
}

/** The topic page: pesky's post folded behind `summary`, opened by a click, with no script. */
async function seeCollapsed(page, summary, what) {
  await page.goto(`${server.base}/t/${server.seededTopic}`);
  const folded = page.locator("details.kept-away", { has: page.getByText(summary, { exact: true }) });
  await folded.waitFor();
  const words = folded.getByText("Skip breakfast entirely, trust me.");
  assert.equal(await words.isVisible(), false, `${what}: the words show before opening`);
  // Everyone else's posts show as before.
  assert.equal(await page.getByText("Eggs and beans work for me. Less of a spike.").isVisible(), true);
  await fitsAt320(page, `the topic (${what})`);
  await noViolations(page, `the topic (${what})`);
  await folded.locator("summary").click();
  await words.waitFor({ state: "visible" });
  await noViolations(page, `the topic with the post opened (${what})`);
}

test("block from a profile, see the posts and messages folded, open one, undo in settings", async () => {
  const ana = await member("ana_keeps", "en");
  // A chat message of pesky's before the page is drawn.
  const room = (await server.api("GET", "/api/v1/communities/diabetes/rooms", pesky))[0].id;
  const peskyPage = await newPage(browser, narrow);
  await peskyPage.goto(server.base + "/login");
  await peskyPage.locator("#username").fill("pesky");
  await peskyPage.locator("#password").fill(PASSWORD);
  await Promise.all([peskyPage.waitForURL((u) => !u.pathname.startsWith("/login")), peskyPage.locator("form[action^='/login'] button[type=submit]").click()]);
  await peskyPage.goto(`${server.base}/c/diabetes/chat/${room}`);
  await peskyPage.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  await peskyPage.locator("#chat-body").fill("Anyone up for a late snack?");
  await peskyPage.locator("#composer button[type=submit]").first().click();
  await peskyPage.locator("#messages li:not(.pending) .body", { hasText: "late snack" }).waitFor();

  await keepAway(ana, "Block", "Block Pesky Pete?", "Yes, block", "Done: you blocked this member", "block, en");
  await ana.getByText("They are not told.", { exact: false }).first().waitFor();
  await seeCollapsed(ana, "hidden: you blocked this member", "block, en");

  // The chat page: the message drawn by the server is folded; one arriving live is folded too.
  await ana.goto(`${server.base}/c/diabetes/chat/${room}`);
  await ana.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  const drawn = ana.locator("#messages li details.kept-away", { hasText: "hidden: you blocked this member" });
  assert.equal(await drawn.count(), 1);
  assert.equal(await ana.getByText("Anyone up for a late snack?").isVisible(), false);
  await peskyPage.locator("#chat-body").fill("Hello again, anyone?");
  await peskyPage.locator("#composer button[type=submit]").first().click();
  const live = ana.locator("#messages li details.kept-away", { has: ana.getByText("Hello again, anyone?") });
  await live.waitFor({ state: "attached" });
  assert.equal(await ana.getByText("Hello again, anyone?").isVisible(), false);
  await live.locator("summary").click();
  await ana.getByText("Hello again, anyone?").waitFor({ state: "visible" });
  await fitsAt320(ana, "the chat with folded messages");
  await noViolations(ana, "the chat with folded messages");
  // Pesky's own page shows nothing of it.
  assert.equal(await peskyPage.locator("details.kept-away").count(), 0);
  await peskyPage.goto(`${server.base}/t/${server.seededTopic}`);
  assert.equal(await peskyPage.locator("details.kept-away").count(), 0);
  await peskyPage.goto(server.base + "/u/ana_keeps");
  assert.equal(await peskyPage.getByText("You blocked this member", { exact: false }).count(), 0);

  // Undo from the settings.
  await ana.goto(server.base + "/settings");
  const list = ana.locator("section#blocks");
  await list.getByRole("heading", { name: "Blocked and ignored members" }).waitFor();
  await list.getByRole("link", { name: "Pesky Pete" }).waitFor();
  await fitsAt320(ana, "the settings with the list");
  await noViolations(ana, "the settings with the list");
  await Promise.all([ana.waitForURL(/\/settings#blocks$/), list.getByRole("button", { name: "Undo for Pesky Pete" }).click()]);
  await list.getByText("You have not blocked or ignored anyone.", { exact: false }).waitFor();
  await ana.goto(`${server.base}/t/${server.seededTopic}`);
  await ana.getByText("Skip breakfast entirely, trust me.").waitFor({ state: "visible" });
  assert.equal(await ana.locator("details.kept-away").count(), 0);
  assert.deepEqual(ana.problems, []);
  assert.deepEqual(peskyPage.problems, []);
});

test("ignoring in Spanish and blocking in Hindi", async () => {
  const lucia = await member("lucia_ignora", "es");
  await keepAway(lucia, "Ignorar", "¿Ignorar a Pesky Pete?", "Sí, ignorar", "Listo: estás ignorando a este miembro", "ignore, es");
  await seeCollapsed(lucia, "oculto: estás ignorando a este miembro", "ignore, es");
  await lucia.goto(server.base + "/settings");
  await lucia.locator("section#blocks").getByText("Ignorado", { exact: true }).waitFor();
  await noViolations(lucia, "the settings (es)");
  assert.deepEqual(lucia.problems, []);

  const ravi = await member("ravi_rokta", "hi");
  await keepAway(ravi, "ब्लॉक करें", "Pesky Pete को ब्लॉक करें?", "हाँ, ब्लॉक करें", "हो गया: आपने इस सदस्य को ब्लॉक कर दिया", "block, hi");
  await seeCollapsed(ravi, "छिपा हुआ: आपने इस सदस्य को ब्लॉक किया है", "block, hi");
  await ravi.goto(server.base + "/settings");
  const list = ravi.locator("section#blocks");
  await list.getByRole("heading", { name: "ब्लॉक और अनदेखे किए गए सदस्य" }).waitFor();
  await fitsAt320(ravi, "the settings (hi)");
  await noViolations(ravi, "the settings (hi)");
  await Promise.all([ravi.waitForURL(/\/settings#blocks$/), list.getByRole("button", { name: "Pesky Pete के लिए वापस लें" }).click()]);
  await list.getByText("आपने किसी को ब्लॉक या अनदेखा नहीं किया है", { exact: false }).waitFor();
  assert.deepEqual(ravi.problems, []);
});

test("a topic started by a blocked member is folded in the group's list (hi)", async () => {
  await server.api("POST", "/api/v1/communities/diabetes/topics", pesky, {
    title: "Pesky's miracle cure thread", body: "You will not believe this.",
  });
  const veda = await member("veda_keeps", "hi");
  await server.api("PUT", "/api/v1/users/pesky/block", await tokenOf("veda_keeps"));
  await veda.goto(server.base + "/c/diabetes");
  const folded = veda.locator("details.kept-away", { hasText: "आपने इस सदस्य को ब्लॉक किया है" });
  await folded.waitFor();
  const title = folded.getByRole("link", { name: "Pesky's miracle cure thread" });
  assert.equal(await title.isVisible(), false, "the title shows before opening");
  // Others' topics show as before.
  assert.equal(await veda.getByRole("link", { name: "What do you eat for breakfast?" }).isVisible(), true);
  await fitsAt320(veda, "the group with a folded topic (hi)");
  await noViolations(veda, "the group with a folded topic (hi)");
  await folded.locator("summary").click();
  await title.waitFor({ state: "visible" });
  await noViolations(veda, "the group with the topic opened (hi)");
  // Someone who blocks nobody sees it plain.
  const other = await member("wes_plain", "en");
  await other.goto(server.base + "/c/diabetes");
  await other.getByRole("link", { name: "Pesky's miracle cure thread" }).waitFor({ state: "visible" });
  assert.equal(await other.locator("details.kept-away").count(), 0);
  assert.deepEqual(veda.problems, []);
  assert.deepEqual(other.problems, []);
});

test("a blocked member's milestones are folded on their profile and in their topic (es)", async () => {
  const shared = await server.api("POST", "/api/v1/communities/diabetes/topics", pesky, {
    title: "Pesky walked five kilometres", body: "Slow but steady, every morning.", kind: "milestone",
    milestone: { type: "non_scale_victory", visibility: "community" },
  });
  const eva = await member("eva_keeps", "es");
  await server.api("PUT", "/api/v1/users/pesky/block", await tokenOf("eva_keeps"));

  // His profile: the milestone folded behind the words, openable with no script.
  await eva.goto(server.base + "/u/pesky");
  const folded = eva.locator("details.kept-away", { hasText: "oculto: bloqueaste a este miembro" });
  await folded.first().waitFor();
  const title = eva.getByRole("link", { name: "Pesky walked five kilometres" });
  assert.equal(await title.isVisible(), false, "the title shows before opening");
  await fitsAt320(eva, "a blocked member's timeline (es)");
  await noViolations(eva, "a blocked member's timeline (es)");
  await folded.first().locator("summary").click();
  await title.waitFor({ state: "visible" });
  await noViolations(eva, "a blocked member's timeline, opened (es)");

  // The milestone's topic: its banner is folded with his words.
  await eva.goto(`${server.base}/t/${shared.topic.id}`);
  const post = eva.locator("details.kept-away", { has: eva.getByText("Slow but steady, every morning.") });
  await post.waitFor({ state: "attached" });
  assert.equal(await eva.locator(".milestone").first().isVisible(), false, "the banner shows before opening");
  await fitsAt320(eva, "a blocked member's milestone (es)");
  await noViolations(eva, "a blocked member's milestone (es)");
  await post.locator("summary").click();
  await eva.locator(".milestone").first().waitFor({ state: "visible" });
  assert.deepEqual(eva.problems, []);
});
