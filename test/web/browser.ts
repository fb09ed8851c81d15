/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (The functions these tests run in the page are type-checked against the browser's DOM.)
// Headless Chromium for the live page's tests, through puppeteer-core: Debian's chromium (.ci/run installs it),
// or RIGD_CHROMIUM. Without one, the tests that need it are reported skipped with the reason in their names,
// never passed (and fail where RIGD_TESTS_REQUIRE_ALL is set; see test/python.ts).
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import puppeteer, { type Browser, type EvaluateFunc, type Page } from "puppeteer-core";
import { afterEach } from "vitest";
import { skipped } from "../python.js";

function findChromium(): string | undefined {
  const dirs = (process.env.PATH ?? "").split(delimiter).filter(Boolean);
  const candidates = [process.env.RIGD_CHROMIUM, ...["chromium", "chromium-browser", "google-chrome"].flatMap((name) => dirs.map((d) => join(d, name)))];
  return candidates.find((p) => {
    if (!p) return false;
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

export const chromium = findChromium();
/** Appended to the names of the tests that drive a browser: empty, or why they are skipped. */
export const browserSkipNote = chromium ? "" : skipped("no chromium on PATH (apt-get install chromium; .ci/run does) and RIGD_CHROMIUM unset");

let browsers: Browser[] = [];
afterEach(async () => {
  for (const b of browsers) await b.close();
  browsers = [];
});

/** A page of a fresh headless browser (closed after the test), its errors collected. */
export async function openPage(url: string): Promise<{ page: Page; errors: string[] }> {
  // --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
  const browser = await puppeteer.launch({ executablePath: chromium!, headless: true, args: ["--no-sandbox", "--disable-gpu"], defaultViewport: { width: 1400, height: 1100 } });
  browsers.push(browser);
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push((e as Error).message));
  page.on("response", (r) => r.status() >= 400 && errors.push(`${r.status()} ${r.url()}`));
  await page.goto(url);
  // Connected, and the daemon's hello (rig, status, history) taken in: it follows the socket's opening.
  await page.waitForFunction(() => document.querySelector("#connection")?.className === "up" && (window as unknown as { rigd: { status: unknown } }).rigd.status !== null, { timeout: 30_000 });
  return { page, errors };
}

/** Polls `condition` in the page until it holds (generous: the CI machine has two busy cores). */
export async function pageWaits<A extends (string | number | boolean)[]>(page: Page, what: string, condition: EvaluateFunc<A>, timeoutMs = 30_000, ...args: A): Promise<void> {
  try {
    await page.waitForFunction(condition, { timeout: timeoutMs, polling: 100 }, ...args);
  } catch (e) {
    throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${(e as Error).message.split("\n")[0]}`);
  }
}

/** The pixels of a canvas of the page (RGBA bytes, as drawn). */
export async function canvasPixels(page: Page, selector: string): Promise<number[]> {
  return page.$eval(selector, (c): number[] => {
    const canvas = c as HTMLCanvasElement;
    return Array.from(canvas.getContext("2d")!.getImageData(0, 0, canvas.width, canvas.height).data);
  });
}
