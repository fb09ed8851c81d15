// sim-multiplane recorded for 70 s: four planes share the scanner, so each 512×512 plane series gets
// 7.7 frames/s and needs more than 66 s before time is its longest axis (nwbinspector's rule).
import { it } from "vitest";
import { recordAndCheck } from "./recording.js";

it("sim-multiplane.yaml: 70 s hold every delivered frame, every loss in the event record, telemetry of every device", async () => {
  await recordAndCheck("sim-multiplane.yaml", 70, { dropProbability: 0.01 });
}, 150_000);
