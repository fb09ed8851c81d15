// Every shipped profile turns into NWB objects the writer accepts, and a device's own serial number
// wins over the profile's (with a warning when they disagree).
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRigProfile } from "../../src/config/index.js";
import { planNwb, rigNameOf, writePlan } from "../../src/acquisition/nwb-plan.js";
import { FRAME_DTYPES } from "../../src/drivers/frame-source.js";
import { NwbWriter } from "../../src/nwb/index.js";
import { attr, openRead, tempPath } from "../nwb/h5read.js";

const profilesDir = new URL("../../profiles/", import.meta.url).pathname;

async function profile(file: string) {
  const checked = await loadRigProfile(profilesDir + file);
  if (!checked.ok) throw new Error(`${file} is invalid`);
  return checked.value;
}

describe("NWB plan of a rig profile", () => {
  it.each(readdirSync(profilesDir).filter((f) => f.endsWith(".yaml")))("%s: the writer takes every object", async (file) => {
    const p = await profile(file);
    const plan = planNwb(p);
    expect(plan.warnings).toEqual([]);
    const path = tempPath("plan.nwb");
    const w = await NwbWriter.create(path, { session_description: "Plan test.", session_start_time: "2026-11-23T09:00:00Z" });
    await writePlan(w, plan);
    // A series is written with its first sample: give the first one a frame (or a volume).
    const first = p.recording.series[0]!;
    const source = p.recording.frame_sources.find((s) => s.name === first.frames.source)!;
    const frame = () => new FRAME_DTYPES[source.data_type](source.frame_shape[0] * source.frame_shape[1]);
    if (first.neurodata_type === "PlanarMicroscopySeries") await w.append(first.name, frame(), [0]);
    else await w.appendVolume(first.name, Array.from({ length: source.plane_count }, frame), 0);
    const report = await w.close();
    expect(report.samples).toEqual({ [first.name]: 1 });
    expect(report.empty).toEqual(p.recording.series.slice(1).map((s) => s.name));
    expect(plan.rigs.map((r) => r.name)).toEqual(p.channels.map((c) => rigNameOf(c.name)));
    expect(plan.planarSeries.length + plan.volumetricSeries.length).toBe(p.recording.series.length);
    const f = await openRead(path);
    const container = first.neurodata_type === "PlanarMicroscopySeries" && first.multi_plane_container ? `${first.multi_plane_container}/` : "";
    expect(attr(f, `acquisition/${container}${first.name}`, "neurodata_type")).toBe(first.neurodata_type);
  });

  it("says in each series' comments where its timestamps come from", async () => {
    const p = await profile("sim-2p.yaml");
    expect(planNwb(p).planarSeries[0]!.comments).toBe("Timestamps are ScanFrames's hardware times, when each frame began, related to the session clock by the fastest delivery (less one frame interval) among its frames.");
    const clockless = { ...p, recording: { ...p.recording, frame_sources: p.recording.frame_sources.map((f) => ({ ...f, clock: "arrival" as const })) } };
    expect(planNwb(clockless).planarSeries[0]!.comments).toBe("Timestamps are the times frames of ScanFrames reached rigd: the source has no clock of its own, so they include its transfer delay and jitter.");
  });

  it("takes a device's own serial number, describes what it reported, and warns where it disagrees with the profile", async () => {
    const p = await profile("sim-2p.yaml");
    const laser = { ...p.rig.excitation_sources[0]!, serial_number: "1111" };
    const profiled = { ...p, rig: { ...p.rig, excitation_sources: [laser] } };
    const controller = { manufacturer: "Scientifica", model: "MDU PMT controller", serial_number: "MDU-77", firmware: "2.1" };
    const plan = planNwb(
      profiled,
      new Map([
        [laser.name, { identity: { manufacturer: "Coherent", model: "Chameleon Ultra II", serial_number: "SIM-4242", firmware: "7.3" }, own: true }],
        ["PMTGreen", { identity: controller, own: false }],
      ]),
    );
    const device = (name: string) => plan.devices.find((d) => d.name === name) as { serial_number?: string; description: string };
    expect(device(laser.name).serial_number).toBe("SIM-4242");
    expect(device(laser.name).description).toBe(`${laser.description}. Identified itself at the start of the session as Coherent Chameleon Ultra II, serial number SIM-4242, firmware 7.3.`);
    // A controller's identity describes the PMT but is not the PMT's serial number.
    expect(device("PMTGreen").serial_number).toBeUndefined();
    expect(device("PMTGreen").description).toMatch(/Its controller identified itself at the start of the session as Scientifica MDU PMT controller, serial number MDU-77, firmware 2\.1\.$/);
    expect(plan.warnings).toEqual([
      `${laser.name}: the profile says serial number 1111, the device reports SIM-4242`,
      `${laser.name}: the profile's model Mai Tai DeepSee is made by Spectra-Physics, the device reports Coherent`,
    ]);
    // Spelling is not a disagreement.
    const same = planNwb(p, new Map([[laser.name, { identity: { manufacturer: "Spectra Physics", model: "MaiTai", serial_number: "3312" }, own: true }]]));
    expect(same.warnings).toEqual([]);
  });
});
