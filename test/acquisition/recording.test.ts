// Longer recordings of the shipped simulated profiles, with frames lost on purpose: the file holds every
// frame the scanner delivered, each loss is in the event record, and every bound device has telemetry.
import { describe, expect, it } from "vitest";
import { Session } from "../../src/acquisition/session.js";
import { summarize } from "../../src/nwb/inspect.js";
import { tempPath } from "../nwb/h5read.js";
import { metadata, simulatedRig } from "./sim-rig.js";

describe.each([
  ["sim-2p.yaml", 20],
  ["sim-multiplane.yaml", 20],
])("%s", (file, seconds) => {
  it(`records ${seconds} s: every delivered frame, every loss in the event record, telemetry of every device`, async () => {
    const { profile, sims, rig } = await simulatedRig(file);
    const out = tempPath(file.replace(".yaml", ".nwb"));
    const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
    sims.startScanners({ dropProbability: 0.01 });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    sims.stopScanners();
    const [scan] = [...(await sims.scanSummaries()).values()];
    await new Promise((r) => setTimeout(r, 500)); // the last frames on their way
    const counts = rig.frameSources.get("ScanFrames")!.counts;
    await session.stop();

    const f = await summarize(out);
    const series = f.series.filter((s) => s.neurodata_type.endsWith("MicroscopySeries"));
    const lost = (text: string) => Number(/^dropped_frames \[[^\]]+\] (\d+) frames missing/.exec(text)?.[1] ?? 0);
    const lostInFile = f.events.reduce((n, e) => n + lost(e.text), 0);
    console.log(`${file}: scanner acquired ${scan!.frames}, sent ${scan!.sent}, lost ${scan!.dropped_injected} on purpose and ${scan!.dropped_late + scan!.dropped_queue_full} to overruns; file ${series.reduce((n, s) => n + s.samples, 0)} frames, ${lostInFile} recorded lost`);
    expect(series.reduce((n, s) => n + s.samples, 0)).toBe(counts.frames);
    expect(counts.frames).toBe(scan!.sent);
    expect(scan!.dropped_injected).toBeGreaterThan(0);
    expect(lostInFile).toBe(scan!.dropped_injected + scan!.dropped_late + scan!.dropped_queue_full);
    expect(series.every((s) => s.duration_s > seconds - 2)).toBe(true);
    // Telemetry of every bound device: the laser's four quantities, three per PMT.
    const telemetry = f.series.filter((s) => s.neurodata_type === "TimeSeries").map((s) => s.path.split("/").pop());
    expect(telemetry).toEqual(expect.arrayContaining(["TiSapphireLaserPower", "TiSapphireLaserWavelength", "TiSapphireLaserShutter", "PMTGreenGain", "PMTRedGain", "PMTGreenTripped"]));
    expect(f.devices.find((d) => d.name === "TiSapphireLaser")!.serial_number).toBe("3312");
  }, 90_000);
});
