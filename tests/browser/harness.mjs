// Starts the real `mutual` binary on 127.0.0.1:0 with a fresh SQLite database, seeds an admin
// and two communities through the CLI and the API, and launches Debian's Chromium (never a
// downloaded browser). Shared by the browser tests and the screenshot command.
import { spawn, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
export const PASSWORD = "green-kettle-river-42";
export const BIN = process.env.MUTUAL_BIN || path.join(here, "..", "..", "target", "debug", "mutual");
export const CHROMIUM = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
export const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

/** The server, its base URL, an admin token and the seeded ids; `extraEnv` overrides the
 * environment (e.g. `MUTUAL_RATE_LIMITS: "on"` for the new-member hold). */
export async function startServer(extraEnv = {}) {
  if (!existsSync(BIN)) throw new Error(`no server binary at ${BIN}: run cargo build first`);
  const dir = mkdtempSync(path.join(tmpdir(), "mutual-browser-"));
  const env = {
    PATH: process.env.PATH,
    DATABASE_URL: `sqlite://${path.join(dir, "mutual.db")}`,
    MUTUAL_DATA_DIR: path.join(dir, "data"),
    MUTUAL_RATE_LIMITS: "off",
    MUTUAL_LISTEN: "127.0.0.1:0",
    RUST_LOG: "warn",
    ...extraEnv,
  };
  const child = spawn(BIN, ["serve"], { env, cwd: dir, stdio: ["ignore", "pipe", "inherit"] });
  const base = await new Promise((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error("the server did not start in 60 s")), 60000);
    child.stdout.on("data", (chunk) => {
      buffer += chunk;
      const m = buffer.match(/listening on (http:\/\/\S+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    child.on("exit", (code) => reject(new Error(`the server exited with ${code}`)));
  });
  execFileSync(BIN, ["admin", "create-user", "--username", "organiser", "--password", PASSWORD, "--role", "admin"], { env, cwd: dir, stdio: "ignore" });
  const api = async (method, url, token, body) => {
    const res = await fetch(base + url, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${url}: ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
  const { token } = await api("POST", "/api/v1/auth/login", null, { username: "organiser", password: PASSWORD });
  await api("POST", "/api/v1/communities", token, {
    slug: "diabetes", name: "Living with type 2 diabetes", visibility: "public",
    description: "Share what helps with sugar, food and feelings.", allow_anonymous: true,
  });
  await api("POST", "/api/v1/communities", token, {
    slug: "sleeve", name: "After gastric sleeve surgery", visibility: "members",
    description: "Life after bariatric surgery, one day at a time.",
  });
  await api("POST", "/api/v1/communities/sleeve/join", token);
  const sleeve = await api("POST", "/api/v1/communities/sleeve/topics", token, {
    title: "Non-scale victory Friday", body: "What did you do this week that you could not do before?",
  });
  const seeded = await api("POST", "/api/v1/communities/diabetes/topics", token, {
    title: "What do you eat for breakfast?", body: "I have been trying **oats with nuts**. My numbers look better.",
  });
  await api("POST", `/api/v1/topics/${seeded.topic.id}/posts`, token, {
    body: "Eggs and beans work for me. Less of a spike.", reply_to: seeded.post.id,
  });
  await api("POST", `/api/v1/topics/${seeded.topic.id}/posts`, token, {
    body: "I lost 12 kg since spring.", content_warning: "weight",
  });
  return {
    base, api, adminToken: token, dataDir: env.MUTUAL_DATA_DIR, seededTopic: seeded.topic.id, seededPost: seeded.post.id, membersTopic: sleeve.topic.id,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function launch() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}`);
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
  });
}

/** A new page that fails the test on any Content-Security-Policy violation or page error. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext(options);
  const page = await context.newPage();
  page.problems = [];
  // The 404 page is visited on purpose; its status is not a problem.
  page.on("console", (m) => {
    if (m.type() === "error" && !/status of 404/.test(m.text())) page.problems.push(m.text());
  });
  page.on("pageerror", (e) => page.problems.push(String(e)));
  return page;
}

/** Runs axe-core inside the page (evaluated over the DevTools protocol, so our CSP stays on). */
export async function axe(page) {
  await page.evaluate(AXE_SOURCE);
  return page.evaluate(async () => {
    const result = await window.axe.run(document, { resultTypes: ["violations"] });
    return result.violations.map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 3).map((n) => n.target.join(" ")),
    }));
  });
}

/** Signs up through the form, ticking the consent to hold health data unless told not to;
 * the page ends on the groups page. */
export async function signUp(page, base, username, language = "en", { consent = true } = {}) {
  await page.goto(base + "/register");
  await page.locator("#username").fill(username);
  await page.locator("#password").fill(PASSWORD);
  await page.locator("#locale").selectOption(language);
  if (consent) await page.locator("input[name=health_data_consent]").check();
  await Promise.all([page.waitForURL(base + "/"), page.locator("form[action='/register'] button[type=submit]").click()]);
}
