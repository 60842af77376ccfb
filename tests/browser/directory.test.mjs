// Finding a group and being referred to one: a patient lands on a referral link in Spanish,
// signs up and joins in a few steps; the directory, the welcome, the organiser's referral
// links and the printable page pass axe-core in en, es and hi and reflow at 320 px.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, PASSWORD } from "./harness.mjs";

let server;
let browser;
let code;

before(async () => {
  server = await startServer();
  browser = await launch();
  const { api, adminToken } = server;
  await api("PATCH", "/api/v1/communities/diabetes", adminToken, {
    condition: "type-2-diabetes", condition_label: "Diabetes tipo 2", language: "es", region: "Jalisco, MX",
  });
  await api("POST", "/api/v1/communities/diabetes/meetings", adminToken, {
    title: "Martes de glucosa y presión", place: "Centro de Salud San Juan", address: "Av. Juárez 10, Guadalajara",
    first_at: new Date(Date.now() + 86400000).toISOString(), repeat: "weekly", timezone: "America/Mexico_City",
    notes: "Entrada sin escalones.",
  });
  ({ code } = await api("POST", "/api/v1/communities/diabetes/referrals", adminToken, { label: "Clínica San Juan" }));
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
  await Promise.all([page.waitForURL(server.base + "/"), page.locator("form button[type=submit]").first().click()]);
  return page;
}

test("a patient lands on a referral link in Spanish, signs up and joins in a few steps", async () => {
  const page = await newPage(browser, { extraHTTPHeaders: { "Accept-Language": "es-MX,es;q=0.9" } });
  await page.goto(`${server.base}/r/${code}`);
  assert.equal(await page.locator("html").getAttribute("lang"), "es");
  await page.getByRole("heading", { name: "Bienvenida a Living with type 2 diabetes" }).waitFor();
  await page.getByRole("heading", { name: "Únete en 3 pasos" }).waitFor();
  // The clinic's label is for organisers only.
  assert.equal(await page.getByText("Clínica San Juan").count(), 0);
  assert.equal(await page.locator("#locale").inputValue(), "es");
  await page.getByLabel("Nombre de usuario").fill("paciente_uno");
  await page.locator("#password").fill(PASSWORD);
  // A group for a condition: the patient says yes to keeping health information (its own box).
  await page.getByLabel("Sí, Mutual puede guardar mis datos de salud").check();
  await Promise.all([
    page.waitForURL(/\/c\/diabetes/),
    page.getByRole("button", { name: "Unirme al grupo" }).click(),
  ]);
  // A member now: the group offers to post, not to join; the meetings in person are a tap away.
  assert.equal(await page.getByRole("button", { name: "Unirme" }).count(), 0);
  await page.getByRole("link", { name: "Reuniones en persona" }).click();
  await page.getByText("Centro de Salud San Juan").waitFor();
  await Promise.all([page.waitForURL(/#meeting-/), page.getByRole("button", { name: "Voy a ir" }).click()]);
  await page.getByRole("button", { name: "Ya no voy a ir" }).waitFor();
  await page.getByText("Van: 1").waitFor();
  const links = await server.api("GET", "/api/v1/communities/diabetes/referrals", server.adminToken);
  const link = links.find((l) => l.code === code);
  assert.equal(link.joined, 1);
  assert.ok(link.visits >= 1);
  assert.ok(!JSON.stringify(links).includes("paciente_uno"));
  assert.deepEqual(page.problems, []);
});

test("the directory searches without JavaScript and leaves out nothing it should show", async () => {
  const page = await newPage(browser, { javaScriptEnabled: false });
  await page.goto(server.base + "/");
  await page.getByRole("link", { name: "Find a group near you, in your language" }).click();
  await page.waitForURL(/\/groups$/);
  await page.getByLabel("What are you looking for?").fill("diabetes jalisco");
  await Promise.all([page.waitForURL(/q=diabetes/), page.getByRole("button", { name: "Search" }).click()]);
  await page.getByRole("link", { name: "Living with type 2 diabetes" }).waitFor();
  await page.getByText("Meetings in person: 1").waitFor();
  assert.equal(await page.getByRole("link", { name: "After gastric sleeve surgery" }).count(), 0);
  assert.deepEqual(page.problems, []);
});

function visitorPaths() {
  return ["/groups", "/groups?q=diabetes", `/r/${code}`, "/c/diabetes/meetings"];
}

function organiserPaths() {
  return ["/organise/diabetes/referrals", "/organise/diabetes", "/c/diabetes/meetings", ...["en", "es", "hi"].map((l) => `/organise/diabetes/referrals/${code}/print?lang=${l}`)];
}

test("axe-core finds no violations on these pages, in every language", async () => {
  const found = [];
  for (const lang of ["en", "es", "hi"]) {
    const visitor = await newPage(browser, { extraHTTPHeaders: { "Accept-Language": lang } });
    for (const path of visitorPaths()) {
      await visitor.goto(server.base + path);
      assert.equal(await visitor.locator("html").getAttribute("lang"), lang, path);
      for (const v of await axe(visitor)) found.push({ lang, path, ...v });
    }
    assert.deepEqual(visitor.problems, []);
    await server.api("PATCH", "/api/v1/me", server.adminToken, { locale: lang });
    const organiser = await organiserPage();
    for (const path of organiserPaths()) {
      await organiser.goto(server.base + path);
      for (const v of await axe(organiser)) found.push({ lang, path, ...v });
    }
    // The member's own calendar address, shown once after a button press.
    await organiser.goto(server.base + "/c/diabetes/meetings");
    await Promise.all([organiser.waitForURL(/\/me\/calendar-key$/), organiser.locator("form[action='/me/calendar-key'] button").click()]);
    assert.match(await organiser.locator(".referral-url").innerText(), /calendar\.ics\?key=/);
    for (const v of await axe(organiser)) found.push({ lang, path: "/me/calendar-key", ...v });
    assert.deepEqual(organiser.problems, []);
  }
  await server.api("PATCH", "/api/v1/me", server.adminToken, { locale: "en" });
  assert.deepEqual(found, []);
});

test("the printable page carries an inline QR code and the steps in the chosen language", async () => {
  const page = await organiserPage();
  await page.goto(`${server.base}/organise/diabetes/referrals`);
  await page.getByText("Joined: 1").waitFor();
  await page.getByRole("link", { name: "Español" }).first().click();
  await page.waitForURL(/print\?lang=es/);
  assert.equal(await page.locator("html").getAttribute("lang"), "es");
  await page.getByRole("heading", { name: "Únete en 3 pasos" }).waitFor();
  await page.getByRole("img", { name: "Código QR con el enlace al grupo" }).waitFor();
  assert.ok((await page.locator(".qr svg path, .qr svg rect").count()) > 0);
  assert.deepEqual(page.problems, []);
});

test("nothing overflows sideways at 320 px, at normal and double text size", async () => {
  for (const organiser of [false, true]) {
    const options = { viewport: { width: 320, height: 640 } };
    const page = organiser ? await organiserPage(options) : await newPage(browser, options);
    for (const size of ["100", "200"]) {
      await page.goto(server.base + "/settings");
      await page.locator(`input[name=text_size][value="${size}"]`).check();
      await page.getByRole("button", { name: "Save settings" }).click();
      await page.waitForURL(/saved=1/);
      for (const path of organiser ? organiserPaths() : visitorPaths()) {
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
