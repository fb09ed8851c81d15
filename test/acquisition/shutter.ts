// What a sim-2p file must show after TiSapphireLaser's shutter was closed mid-recording: lit frames, then
// dark ones (the digitizer's offset only), and the command event and the shutter telemetry at the moment
// the light went, to within a frame.
import { expect } from "vitest";
import { dataset, openRead } from "../nwb/h5read.js";

const PERIOD_S = 1 / 30.9;
const mean = (a: Uint16Array) => a.reduce((s, v) => s + v, 0) / a.length;

export async function expectShutterClosedInFile(path: string): Promise<void> {
  const f = await openRead(path);
  const data = dataset(f, "acquisition/PlanarMicroscopySeriesGreen/data");
  const times = dataset(f, "acquisition/PlanarMicroscopySeriesGreen/timestamps").value as Float64Array;
  const events = dataset(f, "acquisition/rig_events/data").value as string[];
  const eventTimes = dataset(f, "acquisition/rig_events/timestamps").value as Float64Array;
  const i = events.indexOf("command [TiSapphireLaser] shutter set to false");
  expect(i).toBeGreaterThanOrEqual(0);
  const closed = eventTimes[i]!;

  // Where the frames went dark, from the frames themselves: lit before, only the digitizer's offset after.
  const brightness = Array.from({ length: data.shape![0]! }, (_, k) => mean(data.slice([[k, k + 1], [], []]) as Uint16Array));
  const offset = Math.min(...brightness);
  const isDark = (b: number) => b - offset < 0.05 * (brightness[0]! - offset);
  const firstDark = brightness.findIndex(isDark);
  const lit = brightness.slice(0, firstDark);
  const dark = brightness.slice(firstDark);
  expect(lit.length).toBeGreaterThan(5);
  expect(dark.length).toBeGreaterThan(5);
  expect(Math.max(...dark) - offset).toBeLessThan(0.05 * (Math.min(...lit) - offset));

  // The shutter closed between the last lit frame and the first dark one: the event and the telemetry
  // carry the moment the laser first reported it closed, which falls in that interval, give or take a frame.
  const shutter = Array.from(dataset(f, "acquisition/TiSapphireLaserShutter/data").value as Float64Array);
  const shutterTimes = dataset(f, "acquisition/TiSapphireLaserShutter/timestamps").value as Float64Array;
  expect(shutter[0]).toBe(1);
  expect(shutter.at(-1)).toBe(0);
  const telemetryClosed = shutterTimes[shutter.indexOf(0)]!;
  const [lastLit, firstDarkTime] = [times[firstDark - 1]!, times[firstDark]!];
  console.log(
    `frame means: lit ${Math.min(...lit).toFixed(1)}–${Math.max(...lit).toFixed(1)}, dark ${offset.toFixed(1)}–${Math.max(...dark).toFixed(1)}; ` +
      `last lit frame at ${lastLit.toFixed(3)} s, first dark at ${firstDarkTime.toFixed(3)} s; event at ${closed.toFixed(3)} s, shutter telemetry 0 from ${telemetryClosed.toFixed(3)} s`,
  );
  for (const t of [closed, telemetryClosed]) {
    expect(t).toBeGreaterThan(lastLit - PERIOD_S);
    expect(t).toBeLessThan(firstDarkTime + PERIOD_S);
  }
  f.close();
}
