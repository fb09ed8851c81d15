// Records a simulated rig with its online analysis, in process with the real simulators (ptys, ZeroMQ).
import { expect } from "vitest";
import type { AnalysisStatus, TracesMessage } from "../../src/acquisition/analysis.js";
import { Session } from "../../src/acquisition/session.js";
import { metadata, simulatedRig, stopScanners } from "../acquisition/sim-rig.js";
import { tempPath } from "../nwb/h5read.js";

/**
 * Records `seconds` of the rig of profiles/`profileFile` as `edit` changes it into a temporary file `name`: the
 * file, the traces published, and the analysis' counts per series — each checked: every frame (plane) offered
 * was analysed or skipped.
 */
export async function recordAnalysed(profileFile: string, edit: (yaml: string) => string, seconds: number, name: string): Promise<{ out: string; traces: TracesMessage[]; status: AnalysisStatus }> {
  const { profile, sims, rig } = await simulatedRig(profileFile, edit);
  const out = tempPath(name);
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  const traces: TracesMessage[] = [];
  session.traces$.subscribe((t) => traces.push(t));
  sims.startScanners();
  await new Promise((r) => setTimeout(r, seconds * 1000));
  await stopScanners(sims, rig);
  await session.stop();
  const status = session.status().analysis!;
  for (const s of Object.values(status)) expect(s.offered).toBe(s.analysed + s.skipped);
  return { out, traces, status };
}
