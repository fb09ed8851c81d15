// Reading a tunable laser while it tunes, as a test must on a busy machine: one reading right after the
// command may come before the first nm has moved, or after the last.
import { vi } from "vitest";
import type { ExcitationSource, ExcitationSourceState } from "../../src/drivers/excitation-source.js";

/** Reads the laser's state until it no longer tunes (within `timeoutMs`); resolves with the readings taken while it did. */
export async function readingsWhileTuning(laser: Pick<ExcitationSource, "readState">, timeoutMs = 3000): Promise<ExcitationSourceState[]> {
  const during: ExcitationSourceState[] = [];
  await vi.waitFor(
    async () => {
      const s = await laser.readState();
      if (s.tuning) during.push(s);
      if (s.tuning) throw new Error(`still tuning at ${s.wavelength_nm} nm`);
    },
    { timeout: timeoutMs, interval: 20 },
  );
  return during;
}
