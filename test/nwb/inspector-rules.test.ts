// The example file (every type rigd writes) against nwbinspector's rules, and the rules against a file
// that breaks them.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { writeExampleSession } from "../../examples/write-example-nwb.js";
import { openRead, tempPath } from "./h5read.js";
import { violations } from "./inspector-rules.js";
import { findPython } from "../python.js";

const python = findPython(["h5py"]);

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

  it("finds a table without rows (check_empty_table), as an ROI table written by another program", async () => {
    const { NwbWriter } = await import("../../src/nwb/index.js");
    const h5wasm = (await import("h5wasm/node")).default;
    const path = tempPath("empty-table.nwb");
    const w = await NwbWriter.create(path, { session_description: "Empty table.", session_start_time: "2026-11-23T09:00:00Z" });
    await w.close();
    // rigd's writer refuses a segmentation without ROIs; another program may write one.
    const f = new h5wasm.File(path, "a");
    const table = (f.get("processing") as InstanceType<typeof h5wasm.Group>).create_group("ophys").create_group("SegmentationContainer").create_group("Cells");
    table.create_attribute("neurodata_type", "PlanarSegmentation");
    table.create_attribute("description", "No ROIs yet.");
    table.create_attribute("colnames", [], [0], "S1");
    table.create_dataset({ name: "id", data: new BigInt64Array(0), shape: [0], dtype: "<q" });
    f.close();
    expect(violations(await openRead(path))).toContain("/processing/ophys/SegmentationContainer/Cells: table has no rows");
  });

  it.skipIf(!python.path)(`holds the subject to nwbinspector's forms: a file given other values (with h5py) breaks them, and accepted ones do not${python.skipNote}`, async () => {
    const { NwbWriter } = await import("../../src/nwb/index.js");
    const subjectIn = async (fields: Record<string, string>) => {
      const path = tempPath("subject.nwb");
      const w = await NwbWriter.create(path, {
        session_description: "Subject forms.", session_start_time: "2026-11-23T09:00:00Z", experimenter: ["Doe, Jane"], institution: "Example Institute",
        experiment_description: "Subject forms.", keywords: ["test"], subject: { subject_id: "m1", species: "Mus musculus", sex: "F", age: "P90D", description: "A mouse." },
      });
      await w.close();
      // The writer refuses these values itself, so a file that holds them is made as another program would.
      const script = `import h5py, sys, json\nwith h5py.File(sys.argv[1], "a") as f:\n  for k, v in json.loads(sys.argv[2]).items():\n    del f["general/subject"][k]\n    f["general/subject"][k] = v\n`;
      execFileSync(python.path!, ["-c", script, path, JSON.stringify(fields)]);
      return violations(await openRead(path)).filter((v) => /species|sex|age/.test(v));
    };
    expect(await subjectIn({ species: "Mus musculus domesticus", sex: "XX", age: "P120D/P90D" })).toEqual([
      "species 'Mus musculus domesticus' is not a Latin binomial or an NCBI taxonomy IRI",
      "sex 'XX' is not M/F/O/U",
      "age range 'P120D/P90D' does not increase",
    ]);
    expect(await subjectIn({ species: "Caenorhabditis elegans", sex: "M", age: "90 days" })).toEqual(["sex 'M' is not XO/XX", "age '90 days' is not an ISO 8601 duration or range"]);
    expect(await subjectIn({ species: "http://purl.obolibrary.org/obo/NCBITaxon_10090", sex: "U", age: "P90D/" })).toEqual([]);
    expect(await subjectIn({ species: "Caenorhabditis elegans", sex: "XX", age: "P1.5D/P2W" })).toEqual([]);
  });
});
