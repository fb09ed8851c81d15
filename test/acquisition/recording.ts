// A recording of a shipped simulated profile with acquisitions lost on purpose, and what its file must
// show: every frame the scanner delivered and nothing else, each loss in the event record, telemetry of
// every bound device, serial numbers from the devices, nwbinspector's rules and the reference layout.
import { expect } from "vitest";
import { Session } from "../../src/acquisition/session.js";
import { summarize } from "../../src/nwb/inspect.js";
import { openRead, attr, tempPath } from "../nwb/h5read.js";
import { violations } from "../nwb/inspector-rules.js";
import { layoutByType, referenceFile, typedDifferently } from "../nwb/layout.js";
import { metadata, simulatedRig, stopScanners } from "./sim-rig.js";

/** Sum of N in the event record's "dropped_frames [series] N <what>" entries. */
const lostIn = (events: { text: string }[], what: RegExp) =>
  events.reduce((n, e) => {
    const m = /^dropped_frames \[[^\]]+\] (\d+) (.*)$/.exec(e.text);
    return m && what.test(m[2]!) ? n + Number(m[1]) : n;
  }, 0);

export async function recordAndCheck(file: string, seconds: number, options: { dropProbability: number; edit?: (yaml: string) => string }): Promise<void> {
  const { profile, sims, rig } = await simulatedRig(file, options.edit);
  const out = tempPath(file.replace(".yaml", ".nwb"));
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  sims.startScanners({ dropProbability: options.dropProbability });
  await new Promise((r) => setTimeout(r, seconds * 1000));
  const [scan] = [...(await stopScanners(sims, rig)).values()];
  const counts = rig.frameSources.get(profile.recording.frame_sources[0]!.name)!.counts;
  const identities = new Map(await Promise.all([...rig.lasers].map(async ([name, laser]) => [name, await laser.identify()] as const)));
  await session.stop();

  const f = await summarize(out);
  const series = f.series.filter((s) => s.neurodata_type.endsWith("MicroscopySeries"));
  const samples = series.reduce((n, s) => n + s.samples, 0);
  const framesLost = lostIn(f.events, /^frames? missing/);
  const volumesLost = lostIn(f.events, /^volumes? dropped/);
  const planes = profile.recording.frame_sources[0]!.plane_count;
  const volumetric = series.some((s) => s.neurodata_type === "VolumetricMicroscopySeries");
  console.log(
    `${file}: scanner acquired ${scan!.frames} frames, sent ${scan!.sent}, lost ${scan!.dropped_injected} on purpose, ${scan!.dropped_late} to rendering late and ${scan!.dropped_queue_full} to a full send queue; ` +
      `file ${samples} ${volumetric ? `volumes of ${planes} planes, ${volumesLost} volumes recorded dropped,` : "frames,"} ${framesLost} frames recorded lost; ` +
      series.map((s) => `${s.path.split("/").pop()} ${s.samples} × ${s.shape.slice(1).join("×")}`).join(", "),
  );
  // The receiver got exactly what the scanner sent, and the event record names every frame it lost.
  expect(counts.frames).toBe(scan!.sent);
  expect(scan!.dropped_injected).toBeGreaterThan(0);
  expect(framesLost).toBe(scan!.dropped_injected + scan!.dropped_late + scan!.dropped_queue_full);
  // Every frame delivered is in the file; a volume is there whole, or recorded as dropped.
  if (volumetric) expect(samples + volumesLost).toBe(scan!.frames / planes);
  else expect(samples).toBe(scan!.sent);
  expect(series.every((s) => s.duration_s > seconds - 2)).toBe(true);

  // Telemetry of every bound device: each laser's four quantities, three per PMT.
  const telemetry = f.series.filter((s) => s.neurodata_type === "TimeSeries").map((s) => s.path.split("/").pop()!);
  const expected = [
    ...[...rig.lasers.keys()].flatMap((l) => ["Power", "Wavelength", "Shutter", "Emission"].map((q) => `${l}${q}`)),
    ...rig.photodetectors.flatMap((p) => Object.values(p.channels)).flatMap((d) => ["Gain", "Tripped", "Enabled"].map((q) => `${d}${q}`)),
  ];
  expect(telemetry.sort()).toEqual(expected.sort());
  expect(f.series.filter((s) => s.neurodata_type === "TimeSeries").every((s) => s.samples > 1)).toBe(true);
  // Serial numbers come from the devices themselves.
  for (const [name, id] of identities) expect(f.devices.find((d) => d.name === name)!.serial_number).toBe(id.serial_number);

  // nwbinspector's rules, and every member typed as pynwb types it in the reference file.
  const file5 = await openRead(out);
  expect(violations(file5)).toEqual([]);
  expect(typedDifferently(layoutByType(file5), layoutByType(await openRead(referenceFile())))).toEqual([]);
  expect(attr(file5, "/", "nwb_version")).toBe("2.7.0");
}
