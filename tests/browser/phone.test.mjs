// Phone ergonomics (issue #24.5) in headless Chromium at 320 px wide with the site's largest
// text setting ("Text size: 200%", the `ts-200` class on <html>, which the member chooses in
// Settings and a visitor keeps in a cookie; it scales every rem, like the phone's own large-text
// setting does for pages that honour it): the folding menu (a button with aria-expanded, a
// <details> without JavaScript), leaving a group behind a question, topics first on a group
// page, the formatting buttons and plain hints, the short consent step, reactions that keep the
// focus, chat times, common Spanish and Hindi passwords refused, "Join" through sign-up and back.
// Then the sweep: every page the routers in src/web serve, as a visitor, a member, a moderator,
// an organiser and an admin, in English, Spanish and Hindi, must not scroll sideways
// (document.documentElement.scrollWidth <= clientWidth) and passes axe-core. Run: node --test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, PASSWORD } from "./harness.mjs";

let server;
let browser;
const ids = {};
const LANGS = ["en", "es", "hi"];
const phone = { viewport: { width: 320, height: 640 } };

/** A member made through the API with the largest text, joined to the diabetes group. */
async function member(username, role) {
  const { api } = server;
  await api("POST", "/api/v1/auth/register", null, { username, password: PASSWORD, health_data_consent: { version: "health-data-2026-12" } });
  const { token } = await api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD });
  await api("POST", "/api/v1/communities/diabetes/join", token);
  await api("PATCH", "/api/v1/me", token, { text_size: 200 });
  if (role) await api("PUT", `/api/v1/communities/diabetes/roles/${role}/${username}`, server.adminToken);
  return token;
}

before(async () => {
  server = await startServer();
  browser = await launch();
  const { api, adminToken: admin } = server;
  await api("PATCH", "/api/v1/me", admin, { text_size: 200 });
  ids.member = await member("ph_member");
  ids.moderator = await member("ph_mod", "moderator");
  ids.organiser = await member("ph_org", "organiser");
  const rooms = await api("GET", "/api/v1/communities/diabetes/rooms", admin);
  ids.room = rooms[0].id;
  const now = Date.now();
  const event = await api("POST", "/api/v1/communities/diabetes/events", admin, {
    room: ids.room, title: "Coffee and questions", starts_at: new Date(now - 60000).toISOString(),
    ends_at: new Date(now + 3 * 3600 * 1000).toISOString(),
  });
  ids.event = event.id;
  const circle = await api("POST", "/api/v1/communities/diabetes/circles", admin, {
    name: "Tuesday walkers", capacity: 8, meeting: { weekday: "tuesday", time: "18:30", timezone: "America/Mexico_City" },
  });
  ids.circle = circle.id;
  await api("PUT", `/api/v1/circles/${ids.circle}/members/ph_member`, admin, { role: "member" });
  const own = await api("POST", "/api/v1/communities/diabetes/topics", ids.member, {
    title: "My long walk along the riverbank every single morning", body: "A **very** long word: Donaudampfschifffahrtsgesellschaftskapitänsmütze and a link https://example.org/a/very/long/path/that/does/not/break/easily/at/all",
  });
  ids.ownTopic = own.topic.id;
  ids.ownPost = own.post.id;
  const invitation = await api("POST", "/api/v1/communities/sleeve/invitations", admin, { max_uses: 5 });
  ids.invite = invitation.code;
  const referral = await api("POST", "/api/v1/communities/diabetes/referrals", admin, { label: "Clínica San Juan de los Lagos" });
  ids.referral = referral.code;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

/** A phone-sized page signed in as `username` (null: a visitor with the largest text), in `lang`. */
async function phonePage(username, lang, { js = true } = {}) {
  const options = { ...phone, javaScriptEnabled: js, extraHTTPHeaders: { "Accept-Language": lang } };
  const page = await newPage(browser, options);
  page.setDefaultTimeout(15000);
  if (username === null) {
    await page.context().addCookies([{ name: "mutual_text", value: "200", url: server.base }]);
    return page;
  }
  const { token } = await server.api("POST", "/api/v1/auth/login", null, { username, password: PASSWORD });
  await server.api("PATCH", "/api/v1/me", token, { locale: lang, text_size: 200 });
  await page.goto(server.base + "/login");
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(PASSWORD);
  await Promise.all([page.waitForURL(server.base + "/"), page.locator("form[action='/login'] button[type=submit]").click()]);
  return page;
}

/** What sticks out past the right edge (for the failure message). */
async function overflow(page) {
  return page.evaluate(() => {
    const root = document.documentElement;
    if (root.scrollWidth <= root.clientWidth) return null;
    const wide = [];
    for (const el of document.querySelectorAll("body *")) {
      const r = el.getBoundingClientRect();
      if (r.right > root.clientWidth + 1 && r.width > 0) {
        wide.push(`${el.tagName.toLowerCase()}${el.id ? "#" + el.id : ""}${el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : ""} (${Math.round(r.right)} px)`);
      }
    }
    return `${root.scrollWidth} > ${root.clientWidth}: ${wide.slice(0, 6).join(", ")}`;
  });
}

async function noViolations(page, what) {
  const violations = await axe(page);
  assert.deepEqual(violations, [], `${what}: ${JSON.stringify(violations, null, 1)}`);
}

async function largeText(page) {
  assert.equal(await page.locator("html").getAttribute("class"), "ts-200");
}

for (const lang of LANGS) {
  test(`${lang}: the menu folds into a button at 320 px and 200% text, and a <details> without JavaScript`, async () => {
    const page = await phonePage("ph_member", lang);
    await page.goto(server.base + "/c/diabetes");
    await largeText(page);
    const toggle = page.locator("button.menu-toggle");
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    assert.equal(await page.locator("#site-menu").isVisible(), false);
    // The header leaves most of the first screen to the page.
    const header = await page.locator("header.top").boundingBox();
    assert.ok(header.height < 640 / 2, `header ${header.height} px tall`);
    await noViolations(page, `menu folded (${lang})`);
    await toggle.focus();
    await page.keyboard.press("Enter");
    assert.equal(await toggle.getAttribute("aria-expanded"), "true");
    await page.locator("#site-menu a[href='/settings']").waitFor();
    await noViolations(page, `menu open (${lang})`);
    await page.locator("#site-menu a[href='/settings']").focus();
    await page.keyboard.press("Escape");
    assert.equal(await toggle.getAttribute("aria-expanded"), "false");
    assert.equal(await page.evaluate(() => document.activeElement.className), "menu-toggle");
    assert.deepEqual(page.problems, []);

    const plain = await phonePage("ph_member", lang, { js: false });
    await plain.goto(server.base + "/c/diabetes");
    assert.equal(await plain.locator("#site-menu a[href='/settings']").isVisible(), false);
    await plain.locator("summary.menu-toggle").click();
    await plain.locator("#site-menu a[href='/settings']").click();
    await plain.waitForURL(server.base + "/settings");
    await page.context().close();
    await plain.context().close();
  });
}

test("a group page shows its topics first; leaving asks first, from the foot of the page", async () => {
  for (const lang of LANGS) {
    const page = await phonePage("ph_member", lang, { js: false });
    await page.goto(server.base + "/c/diabetes");
    // Above the first topic: one button (a new topic).
    const before = await page.evaluate(() => {
      const first = document.querySelector("main ul.cards a");
      return [...document.querySelectorAll("main a.button, main button")]
        .filter((b) => b.compareDocumentPosition(first) & Node.DOCUMENT_POSITION_FOLLOWING).length;
    });
    assert.ok(before <= 1, `${before} buttons before the first topic (${lang})`);
    const firstTopic = await page.locator("main ul.cards a").first().boundingBox();
    assert.ok(firstTopic.y < 640 * 2, `first topic at ${firstTopic.y} px (${lang})`);
    assert.equal(await page.locator("nav.menu form[action$='/leave'], nav.menu a[href$='/leave']").count(), 0);
    await page.context().close();
  }
  // The question is a plain page and form (axe needs the page's scripting to run).
  const page = await phonePage("ph_member", "es");
  await page.goto(server.base + "/c/diabetes");
  await page.getByRole("link", { name: "Salir del grupo" }).click();
  await page.waitForURL(server.base + "/c/diabetes/leave");
  await page.getByRole("heading", { name: "¿Salir de Living with type 2 diabetes?" }).waitFor();
  await noViolations(page, "the leave question (es)");
  assert.equal(await overflow(page), null);
  // "No" keeps the member in.
  await page.getByRole("link", { name: "No, quedarme en el grupo" }).click();
  await page.waitForURL(server.base + "/c/diabetes");
  await page.getByRole("link", { name: "Salir del grupo" }).click();
  await Promise.all([page.waitForURL(/\/c\/diabetes\?left=1$/), page.getByRole("button", { name: "Sí, salir del grupo" }).click()]);
  await page.getByText("Saliste del grupo").waitFor();
  await page.getByRole("button", { name: "Unirme", exact: true }).first().click();
  await page.getByRole("link", { name: "Salir del grupo" }).waitFor();
  await page.context().close();
});

for (const lang of LANGS) {
  test(`${lang}: composer hints in plain words, and Bold / List / Link buttons that write the markdown`, async () => {
    const page = await phonePage("ph_member", lang);
    await page.goto(server.base + "/c/diabetes/new");
    const hint = await page.locator("#body-hint").textContent();
    assert.ok(!/[*_`#]/.test(hint), `hint speaks markdown: ${hint}`);
    const bar = page.locator(".format-bar button");
    assert.equal(await bar.count(), 3);
    const area = page.locator("#body");
    await area.fill("I walked today");
    await area.evaluate((a) => a.setSelectionRange(2, 8));
    await page.locator("[data-format-tool=bold]").click();
    assert.equal(await area.inputValue(), "I **walked** today");
    await area.evaluate((a) => a.setSelectionRange(a.value.length, a.value.length));
    await page.locator("[data-format-tool=link]").click();
    assert.match(await area.inputValue(), /\]\(https:\/\/\)$/);
    await area.fill("eggs\nbeans");
    await area.evaluate((a) => a.setSelectionRange(0, a.value.length));
    await page.locator("[data-format-tool=list]").click();
    assert.equal(await area.inputValue(), "- eggs\n- beans");
    await noViolations(page, `new topic with the toolbar (${lang})`);
    assert.equal(await overflow(page), null);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

test("without JavaScript the composer is a plain box that posts", async () => {
  const page = await phonePage("ph_member", "en", { js: false });
  await page.goto(server.base + "/c/diabetes/new");
  assert.equal(await page.locator(".format-bar").count(), 0);
  await page.locator("#title").fill("Walking after dinner");
  await page.locator("#body").fill("Ten minutes after dinner helps my numbers.");
  await Promise.all([page.waitForURL(/\/t\/\d+/), page.locator("main form button[type=submit]").first().click()]);
  await page.getByText("Ten minutes after dinner helps my numbers.").waitFor();
  await page.context().close();
});

for (const lang of LANGS) {
  test(`${lang}: sign-up's consent is one line and a choice, the full text one tap away`, async () => {
    const page = await phonePage(null, lang);
    await page.goto(server.base + "/register");
    await largeText(page);
    const box = page.locator("input[name=health_data_consent]");
    assert.equal(await box.isChecked(), false);
    assert.ok(await page.locator("#consent-summary").isVisible());
    assert.equal(await page.locator("#consent-notice").isVisible(), false);
    await page.locator("details.consent-full > summary").click();
    assert.ok(await page.locator("#consent-notice").isVisible());
    assert.ok((await page.locator("#consent-notice p").count()) >= 5, "the whole notice is there");
    await noViolations(page, `/register (${lang})`);
    assert.equal(await overflow(page), null);
    await page.context().close();
    // At normal text the whole form is now shorter than the notice alone used to make it.
    const normal = await newPage(browser, { ...phone, extraHTTPHeaders: { "Accept-Language": lang } });
    await normal.goto(server.base + "/register");
    const height = await normal.evaluate(() => document.documentElement.scrollHeight);
    assert.ok(height < 2600, `/register is ${height} px tall at 320 px (${lang})`);
    await normal.context().close();
  });
}

test("a common Spanish or Hindi password is refused, saying it is easy to guess", async () => {
  for (const [lang, password, words] of [
    ["es", "contraseña2024", "Esa contraseña es muy fácil de adivinar"],
    ["hi", "jaimatadi123", "यह पासवर्ड बहुत आसानी से अंदाज़ा"],
    ["en", "password12345", "That password is too easy to guess"],
  ]) {
    const page = await phonePage(null, lang);
    await page.goto(server.base + "/register");
    await page.locator("#username").fill(`weak_${lang}`);
    await page.locator("#password").fill(password);
    await page.locator("form[action='/register'] button[type=submit]").click();
    await page.getByText(words).first().waitFor();
    await noViolations(page, `/register refused (${lang})`);
    await page.context().close();
  }
});

test("Join tapped signed out goes through sign-up and comes back to the group, joined", async () => {
  const page = await phonePage(null, "es");
  await page.goto(server.base + "/c/diabetes");
  await page.getByRole("link", { name: "Unirme", exact: true }).first().click();
  await page.waitForURL(/\/register\?next=/);
  await page.locator("#username").fill("recien_llegada");
  await page.locator("#password").fill(PASSWORD);
  await page.locator("input[name=health_data_consent]").check();
  await Promise.all([page.waitForURL(server.base + "/c/diabetes"), page.locator("form[action='/register'] button[type=submit]").click()]);
  await page.getByRole("link", { name: "Salir del grupo" }).waitFor();
  await page.locator("main a[href='/c/diabetes/new']").waitFor();
  await page.context().close();
});

for (const js of [true, false]) {
  test(`reacting with the keyboard keeps the place (${js ? "with JavaScript: in place, focus kept" : "without: back at the post"})`, async () => {
    const page = await phonePage("ph_member", "hi", { js });
    await page.goto(`${server.base}/t/${server.seededTopic}`);
    const button = page.locator(".reactions form button").first();
    const pressed = await button.getAttribute("aria-pressed");
    await button.focus();
    if (js) {
      await page.evaluate(() => { window.stillHere = true; });
      await page.keyboard.press("Enter");
      await page.waitForFunction((was) => document.querySelector(".reactions form button").getAttribute("aria-pressed") !== was, pressed);
      assert.equal(await page.evaluate(() => window.stillHere), true, "the page was not reloaded");
      assert.equal(await page.evaluate(() => document.activeElement === document.querySelector(".reactions form button")), true, "focus stays on the button");
      const count = await button.locator(".count").textContent();
      assert.equal(count, pressed === "true" ? "" : "1");
      assert.deepEqual(page.problems, []);
    } else {
      await Promise.all([page.waitForURL(/#post-\d+$/), page.keyboard.press("Enter")]);
      assert.notEqual(await page.locator(".reactions form button").first().getAttribute("aria-pressed"), pressed);
    }
    await page.context().close();
  });
}

test("chat messages drawn by the server show their time in the reader's zone", async () => {
  const writer = await phonePage("ph_member", "en", { js: false });
  await writer.goto(`${server.base}/c/diabetes/chat/${ids.room}`);
  await writer.locator("#chat-body").fill("Good morning, everyone!");
  await Promise.all([writer.waitForURL(/\/chat\//), writer.locator("#composer button[type=submit]").first().click()]);
  await writer.context().close();
  for (const lang of LANGS) {
    const page = await phonePage("ph_member", lang, { js: false });
    await page.goto(`${server.base}/c/diabetes/chat/${ids.room}`);
    const when = await page.locator("#messages time.when").last().textContent();
    assert.match(when, /\d{1,2}:\d{2}/, `no time in ${when}`);
    await page.context().close();
  }
});

// ---- #24: the chat composer's toolbar, a group's languages and how it meets, the menu's count --

for (const lang of LANGS) {
  test(`${lang}: the chat composer (a room and a conversation) has the same Bold / List / Link buttons, by keyboard`, async () => {
    if (!ids.conversation) {
      const c = await server.api("POST", "/api/v1/conversations", ids.member, { with: ["ph_mod"], body: "Hello from the walk" });
      ids.conversation = c.conversation.id;
      await server.api("POST", `/api/v1/conversations/${ids.conversation}/accept`, ids.moderator);
    }
    const page = await phonePage("ph_member", lang);
    for (const path of [`/c/diabetes/chat/${ids.room}`, `/conversations/${ids.conversation}`]) {
      await page.goto(server.base + path);
      await largeText(page);
      const bar = page.locator("#composer .format-bar");
      assert.equal(await bar.locator("button").count(), 3, path);
      assert.equal(await bar.getAttribute("role"), "group", path);
      assert.ok(await bar.getAttribute("aria-label"), path);
      const area = page.locator("#chat-body");
      await area.fill("I walked today");
      await area.evaluate((a) => a.setSelectionRange(2, 8));
      // The buttons sit before the box: Shift+Tab from the box reaches Link, List, then Bold.
      await area.focus();
      for (let k = 0; k < 3; k++) await page.keyboard.press("Shift+Tab");
      assert.equal(await page.evaluate(() => document.activeElement.getAttribute("data-format-tool")), "bold", path);
      await page.keyboard.press("Enter");
      assert.equal(await area.inputValue(), "I **walked** today", path);
      assert.equal(await page.evaluate(() => document.activeElement.id), "chat-body", "the focus goes back to the box");
      await area.fill("eggs\nbeans");
      await area.evaluate((a) => a.setSelectionRange(0, a.value.length));
      await page.locator("#composer [data-format-tool=list]").focus();
      await page.keyboard.press("Space");
      assert.equal(await area.inputValue(), "- eggs\n- beans", path);
      await noViolations(page, `${path} with the toolbar (${lang})`);
      assert.equal(await overflow(page), null, `${path} (${lang})`);
      await area.fill("");
    }
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });
}

const MEETS_IN_PERSON = { es: "Se reúne en persona", hi: "आमने-सामने मिलता है" };

for (const lang of ["es", "hi"]) {
  test(`${lang}: a group's languages and how it meets, from the organiser's and the admin's forms at 320 px`, async () => {
    // The organiser's group details: a main language, another ticked, "online and in person".
    const page = await phonePage("ph_org", lang);
    await page.goto(server.base + "/organise/diabetes/details");
    await largeText(page);
    await page.locator("#language").selectOption(lang);
    for (const box of await page.locator("input[name^=also_]").all()) await box.uncheck();
    await page.locator("input[name=also_en]").focus();
    await page.keyboard.press("Space");
    await page.locator("input[name=meeting_style][value=both]").check();
    assert.equal(await overflow(page), null);
    await noViolations(page, `group details (${lang})`);
    await Promise.all([page.waitForURL(/\/details\?saved=1$/), page.locator("main form button[type=submit]").last().click()]);
    const c = await server.api("GET", "/api/v1/communities/diabetes", null);
    assert.deepEqual([c.language, c.languages, c.meeting_style], [lang, [lang, "en"], "both"]);
    assert.ok(await page.locator("input[name=also_en]").isChecked());
    assert.ok(await page.locator("input[name=meeting_style][value=both]").isChecked());
    await page.context().close();

    // The admin starts a group that meets in person, in Hindi and Spanish.
    const admin = await phonePage("organiser", lang);
    await admin.goto(server.base + "/admin");
    await largeText(admin);
    assert.equal(await overflow(admin), null);
    await noViolations(admin, `the admin's form (${lang})`);
    await admin.locator("#slug").fill(`grupo-${lang}`);
    await admin.locator("#name").fill(`Grupo ${lang}`);
    await admin.locator("#language").selectOption(lang);
    await admin.locator(`input[name=also_${lang === "es" ? "hi" : "es"}]`).check();
    await admin.locator("input[name=meeting_style][value=in_person]").check();
    await Promise.all([admin.waitForURL(new RegExp(`/c/grupo-${lang}$`)), admin.locator("form[action='/admin/communities'] button[type=submit]").click()]);
    // Found in the directory by its second language and by meeting in person, said plainly.
    await admin.goto(server.base + `/groups?language=${lang === "es" ? "hi" : "es"}&meeting_style=in_person`);
    const card = admin.locator("ul.cards > li", { hasText: `Grupo ${lang}` });
    await card.waitFor();
    await card.getByText(MEETS_IN_PERSON[lang]).waitFor();
    assert.equal(await overflow(admin), null);
    await noViolations(admin, `the directory's filters (${lang})`);
    assert.deepEqual(admin.problems, []);
    await admin.context().close();
  });
}

test("a moderator's folded menu says how many cases wait, in their language; a member's does not", async () => {
  const topic = await server.api("POST", "/api/v1/communities/diabetes/topics", ids.organiser, {
    title: "Miracle cure for sugar", body: "Stop your pills and drink this tea.",
  });
  await server.api("POST", "/api/v1/reports", ids.member, { target: { type: "post", id: topic.post.id }, reason: "misinformation" });
  const words = { en: /^Menu, \d+ cases? waiting$/, es: /^Menú, \d+ casos? pendientes?$/, hi: /^मेन्यू, \d+ माम(ला|ले) इंतज़ार में$/ };
  for (const lang of LANGS) {
    const page = await phonePage("ph_mod", lang);
    await page.goto(server.base + "/");
    const waiting = await page.evaluate(() => fetch("/me/cases-waiting").then((r) => r.json()));
    assert.ok(waiting.count >= 1, JSON.stringify(waiting));
    const toggle = page.locator("button.menu-toggle");
    assert.equal((await toggle.textContent()).trim(), waiting.menu);
    assert.equal(await toggle.getAttribute("aria-label"), waiting.menu_name);
    assert.match(waiting.menu_name, words[lang]);
    assert.ok(waiting.menu.includes(`(${waiting.count})`), waiting.menu);
    await page.getByRole("button", { name: waiting.menu_name }).waitFor();
    await noViolations(page, `the moderator's menu (${lang})`);
    await page.context().close();
    const member = await phonePage("ph_member", lang);
    await member.goto(server.base + "/");
    assert.equal(await member.locator("button.menu-toggle").getAttribute("aria-label"), null);
    assert.ok(!/\(\d+\)$/.test((await member.locator("button.menu-toggle").textContent()).trim()));
    await member.context().close();
  }
});

// ---- The sweep ------------------------------------------------------------------------------

function visitorPages() {
  return [
    "/", "/register", "/login", "/password-reset", "/password-reset/done", "/password-reset/not-a-token",
    "/c/diabetes", "/c/diabetes/chat", `/c/diabetes/chat/${ids.room}`, "/c/diabetes/milestones", "/c/diabetes/events",
    "/c/diabetes/meetings", `/t/${server.seededTopic}`, `/t/${server.seededTopic}?view=threaded`, "/c/sleeve",
    `/t/${server.membersTopic}`, "/search", "/search?q=breakfast", "/settings", "/help", "/groups",
    `/r/${ids.referral}`, `/i/${ids.invite}`, "/offline", `/events/${ids.event}`, "/verify-email/not-a-token",
    "/unsubscribe/not-a-token", "/u/organiser", "/no-such-page",
  ];
}

function memberPages(username) {
  return [
    "/", "/groups", "/search", "/search?q=breakfast", "/help", "/c/diabetes", "/c/diabetes?left=1", "/c/diabetes/new",
    "/c/diabetes/chat", `/c/diabetes/chat/${ids.room}`, "/c/diabetes/milestones", "/c/diabetes/milestones/new",
    "/c/diabetes/events", "/c/diabetes/meetings", "/c/diabetes/leave", `/t/${server.seededTopic}`,
    `/t/${server.seededTopic}?view=threaded`, `/t/${ids.ownTopic}`, `/p/${server.seededPost}/report`,
    `/events/${ids.event}`, "/notifications", "/settings", "/settings/consent", "/settings/consent/withdraw",
    "/settings/delete", "/goals", "/me/readings", "/me/moderation", `/u/${username}`, "/u/organiser", "/c/sleeve",
    `/t/${server.membersTopic}`, `/i/${ids.invite}`, `/r/${ids.referral}`, "/offline", "/no-such-page",
  ];
}

const ORGANISER_PAGES = [
  "/organise/diabetes", "/organise/diabetes/details", "/organise/diabetes/schedules", "/organise/diabetes/sessions",
  "/organise/diabetes/announcements", "/organise/diabetes/milestone-types", "/organise/diabetes/circles",
  "/organise/diabetes/invitations", "/organise/diabetes/referrals",
];

function roles() {
  return [
    { who: "visitor", user: null, pages: visitorPages() },
    { who: "member", user: "ph_member", pages: [...memberPages("ph_member"), `/p/${ids.ownPost}/edit`, `/circles/${ids.circle}`] },
    { who: "moderator", user: "ph_mod", pages: [...memberPages("ph_mod"), "/mod/diabetes"] },
    {
      who: "organiser", user: "ph_org",
      pages: [...memberPages("ph_org"), ...ORGANISER_PAGES, `/organise/diabetes/referrals/${ids.referral}/print`],
    },
    {
      who: "admin", user: "organiser",
      pages: [...memberPages("organiser"), ...ORGANISER_PAGES, "/mod/diabetes", "/admin", "/admin/announcements", `/circles/${ids.circle}`],
    },
  ];
}

for (const [i, lang] of LANGS.entries()) {
  test(`${lang}: no page scrolls sideways at 320 px and 200% text, for a visitor, member, moderator, organiser and admin`, async () => {
    const problems = [];
    for (const [j, role] of roles().entries()) {
      const page = await phonePage(role.user, lang);
      for (const path of role.pages) {
        await page.goto(server.base + path);
        // The offline page is the service worker's copy for every reader: the setting's class
        // is put on as the member's page would have it.
        if (path === "/offline") await page.evaluate(() => { document.documentElement.className = "ts-200"; });
        assert.equal(await page.locator("html").getAttribute("class"), "ts-200", `${role.who} ${path}: not at 200%`);
        const wide = await overflow(page);
        if (wide) problems.push(`${role.who} ${path} (${lang}): ${wide}`);
        // axe on each page once across the three runs (each role in its own language).
        if ((j + i) % LANGS.length === 0) {
          const violations = await axe(page);
          if (violations.length) problems.push(`${role.who} ${path} (${lang}) axe: ${JSON.stringify(violations)}`);
        }
      }
      if (page.problems.length) problems.push(`${role.who} (${lang}) console: ${page.problems.join("; ")}`);
      await page.context().close();
    }
    assert.deepEqual(problems, []);
  });
}
