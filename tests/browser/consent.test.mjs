// Consent to hold health data in a real browser: a member signs up in Spanish leaving the box
// unticked (it is never ticked for them), tries to join a group for a condition and gets the
// consent page in Spanish instead; ticking it there lets them join. The sign-up form, the
// consent page and the withdrawal page pass axe-core and reflow at 320 px, in en, es and hi.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp, PASSWORD } from "./harness.mjs";

let server;
let browser;

before(async () => {
  server = await startServer();
  browser = await launch();
  await server.api("PATCH", "/api/v1/communities/diabetes", server.adminToken, {
    condition: "type-2-diabetes", condition_label: "Diabetes tipo 2",
  });
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

test("unticked at sign-up, joining a condition group asks for consent in Spanish; ticking it works", async () => {
  const page = await newPage(browser, { ...narrow, extraHTTPHeaders: { "Accept-Language": "es-MX,es;q=0.9" } });
  await page.goto(server.base + "/register");
  assert.equal(await page.locator("html").getAttribute("lang"), "es");
  const box = page.getByLabel("Sí, Mutual puede guardar mis datos de salud");
  assert.equal(await box.isChecked(), false, "never ticked for the member");
  // The whole notice is one tap away (issue #24.5).
  await page.locator("details.consent-full > summary").click();
  await page.getByText("Qué son datos de salud aquí").waitFor();
  await fitsAt320(page, "/register");
  await noViolations(page, "/register (es)");
  await page.locator("#username").fill("sin_casilla");
  await page.locator("#password").fill(PASSWORD);
  await page.locator("#locale").selectOption("es");
  await Promise.all([page.waitForURL(server.base + "/"), page.locator("form[action='/register'] button[type=submit]").click()]);

  await page.goto(server.base + "/c/diabetes");
  await page.getByRole("button", { name: "Unirme", exact: true }).first().click();
  await page.getByRole("heading", { name: "Tus datos de salud" }).waitFor();
  assert.equal(await page.locator("html").getAttribute("lang"), "es");
  await page.getByText("Mutual necesita tu sí para guardar datos de salud").waitFor();
  await page.getByText("Puedes retirar tu sí cuando quieras").waitFor();
  await fitsAt320(page, "the consent page");
  await noViolations(page, "the consent page (es)");

  // Saving without the tick asks again; with it, back to the group, and joining works.
  await page.getByRole("button", { name: "Guardar mi decisión" }).click();
  await page.getByText("Marca la casilla si estás de acuerdo").waitFor();
  await noViolations(page, "the consent page with its error (es)");
  await page.getByLabel("Sí, Mutual puede guardar mis datos de salud").check();
  await Promise.all([
    page.waitForURL(server.base + "/c/diabetes"),
    page.getByRole("button", { name: "Guardar mi decisión" }).click(),
  ]);
  await page.getByRole("button", { name: "Unirme", exact: true }).first().click();
  await page.getByRole("link", { name: "Salir del grupo" }).first().waitFor();
  const me = await page.evaluate(async () => (await fetch("/api/v1/me/consents")).json());
  assert.equal(me.health_data.state, "given");
  assert.equal(me.history[0].locale, "es");
  assert.equal(me.history[0].source, "web");

  // The way back out says plainly what happens, before anything happens.
  await page.goto(server.base + "/settings/consent");
  await page.getByText(/Dijiste que sí el/).waitFor();
  await page.getByRole("link", { name: "Retirar mi sí" }).click();
  await page.getByRole("heading", { name: "¿Retirar tu sí?" }).waitFor();
  await page.getByText("Living with type 2 diabetes").waitFor();
  await fitsAt320(page, "the withdrawal page");
  await noViolations(page, "the withdrawal page (es)");
  await Promise.all([
    page.waitForURL(/done=withdrawn/),
    page.getByRole("button", { name: "Sí, retirarlo y borrar" }).click(),
  ]);
  await page.getByText("Retiraste tu sí").first().waitFor();
  await page.goto(server.base + "/c/diabetes");
  await page.getByRole("button", { name: "Unirme", exact: true }).first().waitFor();
  // The consent page answers 403 and the unticked form 422, on purpose.
  assert.deepEqual(page.problems.filter((p) => !/status of (403|422)/.test(p)), []);
});

test("the consent pages pass axe-core and fit 320 px in English and Hindi", async () => {
  for (const [language, tick] of [["en", true], ["hi", false]]) {
    const page = await newPage(browser, narrow);
    await signUp(page, server.base, `consent_${language}`, language, { consent: tick });
    for (const path of ["/settings/consent", "/settings/consent/withdraw", "/settings"]) {
      await page.goto(server.base + path);
      assert.equal(await page.locator("html").getAttribute("lang"), language);
      await fitsAt320(page, `${path} (${language})`);
      await noViolations(page, `${path} (${language})`);
    }
    assert.deepEqual(page.problems, []);
  }
});
