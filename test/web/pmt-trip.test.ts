// The live page served in this process beside a daemon on the simulated sim-2p rig, so that the test can flood a
// simulated PMT with light (as test/acquisition/device-status.test.ts does): the trip shows loudly, Reset trip from
// the page clears it; a page opened mid-session gets the session so far. And a page whose server goes away
// says so, and reconnects once it is back.
import { describe, expect, it } from "vitest";
import { Daemon } from "../../src/acquisition/daemon.js";
import { startWebServer, type WebServer } from "../../src/web/server.js";
import { metadata, simulatedRig } from "../acquisition/sim-rig.js";
import { port } from "../cli/serve-child.js";
import { tempDir } from "../nwb/h5read.js";
import { browserSkipNote, chromium, openPage, pageWaits } from "./browser.js";

describe("the live page in process", () => {
  it.skipIf(!chromium)(`shows a PMT trip loudly, resets it from the page, and reconnects after its server was gone${browserSkipNote}`, { timeout: 180_000 }, async () => {
    const { profile, sims, rig } = await simulatedRig("sim-2p.yaml");
    const daemon = new Daemon({ profile, rig, control: `tcp://127.0.0.1:${port()}`, publish: `tcp://127.0.0.1:${port()}`, dataDir: tempDir() });
    await daemon.start();
    sims.startScanners();
    const address = `127.0.0.1:${port()}`;
    let web: WebServer = await startWebServer({ daemon, profile, rig, address });
    try {
      const { page, errors } = await openPage(web.url);
      const started = await daemon.handle(Buffer.from(JSON.stringify({ cmd: "start", out: "trip.nwb", session: metadata })));
      expect(started).toMatchObject({ ok: true });
      await pageWaits(page, "recording", () => (window as any).rigd.status?.state === "recording");
      expect(await page.$eval("#alarm", (e) => (e as HTMLElement).hidden)).toBe(true);

      sims.pmts.get("PMTGreen")!.lightLevel = 500; // ~344 µA at 0.95 V: over the 100 µA limit
      await pageWaits(page, "the trip at the top of the page", () => !(document.querySelector("#alarm") as HTMLElement).hidden);
      const alarm = await page.$eval("#alarm", (e) => ({ text: e.textContent!, color: getComputedStyle(e).color, size: parseFloat(getComputedStyle(e).fontSize) }));
      expect(alarm.text).toContain("PMTGreen TRIPPED");
      expect(alarm.text).not.toContain("PMTRed");
      expect(alarm.size).toBeGreaterThanOrEqual(18);
      expect(await page.$eval('fieldset.pmt[data-device="PMTGreen"]', (e) => e.classList.contains("tripped"))).toBe(true);
      await pageWaits(page, "the trip as the device's last fault", () => document.querySelector('#devices tr[data-device="PMTGreen"]')!.textContent!.includes("overload protection tripped"));
      // A tripped PMT gives no signal: its image goes dark too.
      await pageWaits(page, "the green image dark", () => Number((document.querySelector('canvas.live[data-series="PlanarMicroscopySeriesGreen"]') as HTMLCanvasElement).dataset.mean) < 110);

      sims.pmts.get("PMTGreen")!.lightLevel = 0;
      await page.click('fieldset.pmt[data-device="PMTGreen"] button[name=reset-trip]');
      await pageWaits(page, "the alarm gone after Reset trip", () => (document.querySelector("#alarm") as HTMLElement).hidden, 60_000);
      expect(await page.$eval('fieldset.pmt[data-device="PMTGreen"]', (e) => e.classList.contains("tripped"))).toBe(false);
      await pageWaits(page, "the reset in the event list", () => [...document.querySelectorAll("#events li")].some((li) => li.textContent!.includes("command [PMTGreen] reset_trip set to true")));
      // A page opened mid-session gets the session's telemetry and events so far.
      const late = await openPage(web.url);
      await pageWaits(late.page, "the session's gains in the late page's plot", () => (window as any).rigd.plots.gain?.data[0].length > 5);
      await pageWaits(late.page, "the reset in the late page's event list", () => [...document.querySelectorAll("#events li")].some((li) => li.textContent!.includes("command [PMTGreen] reset_trip set to true")));
      expect(late.errors).toEqual([]);
      // Stopped from the page after a few seconds: its series are shorter than their 512-pixel frames, and the page
      // says what nwbinspector will say of that, as the stop's answer does. (On a loaded machine the steps above can
      // take over 16.6 s, 512 frames at 30.9 Hz: then there is nothing to warn of, and the page must not.)
      await late.page.click("#stop");
      await pageWaits(late.page, "the session closed", () => (window as any).rigd.status?.state === "closed", 60_000);
      const closed = (await daemon.handle(Buffer.from(JSON.stringify({ cmd: "status" })))) as { result: { samples: Record<string, number> } };
      const warned = () => [...document.querySelectorAll("#errors li.warning")].some((li) => /PlanarMicroscopySeriesGreen/.test(li.textContent!));
      if (closed.result.samples["PlanarMicroscopySeriesGreen"]! <= 512) await pageWaits(late.page, "the stop's warning", warned);
      else expect(await late.page.evaluate(warned)).toBe(false);

      // The server goes away: the page says so; it comes back on the same address: the page reconnects by itself.
      await web.close();
      await pageWaits(page, "the page to say it is disconnected", () => document.querySelector("#connection")!.className === "down");
      expect(await page.$eval("#connection", (e) => e.textContent)).toMatch(/^disconnected from rigd — reconnecting/);
      web = await startWebServer({ daemon, profile, rig, address });
      await pageWaits(page, "the page reconnected", () => document.querySelector("#connection")!.className === "up", 30_000);
      await pageWaits(page, "the closed session's status after reconnecting", () => (window as any).rigd.status?.state === "closed");
      expect(errors).toEqual([]);
    } finally {
      await daemon.close();
      await web.close();
    }
  });
});
