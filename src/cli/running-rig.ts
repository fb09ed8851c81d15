// The rig of a profile, ready for a session: the simulators of what it marks simulated started, every
// binding's driver connected, and one close() that takes it all down in the order that loses nothing
// (scanners first, while rigd still listens; then drivers; then the simulators they talk to).
import { type ConnectedRig, connectRig } from "../acquisition/devices.js";
import type { RigProfile } from "../config/index.js";
import { type SimulatedRig, startSimulatedRig } from "../../simulators/rig.js";

export interface RunningRig {
  rig: ConnectedRig;
  sims: SimulatedRig | undefined;
  close(): Promise<void>;
}

export async function openRig(profile: RigProfile): Promise<RunningRig> {
  const sims = profile.bindings.some((b) => b.simulated) ? await startSimulatedRig(profile) : undefined;
  try {
    const rig = await connectRig(profile, sims?.ports);
    return {
      rig,
      sims,
      close: async () => {
        if (sims) {
          sims.stopScanners();
          // Their last frames go out while rigd still listens: none is left queued when the process ends.
          await sims.scanSummaries().catch(() => undefined);
        }
        await rig.close();
        await sims?.stop();
      },
    };
  } catch (e) {
    await sims?.stop();
    throw e;
  }
}
