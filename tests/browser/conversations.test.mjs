// Conversations in a real browser at 320 px, in Spanish and Hindi: the profile's "Message"
// button, the request with its first message, the list with its request and unread count,
// accepting, live messages both ways, leaving, and the "who can message me" setting; replying to
// and reacting to a message without JavaScript; site staff deciding appeals against site-wide
// sanctions. Every page passes axe-core.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { startServer, launch, newPage, axe, signUp, PASSWORD, BIN } from "./harness.mjs";

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

test("a new request and its answer reach the list and the menu live (hi, es)", async () => {
  const mira = await member("mira_live", "hi");
  const tomas = await member("tomas_live", "es");
  mira.setDefaultTimeout(20000);
  tomas.setDefaultTimeout(20000);
  // Mira has her list open, its socket live; the menu says nothing waits.
  await mira.goto(server.base + "/conversations");
  await mira.locator("#conversation-lists[data-live=on]").waitFor();
  assert.equal((await mira.locator("header a.conversations").textContent()).trim(), "संदेश");
  // Tomás writes to her: the request appears without a reload, announced, and counted.
  const tomasToken = await tokenOf("tomas_live");
  const started = await server.api("POST", "/api/v1/conversations", tomasToken, { with: ["mira_live"], body: "Hola Mira, ¿caminamos juntos?" });
  const id = started.conversation.id;
  await mira.getByRole("heading", { name: "अनुरोध" }).waitFor();
  await mira.locator(`#conversation-lists a[href="/conversations/${id}"]`).waitFor();
  await mira.locator("#conversations-live", { hasText: "बातचीत का एक नया अनुरोध" }).waitFor();
  // The menu is folded at 320 px: the link is there, its words changed.
  await mira.locator("header a.conversations", { hasText: "संदेश (1 नया)" }).waitFor({ state: "attached" });
  await fitsAt320(mira, "a request arrived live (hi)");
  await noViolations(mira, "a request arrived live (hi)");

  // Tomás waits on the conversation's page; Mira accepts: his page gets its message box.
  await tomas.goto(server.base + `/conversations/${id}`);
  await tomas.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  assert.equal(await tomas.locator("#composer").count(), 0);
  await Promise.all([mira.waitForURL(server.base + `/conversations/${id}`), mira.getByRole("button", { name: "स्वीकार करें" }).first().click()]);
  await tomas.locator("#composer").waitFor();
  await tomas.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");

  // A reply quoting a message deleted later: the quote turns into "deleted" live, in each language.
  await tomas.locator("#chat-body").fill("Mi azúcar hoy: 180");
  await tomas.locator("#composer button[type=submit]").first().click();
  const first = mira.locator("#messages li[data-id]", { hasText: "Mi azúcar hoy" });
  await first.waitFor();
  const firstId = await first.getAttribute("data-id");
  await first.getByRole("link", { name: "जवाब दें" }).click();
  await mira.locator("#chat-body").fill("शाम को टहलना मदद करता है");
  await mira.locator("#composer button[type=submit]").first().click();
  const answer = tomas.locator("#messages li[data-id]", { hasText: "शाम को टहलना" });
  await answer.locator("blockquote.reply-quote", { hasText: "Mi azúcar hoy" }).waitFor();
  await server.api("DELETE", `/api/v1/messages/${firstId}`, tomasToken);
  await answer.locator("blockquote.reply-quote", { hasText: "Un mensaje borrado" }).waitFor();
  assert.equal(await answer.locator("blockquote.reply-quote", { hasText: "180" }).count(), 0);
  const hers = mira.locator("#messages li[data-id]", { hasText: "शाम को टहलना" });
  await hers.locator("blockquote.reply-quote", { hasText: "हटाया गया संदेश" }).waitFor();
  await fitsAt320(tomas, "a deleted quote (es)");
  await noViolations(tomas, "a deleted quote (es)");
  // Drawn by the server after a reload, the same.
  await mira.reload();
  await mira.locator("#messages blockquote.reply-quote", { hasText: "हटाया गया संदेश" }).waitFor();
  await noViolations(mira, "a deleted quote, drawn by the server (hi)");
  // The "Reply" link's own page (?reply_to=, what it opens without JavaScript): the box drawn by
  // the server, and the script sends the answer with its quote.
  const hersId = await mira.locator("#messages li[data-id]", { hasText: "शाम को टहलना" }).getAttribute("data-id");
  await tomas.goto(server.base + `/conversations/${id}?reply_to=${hersId}#composer`);
  await tomas.locator("#chat-replying", { hasText: "Respondiendo a mira_live:" }).waitFor();
  await tomas.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  await fitsAt320(tomas, "replying, drawn by the server (es)");
  await noViolations(tomas, "replying, drawn by the server (es)");
  await tomas.locator("#chat-body").fill("¡Buena idea!");
  await tomas.locator("#composer button[type=submit]").first().click();
  await mira.locator("#messages li[data-id]", { hasText: "¡Buena idea!" }).locator("blockquote.reply-quote", { hasText: "शाम को टहलना" }).waitFor();
  assert.deepEqual(mira.problems, []);
  assert.deepEqual(tomas.problems, []);
});

test("site staff read a reported conversation message in their queue and end it (es)", async () => {
  const nora = await member("nora_rep", "es");
  const otto = await member("otto_rep", "es");
  const noraToken = await tokenOf("nora_rep");
  const ottoToken = await tokenOf("otto_rep");
  const started = await server.api("POST", "/api/v1/conversations", ottoToken, { with: ["nora_rep"], body: "hola" });
  const id = started.conversation.id;
  await server.api("POST", `/api/v1/conversations/${id}/accept`, noraToken);
  // Otto's words reach Nora; she reports one from the API as the app does.
  const room = started.conversation.room;
  await nora.goto(server.base + `/conversations/${id}`);
  await otto.goto(server.base + `/conversations/${id}`);
  await otto.waitForFunction(() => document.querySelector("#chat-status").textContent.trim() !== "");
  await otto.locator("#chat-body").fill("eres una inútil");
  await otto.locator("#composer button[type=submit]").first().click();
  const bad = nora.locator("#messages li[data-id]", { hasText: "eres una inútil" });
  await bad.waitFor();
  const report = await server.api("POST", "/api/v1/reports", noraToken, {
    target: { type: "conversation_message", id: Number(await bad.getAttribute("data-id")) }, reason: "harassment", note: "me insulta",
  });
  assert.ok(report.case_id && room);

  // The site admin, in Spanish, finds it from the menu, with what was said and why.
  const staff = await newPage(browser, narrow);
  await staff.goto(server.base + "/login");
  await staff.locator("#username").fill("organiser");
  await staff.locator("#password").fill(PASSWORD);
  await Promise.all([staff.waitForURL(/\/$/), staff.locator("form[action='/login'] button[type=submit]").click()]);
  await server.api("PATCH", "/api/v1/me", server.adminToken, { locale: "es" });
  await staff.goto(server.base + "/moderation/conversations");
  await staff.getByRole("heading", { name: "Denuncias de conversaciones" }).waitFor();
  const card = staff.locator(`#case-${report.case_id}`);
  await card.getByText("eres una inútil").waitFor();
  await card.getByText("me insulta").waitFor();
  await card.locator("details.member-actions").evaluate((d) => { d.open = true; });
  await fitsAt320(staff, "the conversation queue (es)");
  await noViolations(staff, "the conversation queue (es)");
  await card.locator(`#reason-${report.case_id}`).fill("insultos tras una denuncia");
  await Promise.all([staff.waitForURL(/done=1/), card.getByRole("button", { name: "Terminar la conversación" }).click()]);
  await staff.getByText("No hay denuncias de conversaciones pendientes.").waitFor();
  await noViolations(staff, "the conversation queue, done (es)");
  assert.equal((await server.api("GET", `/api/v1/conversations/${id}`, noraToken)).state, "ended");
  await server.api("PATCH", "/api/v1/me", server.adminToken, { locale: "en" });
  assert.deepEqual(staff.problems, []);
});

test("a conversation's form sends without JavaScript (es)", async () => {
  const page = await newPage(browser, { ...narrow, javaScriptEnabled: false });
  page.setDefaultTimeout(20000);
  await signUp(page, server.base, "pia_nojs", "es");
  await server.api("POST", "/api/v1/communities/diabetes/join", await tokenOf("pia_nojs"));
  await server.api("POST", "/api/v1/auth/register", null, {
    username: "quim_nojs", password: PASSWORD, health_data_consent: { version: "health-data-2026-12" },
  });
  const quim = await tokenOf("quim_nojs");
  await server.api("POST", "/api/v1/communities/diabetes/join", quim);
  const started = await server.api("POST", "/api/v1/conversations", quim, { with: ["pia_nojs"], body: "Hola Pía" });
  const id = started.conversation.id;
  await page.goto(server.base + `/conversations/${id}`);
  await Promise.all([page.waitForURL(server.base + `/conversations/${id}`), page.getByRole("button", { name: "Aceptar" }).first().click()]);
  await page.locator("#chat-body").fill("Hola, sin JavaScript");
  await Promise.all([page.waitForURL(new RegExp(`/conversations/${id}#composer$`)), page.locator("#composer button[type=submit]").first().click()]);
  await page.locator("#messages li", { hasText: "Hola, sin JavaScript" }).waitFor();
  assert.equal(await page.locator("#chat-body").inputValue(), "");
  await fitsAt320(page, "a conversation without JavaScript (es)");

  // Answering Quim's message: its "Responder" link opens the box with it quoted; the form sends
  // the answer with its quote.
  const holaId = await page.locator("#messages li[data-id]", { hasText: "Hola Pía" }).getAttribute("data-id");
  const hola = page.locator(`#m-${holaId}`);
  await Promise.all([page.waitForURL(new RegExp(`/conversations/${id}\\?reply_to=${holaId}#composer$`)), hola.getByRole("link", { name: "Responder", exact: true }).click()]);
  await page.locator("#chat-replying", { hasText: "Respondiendo a quim_nojs:" }).waitFor();
  await fitsAt320(page, "replying without JavaScript (es)");
  await page.locator("#chat-body").fill("Te contesto sin JavaScript");
  await Promise.all([page.waitForURL(new RegExp(`/conversations/${id}#composer$`)), page.locator("#composer button[type=submit]").first().click()]);
  const answer = page.locator("#messages li[data-id]", { hasText: "Te contesto sin JavaScript" });
  await answer.locator("blockquote.reply-quote", { hasText: "Hola Pía" }).waitFor();
  assert.equal(await page.locator("#chat-replying").isVisible(), false, "the box is empty again");
  const messages = await server.api("GET", `/api/v1/rooms/${started.conversation.room}/messages`, quim);
  assert.equal(String(messages.items[0].reply_to.id), holaId);

  // A hug from the message's menu, with the form alone.
  await hola.locator("details.react-menu summary").click();
  await Promise.all([page.waitForURL(new RegExp(`#m-${holaId}$`)), hola.getByRole("button", { name: "Abrazo" }).click()]);
  await hola.locator(".reaction-counts button[aria-pressed=true]").waitFor();
  const after = await server.api("GET", `/api/v1/rooms/${started.conversation.room}/messages`, quim);
  assert.equal(after.items.find((m) => String(m.id) === holaId).reactions.hug, 1);
  await fitsAt320(page, "a reaction without JavaScript (es)");
  assert.deepEqual(page.problems, []);
});

test("site staff decide an appeal against a site-wide mute; not the one who muted (hi, es)", async () => {
  // A second site admin, made from the shell as the harness makes the first.
  const dir = path.dirname(server.dataDir);
  execFileSync(BIN, ["admin", "create-user", "--username", "second_staff", "--password", PASSWORD, "--role", "admin"], {
    env: { PATH: process.env.PATH, DATABASE_URL: `sqlite://${path.join(dir, "mutual.db")}`, MUTUAL_DATA_DIR: server.dataDir },
    cwd: dir, stdio: "ignore",
  });
  const rosa = await member("rosa_apela", "hi");
  const rosaToken = await tokenOf("rosa_apela");
  const rosaId = (await server.api("GET", "/api/v1/me", rosaToken)).id;
  const mute = await server.api("POST", "/api/v1/moderation/actions", server.adminToken, {
    action: "mute", target: { type: "user", id: rosaId }, duration_minutes: 60, reason: "insults in messages",
  });

  // Rosa appeals from her moderation page, in Hindi.
  await rosa.goto(server.base + "/me/moderation");
  const form = rosa.locator("form", { has: rosa.locator(`input[name=log_id][value="${mute.log_id}"]`) });
  await form.locator("textarea").fill("मुझसे गलती हुई, अब ऐसा नहीं होगा");
  await Promise.all([rosa.waitForURL(/appealed=1/), form.locator("button[type=submit]").click()]);

  // The admin who muted her reads why they cannot decide, and gets no button.
  const first = await newPage(browser, narrow);
  await first.goto(server.base + "/login");
  await first.locator("#username").fill("organiser");
  await first.locator("#password").fill(PASSWORD);
  await Promise.all([first.waitForURL(/\/$/), first.locator("form[action='/login'] button[type=submit]").click()]);
  await first.goto(server.base + "/moderation/conversations");
  const mine = first.locator("section[aria-labelledby=appeals-title] li", { hasText: "मुझसे गलती हुई" });
  await mine.getByText("another moderator decides this appeal").waitFor();
  assert.equal(await mine.getByRole("button", { name: "Undo the action" }).count(), 0);
  await fitsAt320(first, "an appeal against one's own mute");
  await noViolations(first, "an appeal against one's own mute");

  // The second, in Spanish, restores it: the mute is lifted and Rosa is told in Hindi.
  const second = await newPage(browser, narrow);
  await second.goto(server.base + "/login");
  await second.locator("#username").fill("second_staff");
  await second.locator("#password").fill(PASSWORD);
  await Promise.all([second.waitForURL(/\/$/), second.locator("form[action='/login'] button[type=submit]").click()]);
  await server.api("PATCH", "/api/v1/me", await tokenOf("second_staff"), { locale: "es" });
  await second.goto(server.base + "/moderation/conversations");
  await second.getByRole("heading", { name: "Apelaciones contra decisiones en todo el sitio" }).waitFor();
  const theirs = second.locator("section[aria-labelledby=appeals-title] li", { hasText: "मुझसे गलती हुई" });
  await theirs.getByText("insults in messages").waitFor();
  await fitsAt320(second, "the staff's appeal card (es)");
  await noViolations(second, "the staff's appeal card (es)");
  await theirs.getByLabel("Motivo", { exact: false }).fill("se disculpó, está bien");
  await Promise.all([second.waitForURL(/done=1/), theirs.getByRole("button", { name: "Deshacer la acción" }).click()]);
  await noViolations(second, "the staff queue, done (es)");
  await server.api("POST", "/api/v1/communities/diabetes/topics", rosaToken, { title: "Una caminata hoy", body: "de vuelta" });
  await rosa.goto(server.base + "/notifications");
  await rosa.getByText("आपकी अपील मान ली गई।", { exact: false }).waitFor();
  await fitsAt320(rosa, "the appeal's answer (hi)");
  await noViolations(rosa, "the appeal's answer (hi)");
  assert.deepEqual(first.problems, []);
  assert.deepEqual(second.problems, []);
  assert.deepEqual(rosa.problems, []);
});
