// A member's private readings page in headless Chromium: readings logged through the plain form,
// the chart image and its text alternative, axe-core with zero violations in English, Spanish
// and Hindi, and nothing wider than 320 px at 100 % and 200 % text.
// Run: cargo build --bin mutual && node --test --test-concurrency=1 readings.test.mjs
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { startServer, launch, newPage, axe, signUp } from "./harness.mjs";

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

let counter = 0;
async function member(options = {}, language = "en") {
  const page = await newPage(browser, options);
  const name = `r${Date.now() % 1e6}${counter++}`;
  await signUp(page, server.base, name, language);
  // In a group, so the milestone form shows too.
  await page.goto(server.base + "/c/diabetes");
  await Promise.all([page.waitForURL(server.base + "/c/diabetes"), page.locator("form[action='/c/diabetes/join'] button").click()]);
  return page;
}

/** Page problems, less the 422 status of a refused form (shown on purpose). */
function problems(page) {
  return page.problems.filter((p) => !/status of 422/.test(p));
}

async function settings(page, name, value) {
  await page.goto(server.base + "/settings");
  await page.locator(`input[name=${name}][value="${value}"]`).check();
  await Promise.all([page.waitForURL(/saved=1/), page.locator("form[action='/settings'] button[type=submit]").click()]);
}

async function logReading(page, fields) {
  await page.goto(server.base + "/me/readings");
  await page.locator("#r-kind").selectOption(fields.kind);
  if (fields.value) await page.locator("#r-value").fill(fields.value);
  if (fields.value2) await page.locator("#r-value2").fill(fields.value2);
  if (fields.unit) await page.locator("#r-unit").selectOption(fields.unit);
  if (fields.context) await page.locator("#r-context").fill(fields.context);
  if (fields.note) await page.locator("#r-note").fill(fields.note);
  await Promise.all([page.waitForURL(/done=saved/), page.locator("form[action='/me/readings'] button[type=submit]").click()]);
}

test("a member logs readings and sees the chart and the chart in words", async () => {
  const page = await member();
  await page.goto(server.base + "/goals");
  await Promise.all([page.waitForURL(/\/me\/readings$/), page.getByRole("link", { name: /My readings/ }).click()]);
  await page.getByText("Only you can see these.").waitFor();
  await page.getByText("You have no readings yet.").first().waitFor();

  await logReading(page, { kind: "glucose", value: "118", context: "fasting" });
  await page.getByText("Saved. Only you can see it.").waitFor();
  await logReading(page, { kind: "glucose", value: "6.4", unit: "mmol/L" });
  await logReading(page, { kind: "blood_pressure", value: "128", value2: "83" });
  await logReading(page, { kind: "note", note: "Walked after lunch" });

  // A slip is refused with the reason, what was typed kept.
  await page.locator("#r-kind").selectOption("weight");
  await page.locator("#r-value").fill("9000");
  await page.locator("form[action='/me/readings'] button[type=submit]").click();
  await page.getByRole("alert").getByText("Check the number.").waitFor();
  assert.equal(await page.locator("#r-value").inputValue(), "9000");

  await page.goto(server.base + "/me/readings");
  const chart = page.locator("#chart-glucose img");
  await chart.waitFor();
  // The image really loads (same-origin, under the page's CSP) and is an SVG.
  const loaded = await chart.evaluate((img) => img.decode().then(() => img.naturalWidth));
  assert.ok(loaded > 0, "the chart image loads");
  const svg = await page.evaluate(async () => {
    const r = await fetch("/api/v1/me/readings/glucose/chart.svg?days=90");
    return [r.headers.get("content-type"), await r.text()];
  });
  assert.match(svg[0], /image\/svg\+xml/);
  assert.match(svg[1], /<desc id="d">2 readings/);
  const words = await page.locator("#chart-glucose").innerText();
  assert.match(words, /The chart in words: 2 readings/);
  // Mixed units on one scale, in the latest reading's unit (118 mg/dL is 6.6 mmol/L).
  assert.match(words, /Lowest 6\.4 mmol\/L, highest 6\.6 mmol\/L\. Latest 6\.4 mmol\/L/);
  await page.locator("#chart-blood_pressure").getByText(/Latest 128\/83 mmHg/).waitFor();
  // The numbers as a table, without images.
  await page.locator("#chart-glucose summary").click();
  await page.locator("#chart-glucose table").getByText("118 mg/dL").waitFor();
  // The note is in the list, never in a chart.
  await page.getByText("Walked after lunch").waitFor();
  assert.ok(!svg[1].includes("Walked"));

  // Delete one.
  const before = await page.locator("ul.readings > li").count();
  await Promise.all([page.waitForURL(/done=deleted/), page.locator("ul.readings > li").first().getByRole("button", { name: /Delete/ }).click()]);
  assert.equal(await page.locator("ul.readings > li").count(), before - 1);
  assert.deepEqual(problems(page), []);
});

test("axe finds nothing on /me/readings in English, Spanish and Hindi", async () => {
  for (const lang of ["en", "es", "hi"]) {
    const page = await member({}, lang);
    await logReading(page, { kind: "weight", value: "82.5" });
    await logReading(page, { kind: "blood_pressure", value: "131", value2: "85" });
    await page.goto(server.base + "/me/readings");
    assert.equal(await page.locator("html").getAttribute("lang"), lang);
    const violations = await axe(page);
    assert.deepEqual(violations, [], `${lang}: ${JSON.stringify(violations, null, 1)}`);
    // With an error shown too.
    await page.locator("#r-kind").selectOption("steps");
    await page.locator("#r-value").fill("-5");
    await page.locator("form[action='/me/readings'] button[type=submit]").click();
    await page.getByRole("alert").first().waitFor();
    assert.deepEqual(await axe(page), [], `${lang} with an error`);
    assert.deepEqual(problems(page), []);
  }
});

test("nothing overflows sideways at 320 px, at normal and double text size", async () => {
  const page = await member({ viewport: { width: 320, height: 640 } });
  await logReading(page, { kind: "glucose", value: "142", context: "after a big meal with family" });
  await logReading(page, { kind: "blood_pressure", value: "128", value2: "83" });
  for (const size of ["100", "200"]) {
    await settings(page, "text_size", size);
    await page.goto(server.base + "/me/readings");
    const [width, wide] = await page.evaluate(() => [
      document.documentElement.scrollWidth,
      [...document.querySelectorAll("body *")]
        .filter((el) => el.getBoundingClientRect().right > 321)
        .map((el) => `${el.tagName.toLowerCase()}.${el.className}: ${(el.textContent || "").trim().slice(0, 30)}`)
        .slice(0, 5),
    ]);
    assert.ok(width <= 320, `/me/readings at ${size} %: ${width} px wide; ${wide.join(" | ")}`);
  }
  assert.deepEqual(problems(page), []);
});
