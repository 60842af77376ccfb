// The member's milestone and goal pages in headless Chromium: a milestone shared and
// celebrated, a goal from the confidence advice to a celebrated milestone, axe-core with zero
// violations in English, Spanish and Hindi, and nothing wider than 320 px at 100 % and 200 %
// text. Run: cargo build --bin mutual && node --test --test-concurrency=1 member.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp } from "./harness.mjs";

let server;
let browser;
let milestoneTopic;

before(async () => {
  server = await startServer();
  browser = await launch();
  const made = await server.api("POST", "/api/v1/communities/diabetes/topics", server.adminToken, {
    title: "Six months of morning walks", body: "I did not think I could. I did.",
    kind: "milestone", milestone: { type: "non_scale_victory" },
  });
  milestoneTopic = made.topic.id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

let counter = 0;
/** A new member who joined diabetes, on a page of their own. */
async function member(options = {}, name = `m${Date.now() % 1e6}${counter++}`) {
  const page = await newPage(browser, options);
  await signUp(page, server.base, name);
  await page.goto(server.base + "/c/diabetes");
  await Promise.all([page.waitForURL(server.base + "/c/diabetes"), page.getByRole("button", { name: "Join" }).click()]);
  page.username = name;
  return page;
}

async function settings(page, name, value) {
  await page.goto(server.base + "/settings");
  await page.locator(`input[name=${name}][value="${value}"]`).check();
  await Promise.all([page.waitForURL(/saved=1/), page.locator("form[action='/settings'] button[type=submit]").click()]);
}

test("a member posts a milestone and another celebrates it", async () => {
  const rosa = await member({}, "rosa_m");
  await rosa.goto(server.base + "/c/diabetes");
  await rosa.getByRole("link", { name: "Share a milestone" }).first().click();
  await rosa.waitForURL(/\/c\/diabetes\/milestones\/new$/);
  await rosa.getByLabel("What kind of milestone?").selectOption("weight_lost");
  await rosa.getByLabel("Title").fill("Down two sizes");
  await rosa.locator("#body").fill("Slow and steady since spring.");
  await rosa.getByLabel("Number", { exact: true }).fill("25");
  await rosa.getByLabel("Unit").fill("lb");
  assert.ok(await rosa.getByLabel("Do not show the number (best for most people)").isChecked(), "hidden is the default");
  await Promise.all([rosa.waitForURL(/\/t\/\d+$/), rosa.getByRole("button", { name: "Share my milestone" }).click()]);
  const topic = rosa.url();
  await rosa.getByText("Your number: 25 lb. Only you see it.").waitFor();

  const ben = await member();
  await ben.goto(topic);
  await ben.locator(".milestone").getByText("Weight lost").waitFor();
  assert.equal(await ben.getByText("25 lb").count(), 0, "others do not see the number");
  const celebrate = ben.getByRole("button", { name: /Celebrate/ });
  assert.equal(await celebrate.getAttribute("aria-pressed"), "false");
  // Celebrating happens in place (no page load) and keeps the focus on the button.
  await celebrate.click();
  await ben.getByRole("button", { name: /Celebrate 1/ }).waitFor();
  assert.equal(await ben.getByRole("button", { name: /Celebrate/ }).getAttribute("aria-pressed"), "true");
  assert.deepEqual(await axe(ben), []);

  await rosa.goto(server.base + "/c/diabetes/milestones");
  await rosa.getByRole("link", { name: "Down two sizes" }).waitFor();
  await rosa.getByText("Celebrations: 1").first().waitFor();
  assert.deepEqual(rosa.problems, []);
  assert.deepEqual(ben.problems, []);
});

test("a goal from creation to a celebrated milestone", async () => {
  const lupe = await member();
  await lupe.goto(server.base + "/c/diabetes");
  await lupe.getByRole("link", { name: "Goals" }).click();
  await lupe.waitForURL(server.base + "/goals");
  await lupe.getByLabel("What will you do?").fill("Walk 15 minutes after dinner");
  await lupe.getByRole("radio", { name: "Each week" }).check();
  await lupe.getByLabel("How many times each week or month?").fill("4");
  await lupe.getByLabel(/How sure are you/).selectOption("4");
  await lupe.getByLabel("Who can see this goal?").selectOption("diabetes");
  await lupe.getByRole("button", { name: "Set my goal" }).click();
  await lupe.getByText("People who are less sure do better with a smaller goal.").waitFor();
  await lupe.getByRole("link", { name: "Make it smaller" }).waitFor();
  assert.deepEqual(await axe(lupe), []);
  lupe.problems = lupe.problems.filter((p) => !/status of 422/.test(p));
  await Promise.all([lupe.waitForURL(/created=\d+#goal-\d+$/), lupe.getByRole("button", { name: "Keep this goal" }).click()]);
  const id = lupe.url().split("#goal-")[1];
  const goal = lupe.locator(`#goal-${id}`);
  await goal.getByText("4 times a week").waitFor();
  await goal.getByLabel("Done").check();
  await goal.getByLabel("A note (you can leave it out)").fill("Felt good");
  await Promise.all([lupe.waitForURL(/checked=/), goal.getByRole("button", { name: "Check in" }).click()]);
  await goal.getByText("This period: Done").waitFor();
  await goal.getByText("A new check-in replaces it.").waitFor();
  await goal.getByText("I reached it — share it as a milestone").click();
  await goal.getByLabel("Share it in this group").selectOption("diabetes");
  assert.equal(await goal.getByLabel("What kind of milestone?").inputValue(), "non_scale_victory");
  await Promise.all([lupe.waitForURL(/\/t\/\d+$/), goal.getByRole("button", { name: "Share my milestone" }).click()]);
  const topic = lupe.url();
  await lupe.getByRole("heading", { name: "Goal reached: Walk 15 minutes after dinner" }).waitFor();

  const ben = await member();
  await ben.goto(topic);
  await ben.getByRole("button", { name: /Celebrate/ }).click();
  await ben.getByRole("button", { name: /Celebrate 1/ }).waitFor();
  await lupe.goto(server.base + "/goals");
  await lupe.getByText("You reached this goal!").waitFor();
  await lupe.getByRole("link", { name: "See your milestone post" }).waitFor();
  assert.deepEqual(lupe.problems, []);
  assert.deepEqual(ben.problems, []);
});

function memberPages() {
  return ["/c/diabetes/milestones", "/c/diabetes/milestones/new", "/goals", "/u/organiser", `/t/${milestoneTopic}`,
    "/c/sleeve/milestones"];
}

test("axe-core finds no violations on the milestone and goal pages, in every language", async () => {
  const found = [];
  for (const lang of ["en", "es", "hi"]) {
    const page = await member({ extraHTTPHeaders: { "Accept-Language": lang } });
    if (lang !== "en") await settings(page, "locale", lang);
    for (const path of memberPages()) {
      await page.goto(server.base + path);
      assert.equal(await page.locator("html").getAttribute("lang"), lang, path);
      for (const v of await axe(page)) found.push({ path, lang, ...v });
    }
    // The forms sent back with their reasons, too.
    await page.goto(server.base + "/c/diabetes/milestones/new");
    await page.locator("#title").fill("A try");
    await page.locator("#body").fill("Something");
    await page.locator("#value").fill("lots");
    await page.locator("form[action$='/milestones/new'] button[type=submit]").first().click();
    await page.locator(".errors").waitFor();
    for (const v of await axe(page)) found.push({ path: "milestone form with errors", lang, ...v });
    await page.goto(server.base + "/goals");
    await page.locator("#g-title").fill("Drink water");
    await page.locator("#g-confidence").selectOption("3");
    await page.locator("form[action='/goals'] button[type=submit]").last().click();
    await page.locator(".warn").waitFor();
    for (const v of await axe(page)) found.push({ path: "goal advice", lang, ...v });
    // A visitor's stub of a members-only feed.
    const visitor = await newPage(browser, { extraHTTPHeaders: { "Accept-Language": lang } });
    await visitor.goto(server.base + "/c/sleeve/milestones");
    for (const v of await axe(visitor)) found.push({ path: "visitor stub", lang, ...v });
    // Forms sent back with reasons answer 422 on purpose; that is not a problem.
    assert.deepEqual(page.problems.filter((p) => !/status of 422/.test(p)), []);
    assert.deepEqual(visitor.problems, []);
  }
  assert.deepEqual(found, []);
});

test("nothing on the milestone and goal pages overflows 320 px, at normal and double text size", async () => {
  const page = await member({ viewport: { width: 320, height: 640 } });
  // Something to show on /goals.
  await page.goto(server.base + "/goals");
  await page.locator("#g-title").fill("Walk to the corner shop and back");
  await page.locator("#g-confidence").selectOption("8");
  await page.locator("form[action='/goals'] button[type=submit]").last().click();
  await page.waitForURL(/created=/);
  for (const size of ["100", "200"]) {
    await settings(page, "text_size", size);
    for (const path of memberPages()) {
      await page.goto(server.base + path);
      await page.locator("details.reach").evaluateAll((ds) => ds.forEach((d) => { d.open = true; }));
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
});
