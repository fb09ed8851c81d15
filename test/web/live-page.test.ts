// The live page of a real `rigd serve --http` (sim-2p, run from source), driven in headless Chromium: a session
// started from the page with a saved session file, live images that change, the shutter closed from the page
// (the image goes dark, the telemetry plot and the event list say so), a refused setting shown, a mark, and a
// stop whose file passes the project's NWB checks. A screenshot taken mid-recording is kept as an artifact.
import { copyFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { summarize } from "../../src/nwb/inspect.js";
import { port, serve } from "../cli/serve-child.js";
import { dataset, openRead } from "../nwb/h5read.js";
import { violations } from "../nwb/inspector-rules.js";
import { browserSkipNote, canvasPixels, chromium, openPage, pageWaits } from "./browser.js";

/** The simulated digitizer's offset, all a closed shutter leaves (simulators/sample.ts, OFFSET). */
const OFFSET = 100;
const GREEN = "PlanarMicroscopySeriesGreen";
/** Where the mid-recording screenshot is kept after the test (its temp folder is removed). */
const ARTIFACTS = join(tmpdir(), "rigd-test-artifacts");

describe("the live page", () => {
  it.skipIf(!chromium)(`shows live images, health, telemetry and events, and controls a recording${browserSkipNote}`, { timeout: 240_000 }, async () => {
    const http = `127.0.0.1:${port()}`;
    const { dataDir } = await serve({ args: ["--http", http] });
    const { page, errors } = await openPage(`http://${http}/`);
    const status = () => page.evaluate(() => (window as any).rigd.status);
    expect(await status()).toEqual({ state: "idle" });

    // Start: file name, description, and the subject from a saved session file picked in the page.
    await page.type("#start input[name=out]", "live.nwb");
    await page.type("#start input[name=description]", "Started from the live page.");
    const picker = await page.$("#session-file");
    await (picker as any).uploadFile("examples/session.yaml");
    await pageWaits(page, "the session file in the text area", () => (document.querySelector("#start textarea") as HTMLTextAreaElement).value.includes("mouse-017"));
    await page.click("#start button[type=submit]");
    await pageWaits(page, "recording", () => (window as any).rigd.status?.state === "recording");
    expect(await page.$eval("#session", (e) => e.textContent)).toContain("live.nwb");

    // The live image changes from one read of the canvas to the next.
    const live = `canvas.live[data-series="${GREEN}"]`;
    await pageWaits(page, "a first preview", () => (window as any).rigd.previews["PlanarMicroscopySeriesGreen"] > 0);
    const first = await canvasPixels(page, live);
    const previewsBefore = await page.evaluate(() => ({ n: (window as any).rigd.previews["PlanarMicroscopySeriesGreen"] as number, t: performance.now() }));
    const seen = await page.evaluate(() => (window as any).rigd.previews["PlanarMicroscopySeriesGreen"]);
    await pageWaits(page, "a later preview", (n: number) => (window as any).rigd.previews["PlanarMicroscopySeriesGreen"] > n, 30_000, seen);
    expect(await canvasPixels(page, live)).not.toEqual(first);
    expect(first.length).toBe(128 * 128 * 4);

    // Health from status: per-series rate, samples, and the devices.
    await pageWaits(page, "a frame rate in the health table", () => Number(document.querySelector('#series-health tr[data-series="PlanarMicroscopySeriesGreen"] td:nth-child(2)')?.textContent) > 20);
    expect(await page.$eval('#devices tr[data-device="PMTGreen"]', (e) => e.textContent)).toContain("connected");

    // A mark from the page.
    await page.type("#mark input[name=text]", "stimulus on");
    await page.click("#mark button");
    await pageWaits(page, "the mark in the event list", () => [...document.querySelectorAll("#events li")].some((li) => li.textContent!.endsWith("mark [user] stimulus on")));

    // Only the controls the laser has: a Mai Tai tunes and has a shutter, but no power control.
    const laserControls = await page.$$eval('fieldset.laser[data-device="TiSapphireLaser"] button', (buttons) => buttons.map((b) => b.getAttribute("name")));
    expect(laserControls).toEqual(["shutter-open", "shutter-close", "set-wavelength"]);

    // A setting the laser refuses: the page shows the daemon's error.
    await page.type('fieldset.laser[data-device="TiSapphireLaser"] input[name=wavelength_nm]', "2000");
    await page.click('fieldset.laser[data-device="TiSapphireLaser"] button[name=set-wavelength]');
    await pageWaits(page, "the refusal shown", () => document.querySelector("#errors")!.textContent!.includes("2000 nm is outside the tuning range"));
    expect(await page.$eval("#errors li", (e) => e.textContent)).toMatch(/^TiSapphireLaser wavelength_nm 2000: .*690–1040 nm invalid_request/);

    // Long enough lit for the file check (more than 5 lit frames), and for the plots to show a few seconds.
    await pageWaits(page, "8 s of frames", () => (window as any).rigd.status?.samples?.PlanarMicroscopySeriesGreen > 250, 60_000);
    const lit = Number(await page.$eval(live, (c) => (c as HTMLCanvasElement).dataset.mean));
    expect(lit).toBeGreaterThan(OFFSET + 50);

    // A mid-recording screenshot, kept (RIGD_LIVE_PAGE_SCREENSHOT=docs/live-page.png also copies it there, for the README).
    mkdirSync(ARTIFACTS, { recursive: true });
    const shot = join(ARTIFACTS, "live-page.png");
    await page.screenshot({ path: shot, fullPage: true });
    if (process.env.RIGD_LIVE_PAGE_SCREENSHOT) copyFileSync(shot, process.env.RIGD_LIVE_PAGE_SCREENSHOT);
    console.log(`live page screenshot: ${shot}`);

    // Closing the shutter from the page: the image goes dark, the plot's shutter trace falls to 0, the event shows.
    await page.click('fieldset.laser[data-device="TiSapphireLaser"] button[name=shutter-close]');
    await pageWaits(
      page,
      "the live image dark (mean near the offset)",
      (offset: number, litMean: number) => Number((document.querySelector('canvas.live[data-series="PlanarMicroscopySeriesGreen"]') as HTMLCanvasElement).dataset.mean) - offset < 0.05 * (litMean - offset),
      30_000,
      OFFSET,
      lit,
    );
    const dark = Number(await page.$eval(live, (c) => (c as HTMLCanvasElement).dataset.mean));
    expect(dark).toBeGreaterThan(OFFSET - 5);
    await pageWaits(page, "the shutter's close in the telemetry plot", () => {
      const trace = ((window as any).rigd.plots.shutter.data[1] as (number | null)[]).filter((v) => v !== null);
      return trace.includes(1) && trace.at(-1) === 0;
    });
    await pageWaits(page, "the command in the event list", () => [...document.querySelectorAll("#events li")].some((li) => li.textContent!.includes("command [TiSapphireLaser] shutter set to false")));

    // How many previews reached the page per second and series (the daemon allows 10).
    const previewsAfter = await page.evaluate(() => ({ n: (window as any).rigd.previews["PlanarMicroscopySeriesGreen"] as number, t: performance.now() }));
    const rate = (previewsAfter.n - previewsBefore.n) / ((previewsAfter.t - previewsBefore.t) / 1000);
    console.log(`previews reaching the page: ${rate.toFixed(1)}/s per series; live image mean lit ${lit}, dark ${dark}`);
    expect(rate).toBeGreaterThan(2);

    // Stop once the series outgrow their 512-pixel frames (nwbinspector: time the longest axis).
    await pageWaits(page, "more than 512 frames", () => (window as any).rigd.status?.samples?.PlanarMicroscopySeriesGreen > 530, 90_000);
    await page.click("#stop");
    await pageWaits(page, "the session closed", () => (window as any).rigd.status?.state === "closed", 60_000);
    expect(await page.$eval("#errors", (e) => e.children.length)).toBe(1); // only the refused wavelength
    expect(errors).toEqual([]);

    const out = join(dataDir, "live.nwb");
    const file = await summarize(out);
    expect(file.session_description).toBe("Started from the live page.");
    expect(file.subject["subject_id"]).toBe("mouse-017");
    expect(file.events.map((e) => e.text)).toEqual(expect.arrayContaining(["command [TiSapphireLaser] shutter set to false", "mark [user] stimulus on", expect.stringMatching(/^command_refused \[TiSapphireLaser\] wavelength_nm set to 2000/)]));
    // The page listed every event of the record: those a session makes as it starts (a producer's backlog,
    // identity warnings, before the daemon could watch it) and those of the stop too.
    const listed = await page.$$eval("#events li", (items) => items.map((li) => li.textContent!.replace(/^\S+ s /, "")));
    expect(file.events.filter((e) => !listed.includes(e.text))).toEqual([]);
    expect(listed.every((text) => file.events.some((e) => e.text === text))).toBe(true);
    // The file's shutter telemetry: open, then closed. (How exactly the frames, event and telemetry agree in time is
    // test/cli/serve.test.ts's, run in the timing group; this machine may be busy with other tests here.)
    const f = await openRead(out);
    const shutter = Array.from(dataset(f, "acquisition/TiSapphireLaserShutter/data").value as Float64Array);
    expect(shutter[0]).toBe(1);
    expect(shutter.at(-1)).toBe(0);
    expect(violations(f)).toEqual([]);
    f.close();
  });
});
