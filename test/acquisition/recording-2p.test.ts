// sim-2p recorded for 20 s: 512×512 at 30.9 frames/s, so after 17 s time is the longest axis of each series.
import { it } from "vitest";
import { recordAndCheck } from "./recording.js";

it("sim-2p.yaml: 20 s hold every delivered frame, every loss in the event record, telemetry of every device", async () => {
  await recordAndCheck("sim-2p.yaml", 20, { dropProbability: 0.01 });
}, 90_000);
