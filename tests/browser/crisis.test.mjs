// The crisis lines in a real browser: a Spanish member who writes words that suggest a crisis
// lands on their topic with the Mexican lines at the top, hours in Spanish, the focus on the
// panel; a Hindi member in a chat room with JavaScript gets the lines from the socket's
// `crisis_resources` frame, kept until dismissed. Both pass axe-core and fit 320 px.
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

const narrow = { viewport: { width: 320, height: 640 } };

async function fitsAt320(page, what) {
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 320, `${what}: ${width} px wide at 320 px`);
}

async function noViolations(page, what) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `${what}: ${JSON.stringify(violations, null, 1)}`);
}

/** A member signed up through the form in `language`, joined to the diabetes group. */
async function member(username, language) {
  const page = await newPage(browser, narrow);
  await signUp(page, server.base, username, language);
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD });
  await server.api("POST", "/api/v1/communities/diabetes/join", token);
  return page;
}

test("a Spanish member posts in crisis and lands on the Mexican lines, hours in Spanish", async () => {
  const page = await member("lucia_crisis", "es");
  await page.goto(server.base + "/c/diabetes/new");
  await page.locator("#title").fill("Una semana muy dura");
  await page.locator("#body").fill("Ya no puedo más, hoy quiero morir.");
  await Promise.all([
    page.waitForURL(/crisis=1#crisis-lines$/),
    page.locator("form[action='/c/diabetes/new'] button[type=submit]").first().click(),
  ]);
  const panel = page.getByRole("alert").filter({ has: page.getByRole("heading", { name: "Puedes hablar con alguien ahora" }) });
  await panel.waitFor();
  await panel.getByText("Línea de la Vida").waitFor();
  const tel = panel.getByRole("link", { name: "800 911 2000" });
  assert.equal(await tel.getAttribute("href"), "tel:8009112000");
  await panel.getByText("24 horas, todos los días").first().waitFor();
  // Mexico's line comes first; the focus is on the panel.
  const first = await panel.locator("li").first().textContent();
  assert.match(first, /Línea de la Vida/);
  assert.equal(await page.evaluate(() => document.activeElement && document.activeElement.id), "crisis-lines");
  await fitsAt320(page, "the topic with the crisis lines");
  await noViolations(page, "the topic with the crisis lines (es)");
  assert.deepEqual(page.problems, []);
});

test("a Hindi member in chat with JavaScript sees the lines from the frame until dismissed", async () => {
  const page = await member("meera_crisis", "hi");
  await page.goto(server.base + "/c/diabetes/chat");
  await page.waitForURL(/\/c\/diabetes\/chat\/\d+$/);
  const room = page.url();
  // A second member in the room: the lines are for the author alone.
  const other = await member("ravi_crisis", "hi");
  await other.goto(room);
  await page.locator("#chat-status").filter({ hasText: /\S/ }).waitFor();
  await page.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  await page.locator("#chat-body").fill("मैं आत्महत्या के बारे में सोचता हूँ");
  await page.locator("#composer button[type=submit]").first().click();
  const panel = page.locator("#crisis-lines-live");
  await panel.waitFor();
  assert.equal(page.url(), room, "sent over the socket, no page load");
  assert.equal(await panel.getAttribute("role"), "alert");
  await panel.getByRole("heading", { name: "आप अभी किसी से बात कर सकते हैं" }).waitFor();
  await panel.getByText("Tele-MANAS").waitFor();
  assert.equal(await panel.getByRole("link", { name: "14416" }).getAttribute("href"), "tel:14416");
  await panel.getByText("24 घंटे, हर दिन").first().waitFor();
  await fitsAt320(page, "the chat room with the crisis lines");
  await noViolations(page, "the chat room with the crisis lines (hi)");
  // The other member got the message but not the lines.
  await other.locator("#messages .body", { hasText: "आत्महत्या" }).waitFor();
  assert.equal(await other.locator("#crisis-lines-live").count(), 0);
  // Kept while chatting on; gone when dismissed.
  await page.locator("#chat-body").fill("धन्यवाद");
  await page.locator("#composer button[type=submit]").first().click();
  await page.locator("#messages li:not(.pending) .body", { hasText: "धन्यवाद" }).waitFor();
  assert.equal(await panel.count(), 1);
  await panel.getByRole("button", { name: "बंद करें" }).click();
  assert.equal(await page.locator("#crisis-lines-live").count(), 0);
  assert.deepEqual(page.problems, []);
  assert.deepEqual(other.problems, []);
});
