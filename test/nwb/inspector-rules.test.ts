// The example file (every type rigd writes) against nwbinspector's rules, and the rules against a file
// that breaks them.
import { describe, expect, it } from "vitest";
import { writeExampleSession } from "../../examples/write-example-nwb.js";
import { openRead, tempPath } from "./h5read.js";
import { violations } from "./inspector-rules.js";

describe("the example file against nwbinspector's rules", () => {
  it("has no violation of the checks that apply to what rigd writes", async () => {
    const path = tempPath("example.nwb");
    await writeExampleSession(path, { seconds: 1.2, planarSize: 32, planeSize: 16, volumeSize: 8, depths: 4, overwrite: false });
    const f = await openRead(path);
    expect(violations(f)).toEqual([]);
  });

  it("finds the violations it looks for (a file that breaks them)", async () => {
    // The rules must not pass everything: a short movie of large frames with regular timestamps breaks two.
    const { NwbWriter } = await import("../../src/nwb/index.js");
    const path = tempPath("bad.nwb");
    const w = await NwbWriter.create(path, { session_description: "Bad.", session_start_time: "2026-11-23T09:00:00Z" });
    const s = await w.createTelemetrySeries({ name: "Regular", description: "Regular samples.", unit: "W", clock: { timestamps: true } });
    await w.append(s, new Float64Array([1, 2, 3, 4]), [0, 0.5, 1, 1.5]);
    await w.close();
    const found = violations(await openRead(path));
    expect(found).toContain("/acquisition/Regular: regular timestamps should be starting_time + rate");
    expect(found).toContain("/general/experimenter missing");
  });
});
