// A setting the device does not carry out is in the event record too, not only an error to the caller: a Mai Tai
// whose shutter is stuck open (it takes SHUTTER 0 and its read-back keeps saying open).
import { expect, it } from "vitest";
import { Session } from "../../src/acquisition/session.js";
import { openRead, tempPath } from "../nwb/h5read.js";
import { metadata, simulatedRig } from "./sim-rig.js";

it("a shutter command the laser ignores rejects, and the event record says what was asked and why it was not done", async () => {
  const { profile, sims, rig } = await simulatedRig("sim-2p.yaml");
  const out = tempPath("refused.nwb");
  const session = await Session.start({ profile, metadata, out, overwrite: false, devices: rig });
  // A stuck shutter: the laser takes the command and nothing moves.
  (sims.lasers.get("TiSapphireLaser") as unknown as { moveShutter(open: boolean): void }).moveShutter = () => undefined;
  await expect(session.set("TiSapphireLaser", "shutter", false)).rejects.toThrow(/shutter still open after SHUTTER 0/);
  // A request rigd refuses itself never reached the device: no event for it.
  await expect(session.set("TiSapphireLaser", "shutter", 0)).rejects.toThrow(/expected true \(open\) or false \(closed\)/);
  await session.stop();

  const f = await openRead(out);
  const events = Array.from((f.get("acquisition/rig_events/data") as { value: string[] }).value);
  expect(events.filter((e) => e.startsWith("command"))).toEqual([
    expect.stringMatching(/^command_refused \[TiSapphireLaser\] shutter set to false was not done: .*shutter still open after SHUTTER 0$/),
  ]);
}, 60_000);
