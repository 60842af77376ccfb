// Regenerates docs/screenshots/*.png: the main pages on a small phone (360 × 740), in English,
// Spanish and Hindi, from a fresh server with sample content. Run: node tests/browser/screenshots.mjs
// (after cargo build). Viewport-sized shots keep the files small. Legible Hindi and emoji need
// fonts on the machine that takes them (Debian: fonts-lohit-deva, fonts-noto-color-emoji).
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { startServer, launch, newPage, signUp } from "./harness.mjs";

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
  const shots = [
    ["groups", "/"],
    ["community", "/c/diabetes"],
    ["topic", `/t/${t}`],
    ["topic-threaded", `/t/${t}?view=threaded`],
    ["new-topic", "/c/diabetes/new"],
    ["settings", "/settings"],
    ["help", "/help"],
  ];
  for (const [name, url] of shots) {
    await page.goto(server.base + url);
    await page.screenshot({ path: path.join(out, `${name}.png`) });
  }
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
  const members = await newPage(browser, { viewport });
  await members.goto(`${server.base}/t/${server.membersTopic}`);
  await members.screenshot({ path: path.join(out, "members-only-stub.png") });
  console.log(`screenshots written to ${out}`);
} finally {
  await browser.close();
  await server.stop();
}
