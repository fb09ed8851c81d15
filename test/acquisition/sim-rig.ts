// A shipped simulated profile, running: simulators started, drivers connected, and all of it stopped
// after each test. The frame address moves to a free port, since tests run side by side.
import { afterEach } from "vitest";
import { connectRig, type ConnectedRig } from "../../src/acquisition/devices.js";
import { loadRigProfile, type RigProfile } from "../../src/config/index.js";
import { startSimulatedRig, type SimulatedRig } from "../../simulators/rig.js";

export const metadata = {
  session_description: "A session on a simulated rig.",
  experimenter: ["Doe, Jane"],
  subject: { subject_id: "mouse-1", species: "Mus musculus", sex: "F" as const, age: "P90D" },
};

let running: { sims: SimulatedRig; rig?: ConnectedRig }[] = [];

afterEach(async () => {
  for (const { sims, rig } of running) {
    sims.stopScanners();
    await rig?.close();
    await sims.stop();
  }
  running = [];
});

export async function simulatedRig(file: string): Promise<{ profile: RigProfile; sims: SimulatedRig; rig: ConnectedRig }> {
  const checked = await loadRigProfile(new URL(`../../profiles/${file}`, import.meta.url).pathname);
  if (!checked.ok) throw new Error(`${file} is invalid`);
  const p = checked.value;
  const profile = { ...p, bindings: p.bindings.map((b) => (b.driver === "zmq-frames" ? { ...b, address: `tcp://127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}` } : b)) };
  const sims = await startSimulatedRig(profile);
  const entry: { sims: SimulatedRig; rig?: ConnectedRig } = { sims };
  running.push(entry);
  entry.rig = await connectRig(profile, sims.ports);
  return { profile, sims, rig: entry.rig };
}
