// Conversations in a real browser at 320 px, in Spanish and Hindi: the profile's "Message"
// button, the request with its first message, the list with its request and unread count,
// accepting, live messages both ways, leaving, and the "who can message me" setting. Every page
// passes axe-core.
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

async function member(username, language, options = narrow) {
  const page = await newPage(browser, options);
  await signUp(page, server.base, username, language);
  await server.api("POST", "/api/v1/communities/diabetes/join", await tokenOf(username));
  return page;
}

test("a request from a profile, accepted, then live both ways (es and hi)", async () => {
  const lucia = await member("lucia_dm", "es");
  const ravi = await member("ravi_dm", "hi");

  // Lucía opens Ravi's profile and writes to him.
  await lucia.goto(server.base + "/u/ravi_dm");
  await Promise.all([lucia.waitForURL(/\/conversations\?to=ravi_dm#new$/), lucia.getByRole("link", { name: "Mensaje", exact: true }).click()]);
  assert.equal(await lucia.locator("#to").inputValue(), "ravi_dm");
  await fitsAt320(lucia, "the conversations page (es)");
  await noViolations(lucia, "the conversations page (es)");
  await lucia.locator("#first").fill("Hola Ravi, ¿cómo te fue con la dieta?");
  await Promise.all([lucia.waitForURL(/\/conversations\/\d+$/), lucia.getByRole("button", { name: "Enviar solicitud" }).click()]);
  const conversation = lucia.url();
  await lucia.getByText("Enviaste tu solicitud").waitFor();
  await lucia.locator("#messages li", { hasText: "¿cómo te fue con la dieta?" }).waitFor();
  assert.equal(await lucia.locator("#composer").count(), 0, "no composer while the request waits");
  await fitsAt320(lucia, "a waiting request (es)");
  await noViolations(lucia, "a waiting request (es)");

  // Ravi sees the request with one unread message, and accepts it.
  await ravi.goto(server.base + "/conversations");
  await ravi.getByRole("heading", { name: "अनुरोध" }).waitFor();
  await ravi.getByText("1 अपठित").waitFor();
  await fitsAt320(ravi, "the list with a request (hi)");
  await noViolations(ravi, "the list with a request (hi)");
  await Promise.all([ravi.waitForURL(conversation), ravi.getByRole("button", { name: "स्वीकार करें" }).first().click()]);
  await ravi.locator("#composer").waitFor();
  await ravi.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");

  // Lucía's page, reloaded, now has the composer; messages go live both ways.
  await lucia.reload();
  await lucia.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  await lucia.locator("#chat-body").fill("¡Qué bueno que aceptaste!");
  await lucia.locator("#composer button[type=submit]").first().click();
  await ravi.locator("#messages li", { hasText: "¡Qué bueno que aceptaste!" }).waitFor();
  await ravi.locator("#chat-body").fill("धन्यवाद, मैं ठीक हूँ");
  await ravi.locator("#composer button[type=submit]").first().click();
  await lucia.locator("#messages li", { hasText: "धन्यवाद, मैं ठीक हूँ" }).waitFor();
  await fitsAt320(ravi, "a live conversation (hi)");
  await noViolations(ravi, "a live conversation (hi)");
  await fitsAt320(lucia, "a live conversation (es)");
  await noViolations(lucia, "a live conversation (es)");

  // Ravi leaves: the conversation is gone from his list.
  await Promise.all([ravi.waitForURL(server.base + "/conversations"), ravi.getByRole("button", { name: "यह बातचीत छोड़ें" }).click()]);
  assert.equal(await ravi.locator(`a[href="${new URL(conversation).pathname}"]`).count(), 0);
  assert.deepEqual(lucia.problems, []);
  assert.deepEqual(ravi.problems, []);
});

test("the setting refuses new requests, kindly and with the words kept (es)", async () => {
  const ana = await member("ana_pide", "es");
  const beto = await member("beto_nadie", "es");
  ana.setDefaultTimeout(20000);
  beto.setDefaultTimeout(20000);
  // Beto says nobody may start a conversation with him: Ana's request is refused kindly.
  await beto.goto(server.base + "/settings");
  await beto.locator("#who_can_message").selectOption("nobody");
  await fitsAt320(beto, "the settings with who can message (es)");
  await noViolations(beto, "the settings with who can message (es)");
  await Promise.all([beto.waitForURL(/saved=1/), beto.locator("form[action='/settings'] button[type=submit]").first().click()]);
  await ana.goto(server.base + "/conversations?to=beto_nadie");
  await ana.locator("#first").fill("¿Hablamos?");
  await ana.getByRole("button", { name: "Enviar solicitud" }).click();
  await ana.getByRole("alert").getByText("no acepta conversaciones nuevas").waitFor();
  assert.equal(await ana.locator("#first").inputValue(), "¿Hablamos?", "the words are kept");
  await fitsAt320(ana, "a refused request (es)");
  await noViolations(ana, "a refused request (es)");
  // The refused form answers 422 on purpose.
  assert.deepEqual(ana.problems.filter((p) => !/status of 422/.test(p)), []);
  assert.deepEqual(beto.problems, []);
});
