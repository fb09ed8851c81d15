// A shipped simulated profile, running: simulators started, drivers connected, and all of it stopped
// after each test. The frame address moves to a free port, since tests run side by side.
import { readFileSync } from "node:fs";
import { afterEach } from "vitest";
import type { ConnectedRig } from "../../src/acquisition/devices.js";
import { openRig, type RunningRig } from "../../src/cli/running-rig.js";
import { formatConfigError, parseRigProfile, type RigProfile } from "../../src/config/index.js";
import type { SimulatedRig } from "../../simulators/rig.js";
import type { ScanSummary } from "../../simulators/zmq-scanner.js";

/** Everything nwbinspector asks of a session's metadata, as a lab would give it. */
export const metadata = {
  session_description: "A session on a simulated rig.",
  experimenter: ["Doe, Jane"],
  institution: "Example Institute",
  lab: "Systems Neuroscience Lab",
  experiment_description: "Calcium imaging recorded live into NWB by rigd.",
  keywords: ["calcium imaging"],
  subject: { subject_id: "mouse-1", species: "Mus musculus", sex: "F" as const, age: "P90D" },
};

let running: RunningRig[] = [];

afterEach(async () => {
  for (const r of running) await r.close();
  running = [];
});

/** `edit` changes the profile's text first (the result must still pass every profile check). */
export async function simulatedRig(file: string, edit: (yaml: string) => string = (y) => y): Promise<{ profile: RigProfile; sims: SimulatedRig; rig: ConnectedRig }> {
  const checked = parseRigProfile(edit(readFileSync(new URL(`../../profiles/${file}`, import.meta.url), "utf8")), file);
  if (!checked.ok) throw new Error(`${file} is invalid:\n${checked.errors.map(formatConfigError).join("\n")}`);
  const p = checked.value;
  const profile = { ...p, bindings: p.bindings.map((b) => (b.driver === "zmq-frames" ? { ...b, address: `tcp://127.0.0.1:${20000 + Math.floor(Math.random() * 20000)}` } : b)) };
  const r = await openRig(profile);
  running.push(r);
  return { profile, sims: r.sims!, rig: r.rig };
}

/**
 * Stops the rig's scanners and waits until each receiver has taken every frame its scanner sent
 * (a scanner finishes the volume under way and one more after stop, so counting right away races it).
 */
export async function stopScanners(sims: SimulatedRig, rig: ConnectedRig): Promise<Map<string, ScanSummary>> {
  sims.stopScanners();
  const scans = await sims.scanSummaries();
  for (const [name, scan] of scans) {
    const source = rig.frameSources.get(name)!;
    const deadline = Date.now() + 10_000;
    while (source.counts.frames < scan.sent) {
      if (Date.now() > deadline) throw new Error(`${name}: the scanner sent ${scan.sent} frames, only ${source.counts.frames} arrived within 10 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  return scans;
}

/** Resolves once `test()` holds, checking every 20 ms; throws naming `what` after `ms`. */
export async function until(test: () => boolean, what: string, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!test()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
