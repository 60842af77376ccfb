// Regenerates docs/screenshots/*.png: the main pages on a small phone (360 × 740), in English,
// Spanish and Hindi, from a fresh server with sample content. Run: node tests/browser/screenshots.mjs
// (after cargo build). Viewport-sized shots keep the files small. Legible Hindi and emoji need
// fonts on the machine that takes them (Debian: fonts-lohit-deva, fonts-noto-color-emoji).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, launch, newPage, signUp, PASSWORD } from "./harness.mjs";

const out = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..", "docs", "screenshots");
mkdirSync(out, { recursive: true });
const server = await startServer();
const browser = await launch();
try {
  const viewport = { width: 360, height: 740 };
  const page = await newPage(browser, { viewport });
  await signUp(page, server.base, "maria_l");
  await page.goto(server.base + "/c/diabetes");
  await page.getByRole("button", { name: "Join" }).click();
  await page.waitForURL(server.base + "/c/diabetes");
  const t = server.seededTopic;
  // Sample content for the newer pages: a milestone, a live session, a goal, chat messages.
  const { api, adminToken } = server;
  const milestone = await api("POST", "/api/v1/communities/diabetes/topics", adminToken, {
    title: "A1c under 7 for the first time", body: "Six months of walking after dinner. Thank you all!",
    kind: "milestone", milestone: { type: "a1c", value: 6.8, unit: "%", show: "value" },
  });
  const rooms = await api("GET", "/api/v1/communities/diabetes/rooms", adminToken);
  const room = rooms[0].id;
  const start = new Date(Date.now() + 26 * 3600 * 1000);
  start.setUTCMinutes(0, 0, 0);
  const end = new Date(start.getTime() + 3600 * 1000);
  await api("POST", "/api/v1/communities/diabetes/events", adminToken, {
    room, title: "Evening check-in", starts_at: start.toISOString(), ends_at: end.toISOString(),
    description: "Bring one small win from this week.",
  });
  const { token: maria } = await api("POST", "/api/v1/auth/login", null, { username: "maria_l", password: PASSWORD });
  await api("POST", "/api/v1/me/goals", maria, {
    title: "Walk 30 minutes after dinner", cadence: "weekly", times_per_period: 5, confidence: 8,
  });
  const shots = [
    ["groups", "/"],
    ["community", "/c/diabetes"],
    ["topic", `/t/${t}`],
    ["topic-threaded", `/t/${t}?view=threaded`],
    ["new-topic", "/c/diabetes/new"],
    ["settings", "/settings"],
    ["help", "/help"],
    ["milestone", `/t/${milestone.topic.id}`],
    ["milestones", "/c/diabetes/milestones"],
    ["goals", "/goals"],
    ["calendar", "/c/diabetes/events"],
  ];
  for (const [name, url] of shots) {
    await page.goto(server.base + url);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
  }
  // A live chat room with a few messages.
  await page.goto(`${server.base}/c/diabetes/chat/${room}`);
  await page.locator("#chat-status", { hasText: "Live" }).waitFor();
  for (const words of ["Good morning! 112 before breakfast today.", "Nice! I am trying **oats with cinnamon**."]) {
    await page.getByLabel("Your message").fill(words);
    await page.getByRole("button", { name: "Send" }).click();
    await page.locator("#messages li:not(.pending) .body", { hasText: words.slice(0, 12) }).waitFor();
  }
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: path.join(out, "chat.png") });
  // The reply form, scrolled into view.
  await page.goto(`${server.base}/t/${t}#reply`);
  await page.screenshot({ path: path.join(out, "topic-reply.png") });
  for (const lang of ["es", "hi"]) {
    const visitor = await newPage(browser, { viewport, extraHTTPHeaders: { "Accept-Language": lang } });
    await visitor.goto(server.base + "/");
    await visitor.screenshot({ path: path.join(out, `groups-${lang}.png`) });
    await visitor.goto(`${server.base}/t/${t}`);
    await visitor.screenshot({ path: path.join(out, `topic-${lang}.png`) });
  }
  const organiser = await newPage(browser, { viewport });
  await organiser.goto(server.base + "/login");
  await organiser.locator("#username").fill("organiser");
  await organiser.locator("#password").fill(PASSWORD);
  await Promise.all([organiser.waitForURL(server.base + "/"), organiser.locator("form[action^='/login'] button[type=submit]").click()]);
  await organiser.goto(server.base + "/organise/diabetes/sessions");
  await organiser.screenshot({ path: path.join(out, "organise-sessions.png") });
  await organiser.goto(server.base + "/mod/diabetes");
  await organiser.screenshot({ path: path.join(out, "moderation.png") });
  const members = await newPage(browser, { viewport });
  await members.goto(`${server.base}/t/${server.membersTopic}`);
  await members.screenshot({ path: path.join(out, "members-only-stub.png") });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
