// Every shipped profile turns into NWB objects the writer accepts, and a device's own serial number
// wins over the profile's (with a warning when they disagree).
import { readdirSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { loadRigProfile } from "../../src/config/index.js";
import { planNwb, rigNameOf, writePlan } from "../../src/acquisition/nwb-plan.js";
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
    await w.close();
    expect(plan.rigs.map((r) => r.name)).toEqual(p.channels.map((c) => rigNameOf(c.name)));
    expect(plan.planarSeries.length + plan.volumetricSeries.length).toBe(p.recording.series.length);
    const f = await openRead(path);
    const first = p.recording.series[0]!;
    const container = first.neurodata_type === "PlanarMicroscopySeries" && first.multi_plane_container ? `${first.multi_plane_container}/` : "";
    expect(attr(f, `acquisition/${container}${first.name}`, "neurodata_type")).toBe(first.neurodata_type);
  });

  it("takes a device's reported serial number and warns when the profile says another", async () => {
    const p = await profile("sim-2p.yaml");
    const laser = p.rig.excitation_sources[0]!;
    const plan = planNwb(p, new Map([[laser.name, { manufacturer: "Spectra-Physics", model: "MaiTai", serial_number: "SIM-4242" }]]));
    const written = plan.devices.find((d) => d.name === laser.name) as { serial_number?: string };
    expect(written.serial_number).toBe("SIM-4242");
    expect(plan.warnings).toEqual(laser.serial_number && laser.serial_number !== "SIM-4242" ? [`${laser.name}: the profile says serial number ${laser.serial_number}, the device reports SIM-4242`] : []);
  });
});
