// The organiser tools, the group calendar and the circle page in headless Chromium: an
// organiser plans a live session offered at two times and a member says they are going from
// the calendar; axe-core finds nothing on any of these pages in English, Spanish and Hindi;
// nothing is wider than 320 px at normal and double text size. Run: node --test.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

let server;
let browser;
let circleId;
let roomId;
let eventId;
const MEMBER = "circle_rosa";

/** "YYYY-MM-DD" and "HH:MM" in UTC (the seeded organiser's zone), `hours` from now. */
function utcSlot(hours) {
  const t = new Date(Date.now() + hours * 3600 * 1000).toISOString();
  return [t.slice(0, 10), t.slice(11, 16)];
}

before(async () => {
  server = await startServer();
  browser = await launch();
  const { api, adminToken: token } = server;
  const rooms = await api("GET", "/api/v1/communities/diabetes/rooms", token);
  roomId = rooms[0].id;
  // Something on every list: a schedule, an announcement, a circle, a session running now.
  const [date, time] = utcSlot(24);
  await api("POST", "/api/v1/communities/diabetes/schedules", token, {
    title: "Monday check-in", body: "How was your week?", first_at: `${date}T${time}:00Z`,
    repeat: "weekly", timezone: "America/Mexico_City",
  });
  await api("POST", "/api/v1/communities/diabetes/announcements", token, {
    title: "Walking group this Saturday", body: "Meet at the park at **9**.", pinned: true,
  });
  const now = Date.now();
  const event = await api("POST", "/api/v1/communities/diabetes/events", token, {
    room: roomId, title: "Coffee and questions", starts_at: new Date(now - 60000).toISOString(),
    ends_at: new Date(now + 3 * 3600 * 1000).toISOString(),
  });
  eventId = event.id;
  const circle = await api("POST", "/api/v1/communities/diabetes/circles", token, {
    name: "Tuesday walkers", capacity: 8, meeting: { weekday: "tuesday", time: "18:30", timezone: "America/Mexico_City" },
  });
  circleId = circle.id;
});

after(async () => {
  await browser?.close();
  await server?.stop();
});

async function organiserPage(options = {}) {
  const page = await newPage(browser, options);
  await page.goto(server.base + "/login");
  await page.locator("#username").fill("organiser");
  await page.locator("#password").fill(PASSWORD);
  await Promise.all([page.waitForURL(server.base + "/"), page.locator("form[action^='/login'] button[type=submit]").click()]);
  return page;
}

/** A member of `diabetes`, in the circle when `username` is MEMBER. */
async function memberPage(username, options = {}) {
  const page = await newPage(browser, options);
  await signUp(page, server.base, username);
  await page.goto(server.base + "/c/diabetes");
  await Promise.all([page.waitForURL(server.base + "/c/diabetes"), page.getByRole("button", { name: "Join" }).click()]);
  return page;
}

/** Saves language and text size in /settings. */
async function settings(page, { lang, size }) {
  await page.goto(server.base + "/settings");
  if (lang) await page.locator(`input[name=locale][value="${lang}"]`).check();
  if (size) await page.locator(`input[name=text_size][value="${size}"]`).check();
  await Promise.all([page.waitForURL(/saved=1/), page.locator("form[action='/settings'] button[type=submit]").click()]);
}

const organiserPaths = () => [
  "/organise/diabetes", "/organise/diabetes/details", "/organise/diabetes/schedules", "/organise/diabetes/sessions",
  "/organise/diabetes/announcements", "/organise/diabetes/milestone-types", "/organise/diabetes/circles",
  "/admin/announcements", "/admin", "/c/diabetes",
];
const memberPaths = () => ["/c/diabetes/events", `/events/${eventId}`, `/circles/${circleId}`, "/c/diabetes", `/c/diabetes/chat/${roomId}`];

let placed = false;
async function circleMember(options) {
  const name = placed ? `${MEMBER}${Math.floor(Math.random() * 1e6)}` : MEMBER;
  const page = await memberPage(name, options);
  await server.api("PUT", `/api/v1/circles/${circleId}/members/${name}`, server.adminToken, { role: "leader" });
  placed = true;
  return page;
}

test("an organiser plans a live session at two times and a member says they are going", async () => {
  const org = await organiserPage();
  await org.goto(server.base + "/c/diabetes");
  await org.getByRole("link", { name: "Organiser tools" }).click();
  await org.getByRole("link", { name: "Live sessions" }).click();
  const [d1, t1] = utcSlot(3);
  const [d2, t2] = utcSlot(6);
  await org.getByLabel("Chat room").selectOption(String(roomId));
  await org.locator("#e-title").fill("Evening sugar chat");
  await org.getByLabel("What is it about?").fill("Bring your questions about dinner.");
  await org.locator("#e-date").fill(d1);
  await org.locator("#e-time").fill(t1);
  await org.getByLabel("How long").selectOption("60");
  await org.locator("#e-also-date-1").fill(d2);
  await org.locator("#e-also-time-1").fill(t2);
  await Promise.all([org.waitForURL(/sessions\?saved=1/), org.getByRole("button", { name: "Plan session" }).click()]);
  assert.equal(await org.locator(".cards li", { hasText: "Evening sugar chat" }).count(), 2);
  assert.deepEqual(await axe(org), []);

  const member = await memberPage("calendar_ben");
  await member.goto(server.base + "/c/diabetes");
  await member.getByRole("link", { name: "Calendar" }).click();
  await member.getByRole("heading", { name: "Live sessions coming up" }).waitFor();
  const card = member.locator(".cards > li", { hasText: "Evening sugar chat" }).first();
  await card.getByText("Also offered at").waitFor();
  await Promise.all([member.waitForURL(/\/c\/diabetes\/events#e-\d+$/), card.getByRole("button", { name: "I am going" }).click()]);
  const after = member.locator(".cards > li", { hasText: "Evening sugar chat" }).first();
  await after.getByText("You are going.").waitFor();
  await after.getByText("1 going").waitFor();
  await org.reload();
  await org.locator(".cards li", { hasText: "Evening sugar chat" }).getByText("1 going").first().waitFor();
  // The room shows the session running now.
  await member.goto(`${server.base}/c/diabetes/chat/${roomId}`);
  await member.getByText(/Live now: Coffee and questions until \d\d:\d\d/).waitFor();
  assert.deepEqual(org.problems, []);
  assert.deepEqual(member.problems, []);
});

test("axe-core finds no violations on the organiser, calendar and circle pages, in every language", async () => {
  const found = [];
  const org = await organiserPage();
  const member = await circleMember();
  for (const lang of ["en", "es", "hi"]) {
    await settings(org, { lang });
    await settings(member, { lang });
    for (const path of organiserPaths()) {
      await org.goto(server.base + path);
      assert.equal(await org.locator("html").getAttribute("lang"), lang, path);
      for (const v of await axe(org)) found.push({ path, who: "organiser", lang, ...v });
    }
    // A form sent back with its reasons.
    await org.goto(server.base + "/organise/diabetes/schedules");
    await org.locator("#s-title").fill("Hi");
    await org.locator("#s-body").fill("x");
    await org.locator("#s-date").fill("2020-01-01");
    await org.locator("#s-time").fill("09:00");
    await org.locator("form[action='/organise/diabetes/schedules'] button[type=submit]").click();
    await org.locator(".errors").waitFor();
    for (const v of await axe(org)) found.push({ path: "schedule form with errors", who: "organiser", lang, ...v });
    for (const path of memberPaths()) {
      await member.goto(server.base + path);
      assert.equal(await member.locator("html").getAttribute("lang"), lang, path);
      for (const v of await axe(member)) found.push({ path, who: "member", lang, ...v });
    }
  }
  // A visitor's calendar (UTC, said so).
  const visitor = await newPage(browser);
  await visitor.goto(server.base + "/c/diabetes/events");
  await visitor.getByText("Times are in UTC").waitFor();
  for (const v of await axe(visitor)) found.push({ path: "visitor calendar", ...v });
  await settings(org, { lang: "en" });
  assert.deepEqual(found, []);
  // The form sent back with reasons answers 422 on purpose; nothing else may be logged.
  assert.deepEqual(org.problems.filter((p) => !/status of 422/.test(p)), []);
  assert.deepEqual(member.problems, []);
});

test("nothing on these pages is wider than 320 px, at normal and double text size", async () => {
  const options = { viewport: { width: 320, height: 640 } };
  const org = await organiserPage(options);
  const member = await circleMember(options);
  for (const size of ["100", "200"]) {
    for (const [page, paths] of [[org, organiserPaths()], [member, memberPaths()]]) {
      await settings(page, { size });
      for (const path of paths) {
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
  }
  await settings(org, { size: "100" });
  assert.deepEqual(org.problems, []);
  assert.deepEqual(member.problems, []);
});
