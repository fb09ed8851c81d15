// A shipped simulated profile, running: simulators started, drivers connected, and all of it stopped
// after each test. The frame address moves to a free port, since tests run side by side.
import { afterEach } from "vitest";
import type { ConnectedRig } from "../../src/acquisition/devices.js";
import { openRig, type RunningRig } from "../../src/cli/running-rig.js";
import { loadRigProfile, type RigProfile } from "../../src/config/index.js";
import type { SimulatedRig } from "../../simulators/rig.js";

export const metadata = {
  session_description: "A session on a simulated rig.",
  experimenter: ["Doe, Jane"],
  subject: { subject_id: "mouse-1", species: "Mus musculus", sex: "F" as const, age: "P90D" },
};

let running: RunningRig[] = [];

afterEach(async () => {
  for (const r of running) await r.close();
  running = [];
});

export async function simulatedRig(file: string): Promise<{ profile: RigProfile; sims: SimulatedRig; rig: ConnectedRig }> {
  const checked = await loadRigProfile(new URL(`../../profiles/${file}`, import.meta.url).pathname);
  if (!checked.ok) throw new Error(`${file} is invalid`);
  const p = checked.value;
  const profile = { ...p, bindings: p.bindings.map((b) => (b.driver === "zmq-frames" ? { ...b, address: `tcp://127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}` } : b)) };
  const r = await openRig(profile);
  running.push(r);
  return { profile, sims: r.sims!, rig: r.rig };
}
