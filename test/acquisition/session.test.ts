// A simulated two-photon rig (sim-2p: Mai Tai, Scientifica PMTs, resonant scanner over ZeroMQ, all real
// protocols over ptys and sockets) recorded live into NWB; the laser's shutter is closed mid-session.
import { describe, expect, it } from "vitest";
import { Session } from "../../src/acquisition/session.js";
import { attr, dataset, openRead, tempPath } from "../nwb/h5read.js";
import { metadata, simulatedRig } from "./sim-rig.js";

const mean = (a: Uint16Array) => a.reduce((s, v) => s + v, 0) / a.length;

describe("a live session on the simulated two-photon rig", () => {
  it("records every frame delivered; closing the shutter darkens the frames after it, and telemetry and events show when", async () => {
    const { profile, sims, rig } = await simulatedRig("sim-2p.yaml");
    const out = tempPath("sim-2p.nwb");
    const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
    sims.startScanners();
    const frames = () => session.status().samples["PlanarMicroscopySeriesGreen"] ?? 0;
    while (frames() < 40) await new Promise((r) => setTimeout(r, 50));
    await session.set("TiSapphireLaser", "shutter", false); // resolves once the laser confirms it closed
    const closedAt = session.now();
    const before = frames();
    while (frames() < before + 40) await new Promise((r) => setTimeout(r, 50));
    sims.stopScanners();
    const delivered = rig.frameSources.get("ScanFrames")!.counts;
    const report = await session.stop();

    const f = await openRead(out);
    const data = dataset(f, "acquisition/PlanarMicroscopySeriesGreen/data");
    const times = dataset(f, "acquisition/PlanarMicroscopySeriesGreen/timestamps").value as Float64Array;
    const n = data.shape![0]!;
    // Every frame the source delivered (two channels) is in the file; none was invented or lost in between.
    expect(n * 2).toBe(delivered.frames);
    expect(report.samples["PlanarMicroscopySeriesRed"]).toBe(n);
    expect(dataset(f, "acquisition/PlanarMicroscopySeriesRed/data").shape![0]).toBe(n);

    const period = 1 / 30.9;
    const brightness = Array.from({ length: n }, (_, i) => mean(data.slice([[i, i + 1], [], []]) as Uint16Array));
    const lit = brightness.filter((_, i) => times[i]! < closedAt - 1.2 - period); // the Mai Tai's shutter takes ~1 s to confirm
    const dark = brightness.filter((_, i) => times[i]! > closedAt + period);
    expect(lit.length).toBeGreaterThan(5);
    expect(dark.length).toBeGreaterThan(5);
    // Dark frames keep only the digitizer's offset; lit ones add the sample's fluorescence on top.
    const offset = Math.min(...dark);
    console.log(`frame means: lit ${Math.min(...lit).toFixed(1)}–${Math.max(...lit).toFixed(1)}, dark ${offset.toFixed(1)}–${Math.max(...dark).toFixed(1)}`);
    expect(Math.max(...dark) - offset).toBeLessThan(0.05 * (Math.min(...lit) - offset));

    // The event and the shutter telemetry carry the moment the laser first reported the shutter closed
    // (its read-back is asked every 10 ms): the frames went dark then, so they agree to within a frame.
    const firstDark = brightness.findIndex((b, k) => k > 5 && b - offset < 0.05 * (Math.min(...lit) - offset));
    const events = dataset(f, "acquisition/rig_events/data").value as string[];
    const eventTimes = dataset(f, "acquisition/rig_events/timestamps").value as Float64Array;
    const i = events.indexOf("command [TiSapphireLaser] shutter set to false");
    expect(i).toBeGreaterThanOrEqual(0);
    const shutter = Array.from(dataset(f, "acquisition/TiSapphireLaserShutter/data").value as Float64Array);
    const shutterTimes = dataset(f, "acquisition/TiSapphireLaserShutter/timestamps").value as Float64Array;
    expect(shutter[0]).toBe(1);
    expect(shutter[shutter.length - 1]).toBe(0);
    const telemetryClosed = shutterTimes[shutter.indexOf(0)]!;
    console.log(
      `last lit frame at ${times[firstDark - 1]!.toFixed(3)} s, first dark frame at ${times[firstDark]!.toFixed(3)} s; event at ${eventTimes[i]!.toFixed(3)} s, shutter telemetry 0 from ${telemetryClosed.toFixed(3)} s; set() returned at ${closedAt.toFixed(3)} s`,
    );
    // The shutter closed between the last lit frame and the first dark one; both records fall in that
    // interval, give or take one frame.
    const [lastLit, dark0] = [times[firstDark - 1]!, times[firstDark]!];
    for (const t of [eventTimes[i]!, telemetryClosed]) {
      expect(t).toBeGreaterThan(lastLit - period);
      expect(t).toBeLessThan(dark0 + period);
    }
    // Serial numbers come from the devices themselves (the simulated Mai Tai reports 3312).
    expect(attr(f, "general/devices/TiSapphireLaser", "serial_number")).toBe("3312");
  });

  it("warns in the log and the event record when a device is not the one the profile names", async () => {
    // The profile expects the laser with serial number 1111; the simulated one reports 3312.
    const { profile, rig } = await simulatedRig("sim-2p.yaml", (yaml) => yaml.replace("      model: Mai Tai DeepSee\n", "      model: Mai Tai DeepSee\n      serial_number: \"1111\"\n"));
    const out = tempPath("mismatch.nwb");
    const log: string[] = [];
    const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig, log: (line) => log.push(line) });
    await session.stop();
    const warning = "TiSapphireLaser: the profile says serial number 1111, the device reports 3312";
    expect(log).toContain(`warning: ${warning}`);
    const f = await openRead(out);
    expect(dataset(f, "acquisition/rig_events/data").value).toContain(`identity_mismatch [profile] ${warning}`);
    expect(attr(f, "general/devices/TiSapphireLaser", "serial_number")).toBe("3312");
    expect(attr(f, "general/devices/TiSapphireLaser", "description")).toMatch(/Identified itself at the start of the session as Spectra Physics MaiTai, serial number 3312, firmware .+\.$/);
  });
});
