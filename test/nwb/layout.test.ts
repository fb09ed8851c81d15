// Every neurodata type rigd writes must have, in HDF5 terms, the layout pynwb gives it in the reference
// file: the same attributes with the same types and dataspaces, the same untyped datasets, the same
// soft links. Chunking, maxshape and string padding are the only deliberate differences (growing
// datasets are chunked; h5wasm pads variable-length strings with spaces, which readers ignore).
import h5wasm from "h5wasm/node";
import { describe, expect, it } from "vitest";
import { writeExampleSession } from "../../examples/write-example-nwb.js";
import { attr, openRead, tempPath } from "./h5read.js";
import { layoutByType, missingFromReference, referenceFile, typeOf } from "./layout.js";

type File = InstanceType<typeof h5wasm.File>;

describe("layout against the reference file written by pynwb", () => {
  it("gives every neurodata type the reference's attributes, datasets, types, dataspaces and links", async () => {
    const path = tempPath("example.nwb");
    await writeExampleSession(path, { seconds: 1.2, planarSize: 32, planeSize: 16, volumeSize: 8, depths: 4, overwrite: false });
    const ours = layoutByType(await openRead(path));
    const reference = layoutByType(await openRead(referenceFile()));

    // Every illumination pattern ndx-microscopy 0.3.0 has, the random-access one included (used by a segmentation).
    for (const type of ["LineScan", "PlaneAcquisition", "RandomAccessScan"]) expect(ours.has(type), type).toBe(true);
    const shared = [...reference.keys()].filter((t) => ours.has(t));
    // The reference holds one of each type the microscopy layout needs; rigd writes them all.
    expect(shared.sort()).toEqual([...reference.keys()].sort());
    // Names of typed children are the writer's to choose; their types must match.
    const differences = missingFromReference(ours, reference);
    expect(differences).toEqual([]);
    // The deliberate difference: table columns carry the hdmf-common namespace (where the spec
    // defines them) where pynwb 2.8 wrote hdmf-experimental.
    const f = await openRead(path);
    expect(attr(f, "processing/ophys/SegmentationContainer/PlanarSegmentation/pixel_mask", "namespace")).toBe("hdmf-common");
  });

  it("caches all five namespaces exactly as pynwb does, with .specloc a scalar reference to them", async () => {
    const path = tempPath("example.nwb");
    await writeExampleSession(path, { seconds: 1.2, planarSize: 32, planeSize: 16, volumeSize: 8, depths: 4, overwrite: false });
    const ours = await openRead(path);
    const ref = await openRead(referenceFile());
    const specs = (f: File) => (f.get("specifications") as InstanceType<typeof h5wasm.Group>).paths().sort();
    expect(specs(ours)).toEqual(specs(ref));
    for (const p of specs(ref)) {
      const d = ref.get(`specifications${p}`);
      if (d instanceof h5wasm.Dataset) expect((ours.get(`specifications${p}`) as InstanceType<typeof h5wasm.Dataset>).value).toBe(d.value);
    }
    const specloc = ours.attrs[".specloc"]!;
    expect(specloc.shape).toEqual([]);
    expect(typeOf(specloc.metadata as never)).toBe("reference64 scalar");
  });
});
