// Mutual's pages in headless Chromium: the member flow, Spanish, the no-JavaScript flow,
// reflow at 320 px, and axe-core with zero violations on every page. Run: node --test.
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

test("a member signs up, joins, posts a topic, replies and reacts", async () => {
  const page = await newPage(browser);
  const base = server.base;
  await signUp(page, base, "rosa_p");
  assert.equal(await page.locator("html").getAttribute("lang"), "en");
  const card = page.locator("li", { has: page.locator("a[href='/c/diabetes']") });
  await Promise.all([page.waitForURL(base + "/"), card.getByRole("button", { name: "Join" }).click()]);
  await page.goto(base + "/c/diabetes");
  await page.getByRole("link", { name: "Start a new topic" }).click();
  await page.getByLabel("Title").fill("Walking after dinner");
  await page.getByLabel("Your message").fill("Ten minutes after dinner keeps my **sugar** lower.");
  // The script adds a preview rendered by the server.
  await page.getByRole("button", { name: "Preview" }).click();
  await page.locator(".preview strong", { hasText: "sugar" }).waitFor();
  await Promise.all([page.waitForURL(/\/t\/\d+$/), page.getByRole("button", { name: "Post topic" }).click()]);
  await page.locator(".post .body", { hasText: "Ten minutes after dinner" }).waitFor();
  const topicUrl = page.url();

  await page.getByLabel("Your message").fill("Same here. I walk with my neighbour.");
  await Promise.all([page.waitForURL(/#post-2$/), page.getByRole("button", { name: "Send reply" }).click()]);
  await page.locator("#post-2 .body", { hasText: "I walk with my neighbour" }).waitFor();

  // Reactions answer in place with JavaScript (issue #24.5): no reload, the focus stays.
  await page.locator("#post-1").getByRole("button", { name: /Celebrate/ }).click();
  const pressed = page.locator("#post-1").getByRole("button", { name: /Celebrate 1/ });
  await page.locator("#post-1 .reactions button[aria-pressed=true]").waitFor();
  assert.equal(await pressed.getAttribute("aria-pressed"), "true");
  // Reply to a reply, then see it nested in the threaded view.
  await page.goto(topicUrl);
  await page.locator("#post-2").getByRole("link", { name: "Reply to this" }).click();
  await page.getByLabel("Your message").fill("Good idea, I will try it.");
  await Promise.all([page.waitForURL(/#post-3$/), page.getByRole("button", { name: "Send reply" }).click()]);
  await page.goto(topicUrl + "?view=threaded");
  assert.match(await page.locator("#post-3").getAttribute("class"), /\bd1\b|\bd2\b/);
  assert.deepEqual(page.problems, []);
});

test("reading and posting work without JavaScript", async () => {
  const page = await newPage(browser, { javaScriptEnabled: false });
  const base = server.base;
  await signUp(page, base, "no_script");
  await page.goto(base + "/c/diabetes");
  await Promise.all([page.waitForURL(base + "/c/diabetes"), page.getByRole("button", { name: "Join" }).click()]);
  await page.goto(`${base}/t/${server.seededTopic}`);
  await page.getByLabel("Your message").fill("Porridge with cinnamon for me.");
  await Promise.all([page.waitForURL(/#post-\d+$/), page.getByRole("button", { name: "Send reply" }).click()]);
  await page.locator(".body", { hasText: "Porridge with cinnamon" }).waitFor();
  await page.locator(".post").first().getByRole("button", { name: /Hug/ }).click();
  await page.locator(".post").first().getByRole("button", { name: /Hug 1/ }).waitFor();
});

test("a member whose browser asks for Spanish sees Spanish", async () => {
  const page = await newPage(browser, { locale: "es-MX", extraHTTPHeaders: { "Accept-Language": "es-MX,es;q=0.9" } });
  await page.goto(server.base + "/");
  assert.equal(await page.locator("html").getAttribute("lang"), "es");
  await page.getByRole("heading", { level: 1, name: "Grupos" }).waitFor();
  await page.getByRole("link", { name: "Pedir ayuda ahora" }).first().waitFor();
  await page.goto(server.base + "/register");
  assert.equal(await page.locator("#locale").inputValue(), "es");
  await signUp(page, server.base, "lucia_g", "es");
  await page.goto(`${server.base}/t/${server.seededTopic}`);
  await page.getByText("Aviso de contenido: Cifras de peso").first().waitFor();
  await page.goto(server.base + "/help");
  await page.getByRole("heading", { name: /México: Línea de la Vida/ }).waitFor();
});

test("two members chat live, and a page that lost its connection catches up", async () => {
  const base = server.base;
  const ana = await memberPage();
  const ben = await memberPage();
  await ana.goto(base + "/c/diabetes");
  await Promise.all([ana.waitForURL(/\/c\/diabetes\/chat\/\d+$/), ana.getByRole("link", { name: "Chat rooms" }).click()]);
  const room = ana.url();
  await ben.goto(room);
  await ana.locator("#chat-status", { hasText: "Live" }).waitFor();
  await ben.locator("#chat-status", { hasText: "Live" }).waitFor();
  await ben.locator("#chat-online", { hasText: "2 here now" }).waitFor();

  // Sent over the socket: no page load, and the other member sees it at once, rendered.
  await ana.getByLabel("Your message").fill("Anyone up for a **walk** after lunch?");
  await ana.getByRole("button", { name: "Send" }).click();
  await ben.locator("#messages .body strong", { hasText: "walk" }).waitFor();
  assert.equal(ana.url(), room);
  await ana.locator("#messages li:not(.pending) .body", { hasText: "after lunch" }).waitFor();

  // Typing shows on the other page.
  await ben.getByLabel("Your message").pressSequentially("Me too, at noon");
  await ana.locator("#chat-typing", { hasText: "is typing" }).waitFor();
  await ben.getByRole("button", { name: "Send" }).click();
  await ana.locator("#messages .body", { hasText: "Me too, at noon" }).waitFor();

  // Ben goes offline; Ana writes; when Ben's page reconnects it has the message.
  await ben.context().setOffline(true);
  await ben.evaluate(() => window.dispatchEvent(new Event("offline")));
  await ana.getByLabel("Your message").fill("I will wait by the park gate.");
  await ana.getByRole("button", { name: "Send" }).click();
  await ana.locator("#messages li:not(.pending) .body", { hasText: "park gate" }).waitFor();
  await ben.context().setOffline(false);
  await ben.locator("#messages .body", { hasText: "park gate" }).waitFor({ timeout: 40000 });
  const ids = await ben.locator("#messages li[data-id]").evaluateAll((els) => els.map((e) => e.id));
  assert.equal(new Set(ids).size, ids.length, "no message shown twice");
  assert.deepEqual(ana.problems, []);
});

test("a moderator hides a reported post and its author sees why", async () => {
  const base = server.base;
  const author = await memberPage();
  await author.goto(base + "/c/diabetes/new");
  await author.getByLabel("Title").fill("Just stop eating carbs");
  await author.getByLabel("Your message").fill("Anyone who eats bread is lazy and weak.");
  await Promise.all([author.waitForURL(/\/t\/\d+$/), author.getByRole("button", { name: "Post topic" }).click()]);
  const topic = author.url();

  const reporter = await memberPage();
  await reporter.goto(topic);
  await reporter.locator("#post-1").getByRole("link", { name: "Report" }).click();
  await reporter.getByLabel("Unkind or hurtful").check();
  await reporter.getByRole("button", { name: "Send to moderators" }).click();
  await reporter.getByText("Thank you. The moderators have it.").waitFor();

  const moderator = await newPage(browser);
  await moderator.goto(base + "/login");
  await moderator.locator("#username").fill("organiser");
  await moderator.locator("#password").fill(PASSWORD);
  await Promise.all([moderator.waitForURL(base + "/"), moderator.locator("form[action^='/login'] button[type=submit]").click()]);
  await moderator.goto(base + "/mod/diabetes");
  const item = moderator.locator(".cases li", { hasText: "lazy and weak" });
  await item.waitFor();
  assert.deepEqual(await axe(moderator), []);
  // The card holds a form per kind of action (the post, its author): this one acts on the post.
  const hideForm = item.locator("form", { has: moderator.getByRole("button", { name: "Hide post" }) });
  await hideForm.getByLabel("Reason (members will read it)").fill("Please be kind: no name-calling");
  await Promise.all([moderator.waitForURL(/done=1/), hideForm.getByRole("button", { name: "Hide post" }).click()]);
  await moderator.getByText("Nothing is waiting").waitFor();

  await author.goto(topic);
  await author.getByText("A moderator hid this post").waitFor();
  await author.getByText("Reason: Please be kind: no name-calling").waitFor();
  await author.getByRole("link", { name: "See why, and appeal" }).click();
  await author.getByText("Please be kind: no name-calling").waitFor();
  assert.deepEqual(await axe(author), []);
  await reporter.goto(topic);
  assert.equal(await reporter.getByText("lazy and weak").count(), 0);
  assert.deepEqual(author.problems, []);
  assert.deepEqual(moderator.problems, []);
});

/** Every page we built, for a visitor and for a member. */
function pagesFor(member) {
  const t = server.seededTopic;
  const common = ["/", "/c/diabetes", `/t/${t}`, `/t/${t}?view=threaded`, "/search?q=breakfast",
    "/help", "/settings", "/u/organiser", "/no/such/page", `/t/${server.membersTopic}`, "/c/diabetes/chat"];
  return member
    ? [...common, "/c/diabetes/new", "/notifications", "/c/sleeve", "/mod/diabetes", "/me/moderation", `/p/${server.seededPost}/report`, "/settings/delete"]
    : [...common, "/login", "/register", "/mod/diabetes"];
}

async function memberPage(options = {}) {
  const page = await newPage(browser, options);
  await signUp(page, server.base, `member${Math.floor(Math.random() * 1e6)}`);
  await page.goto(server.base + "/c/diabetes");
  await page.getByRole("button", { name: "Join" }).click();
  await page.waitForURL(server.base + "/c/diabetes");
  return page;
}

test("nothing overflows sideways at 320 px, at normal and double text size", async () => {
  for (const member of [false, true]) {
    const options = { viewport: { width: 320, height: 640 } };
    const page = member ? await memberPage(options) : await newPage(browser, options);
    for (const size of ["100", "200"]) {
      await page.goto(server.base + "/settings");
      await page.locator(`input[name=text_size][value="${size}"]`).check();
      await page.getByRole("button", { name: "Save settings" }).click();
      await page.waitForURL(/saved=1/);
      for (const path of pagesFor(member)) {
        await page.goto(server.base + path);
        const [width, wide] = await page.evaluate(() => [
          document.documentElement.scrollWidth,
          [...document.querySelectorAll("body *")]
            .filter((el) => el.getBoundingClientRect().right > 321)
            .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${(el.textContent || "").trim().slice(0, 30)}`)
            .slice(0, 5),
        ]);
        assert.ok(width <= 320, `${path} at ${size} %: ${width} px wide; ${wide.join(" | ")}`);
      }
    }
    assert.deepEqual(page.problems, []);
  }
});

test("axe-core finds no violations on any page, in every language", async () => {
  const found = [];
  for (const member of [false, true]) {
    for (const lang of ["en", "es", "hi"]) {
      const options = { extraHTTPHeaders: { "Accept-Language": lang } };
      const page = member ? await memberPage(options) : await newPage(browser, options);
      if (member && lang !== "en") {
        await page.goto(server.base + "/settings");
        await page.locator(`input[name=locale][value="${lang}"]`).check();
        await page.locator("form[action='/settings'] button[type=submit]").click();
        await page.waitForURL(/saved=1/);
      }
      for (const path of pagesFor(member)) {
        await page.goto(server.base + path);
        assert.equal(await page.locator("html").getAttribute("lang"), lang, path);
        for (const v of await axe(page)) found.push({ path, member, lang, ...v });
      }
      // A form sent back with errors, too.
      await page.goto(server.base + (member ? "/c/diabetes/new" : "/register"));
      await page.locator("form[method=post] button[type=submit]").last().click();
      await page.waitForLoadState();
      for (const v of await axe(page)) found.push({ path: "form with errors", member, lang, ...v });
      assert.deepEqual(page.problems, [], `${lang} ${member}`);
    }
  }
  assert.deepEqual(found, []);
});
