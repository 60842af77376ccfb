// Chat that feels like chat, and drafts (#22), in a real browser: a Spanish member and a Hindi
// member in the same room; one replies to the other (quoted live), the other reacts with the
// keyboard alone (the focus stays on the button), "seen by" shows in the small room, and what
// was typed and not sent is there again after a reload. Axe-clean and 320 px wide throughout.
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

/** A member signed up through the form in `language`, joined to the diabetes group, on its
 * chat room once the socket is live. */
async function member(username, language) {
  const page = await newPage(browser, narrow);
  await signUp(page, server.base, username, language);
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD });
  await server.api("POST", "/api/v1/communities/diabetes/join", token);
  await page.goto(server.base + "/c/diabetes/chat");
  await page.waitForURL(/\/c\/diabetes\/chat\/\d+$/);
  await live(page);
  return page;
}

async function live(page) {
  await page.waitForFunction(() => {
    const s = document.getElementById("chat-status");
    return s && s.textContent.trim().length > 0 && !/…/.test(s.textContent);
  });
}

test("reply, react with the keyboard, seen by, and a draft kept over a reload", async () => {
  const ana = await member("ana_feel", "es");
  const ravi = await member("ravi_feel", "hi");
  const room = ana.url();

  // Ana writes; Ravi answers her with "Reply" (in Hindi), quoted above his message live.
  await ana.locator("#chat-body").fill("Hoy caminé 30 minutos después de cenar");
  await ana.locator("#composer button[type=submit]").first().click();
  const first = ravi.locator("#messages li[data-id]", { hasText: "Hoy caminé" });
  await first.waitFor();
  await first.getByRole("link", { name: "जवाब दें" }).click();
  await ravi.locator("#chat-replying:not([hidden])", { hasText: "ana_feel" }).waitFor();
  assert.equal(await ravi.evaluate(() => document.activeElement.id), "chat-body", "the box takes the focus");
  await ravi.locator("#chat-body").fill("बहुत बढ़िया! मैं भी कल चलूँगा");
  await ravi.locator("#composer button[type=submit]").first().click();
  const answer = ana.locator("#messages li[data-id]", { hasText: "बहुत बढ़िया" });
  await answer.waitFor();
  await answer.locator("blockquote.reply-quote", { hasText: "Hoy caminé 30 minutos" }).waitFor();
  assert.ok(await ravi.locator("#chat-replying").isHidden(), "the reply line goes once sent");

  // Ana reacts to Ravi's message with the keyboard alone: open the menu, Tab to a kind, Enter.
  await answer.locator(".react-menu summary").focus();
  await ana.keyboard.press("Enter");
  await ana.keyboard.press("Tab");
  await ana.keyboard.press("Tab");
  const focusedKind = await ana.evaluate(() => document.activeElement.getAttribute("data-kind"));
  assert.equal(focusedKind, "hug", "Tab reaches the reactions in order");
  await ana.keyboard.press("Enter");
  await answer.locator('.react-menu button[data-kind="hug"][aria-pressed="true"]').waitFor();
  assert.equal(
    await ana.evaluate(() => document.activeElement.getAttribute("data-kind") + ":" + document.activeElement.getAttribute("aria-pressed")),
    "hug:true",
    "the focus stays on the button just pressed",
  );
  assert.equal(ana.url(), room, "no page load");
  // Ravi sees the count live; Ana takes it back with the keyboard, focus still there.
  const ravisOwn = ravi.locator("#messages li[data-id]", { hasText: "बहुत बढ़िया" });
  await ravisOwn.locator('.reaction-counts button[data-kind="hug"]', { hasText: "1" }).waitFor();
  await ana.keyboard.press("Enter");
  await answer.locator('.react-menu button[data-kind="hug"][aria-pressed="false"]').waitFor();
  assert.equal(await ana.evaluate(() => document.activeElement.getAttribute("data-kind")), "hug");
  await ravisOwn.locator(".reaction-counts").waitFor({ state: "detached" });

  // Seen by: Ana's page has seen Ravi's message; his page says so, in Hindi.
  await ravi.locator("#chat-seen", { hasText: "1 लोगों ने देखा" }).waitFor();

  // A draft: typed, not sent, kept over a reload.
  await ravi.locator("#chat-body").pressSequentially("यह अभी भेजना नहीं है");
  await ravi.locator(".draft-note", { hasText: "ड्राफ़्ट सहेजा गया" }).waitFor();
  await ravi.reload();
  await live(ravi);
  assert.equal(await ravi.locator("#chat-body").inputValue(), "यह अभी भेजना नहीं है");

  // The quote, the reactions and the seen line are in the page drawn by the server too.
  await ana.reload();
  await live(ana);
  await ana.locator("#messages blockquote.reply-quote", { hasText: "Hoy caminé" }).waitFor();
  for (const [page, what] of [[ana, "Spanish chat"], [ravi, "Hindi chat"]]) {
    await page.locator("#messages .react-menu").first().evaluate((d) => { d.open = true; });
    await fitsAt320(page, what);
    await noViolations(page, what);
    assert.deepEqual(page.problems, [], what);
  }
});

test("the reply box of a topic keeps a draft over a reload", async () => {
  const page = await newPage(browser, narrow);
  await signUp(page, server.base, "lena_feel", "es");
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username: "lena_feel", password: PASSWORD });
  await server.api("POST", "/api/v1/communities/diabetes/join", token);
  await page.goto(`${server.base}/t/${server.seededTopic}`);
  await page.locator("textarea[data-draft-key]").pressSequentially("Yo desayuno avena");
  await page.locator(".draft-note", { hasText: "Borrador guardado" }).waitFor();
  await page.reload();
  assert.equal(await page.locator("textarea[data-draft-key]").inputValue(), "Yo desayuno avena");
  await fitsAt320(page, "topic with a draft");
  await noViolations(page, "topic with a draft");
  assert.deepEqual(page.problems, []);
});

test("a new topic's title and words are kept over a reload (hi)", async () => {
  const page = await newPage(browser, narrow);
  await signUp(page, server.base, "tara_feel", "hi");
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username: "tara_feel", password: PASSWORD });
  await server.api("POST", "/api/v1/communities/diabetes/join", token);
  await page.goto(`${server.base}/c/diabetes/new`);
  await page.locator("#title").pressSequentially("सुबह की सैर");
  await page.locator("textarea[data-draft-key]").pressSequentially("आज मैंने 20 मिनट टहला");
  await page.locator(".draft-note", { hasText: "ड्राफ़्ट सहेजा गया" }).waitFor();
  await page.reload();
  assert.equal(await page.locator("#title").inputValue(), "सुबह की सैर");
  assert.equal(await page.locator("textarea[data-draft-key]").inputValue(), "आज मैंने 20 मिनट टहला");
  await fitsAt320(page, "a new topic with a draft (hi)");
  await noViolations(page, "a new topic with a draft (hi)");
  // Sent: both are forgotten.
  await Promise.all([page.waitForURL(/\/t\/\d+/), page.locator("form[action='/c/diabetes/new'] button[type=submit]").first().click()]);
  await page.goto(`${server.base}/c/diabetes/new`);
  assert.equal(await page.locator("#title").inputValue(), "");
  assert.deepEqual(page.problems, []);
});
