// A simulated two-photon rig (sim-2p: Mai Tai, Scientifica PMTs, resonant scanner over ZeroMQ, all real
// protocols over ptys and sockets) recorded live into NWB; the laser's shutter is closed mid-session.
import { describe, expect, it } from "vitest";
import { Session } from "../../src/acquisition/session.js";
import { attr, dataset, openRead, tempPath } from "../nwb/h5read.js";
import { expectShutterClosedInFile } from "./shutter.js";
import { metadata, simulatedRig, stopScanners } from "./sim-rig.js";

describe("a live session on the simulated two-photon rig", () => {
  it("records every frame delivered; closing the shutter darkens the frames after it, and telemetry and events show when", async () => {
    const { profile, sims, rig } = await simulatedRig("sim-2p.yaml");
    const out = tempPath("sim-2p.nwb");
    const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
    sims.startScanners();
    const frames = () => session.status().samples["PlanarMicroscopySeriesGreen"] ?? 0;
    while (frames() < 40) await new Promise((r) => setTimeout(r, 50));
    await session.set("TiSapphireLaser", "shutter", false); // resolves once the laser confirms it closed
    const before = frames();
    while (frames() < before + 40) await new Promise((r) => setTimeout(r, 50));
    await stopScanners(sims, rig);
    const delivered = rig.frameSources.get("ScanFrames")!.counts;
    const report = await session.stop();

    const f = await openRead(out);
    const data = dataset(f, "acquisition/PlanarMicroscopySeriesGreen/data");
    const n = data.shape![0]!;
    // Every frame the source delivered (two channels) is in the file; none was invented or lost in between.
    expect(n * 2).toBe(delivered.frames);
    expect(report.samples["PlanarMicroscopySeriesRed"]).toBe(n);
    expect(dataset(f, "acquisition/PlanarMicroscopySeriesRed/data").shape![0]).toBe(n);

    await expectShutterClosedInFile(out);
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
