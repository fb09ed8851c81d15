// Every neurodata type rigd writes must have, in HDF5 terms, the layout pynwb gives it in the reference
// file: the same attributes with the same types and dataspaces, the same untyped datasets, the same
// soft links. Chunking, maxshape and string padding are the only deliberate differences (growing
// datasets are chunked; h5wasm pads variable-length strings with spaces, which readers ignore).
import h5wasm from "h5wasm/node";
import { describe, expect, it } from "vitest";
import { writeExampleSession } from "../../examples/write-example-nwb.js";
import { attr, openRead, tempPath } from "./h5read.js";

type File = InstanceType<typeof h5wasm.File>;

/** HDF5 type and dataspace of an attribute or dataset, without padding, chunking or maxshape. */
function typeOf(meta: { type: number; size: number; vlen: boolean; cset?: number; signed: boolean; shape: number[] | null }): string {
  const rank = meta.shape === null ? "null" : meta.shape.length === 0 ? "scalar" : `rank${meta.shape.length}`;
  const kind = { 0: "int", 1: "float", 3: "string", 6: "compound", 7: "reference" }[meta.type] ?? `class${meta.type}`;
  const sign = meta.type === 0 ? (meta.signed ? "i" : "u") : "";
  const cset = meta.type === 3 ? (meta.cset === 0 ? "ascii" : "utf8") : "";
  return `${kind}${sign}${meta.type === 3 ? (meta.vlen ? "vlen" : meta.size) : meta.size * 8}${cset} ${rank}`;
}

/** Subtypes stand where the schema names their base type (a rig's excitation_source may be pulsed). */
const BASE: Record<string, string> = {
  PulsedExcitationSource: "ExcitationSource",
  LineScan: "IlluminationPattern",
  PlaneAcquisition: "IlluminationPattern",
  RandomAccessScan: "IlluminationPattern",
  BandOpticalFilter: "OpticalFilter",
  EdgeOpticalFilter: "OpticalFilter",
};

/** Per neurodata type: its attributes, untyped members (datasets, links) and typed children's types. */
function layoutByType(f: File): Map<string, Map<string, Set<string>>> {
  const out = new Map<string, Map<string, Set<string>>>();
  const visit = (path: string) => {
    const obj = f.get(path) as InstanceType<typeof h5wasm.Group> | InstanceType<typeof h5wasm.Dataset>;
    const type = obj.attrs["neurodata_type"]?.value as string | undefined;
    const entries = new Map<string, string>();
    for (const [name, a] of Object.entries(obj.attrs)) if (name !== "object_id") entries.set(`@${name}`, typeOf(a.metadata as never));
    if (obj instanceof h5wasm.Group) {
      for (const key of obj.keys()) {
        const child = `${path === "/" ? "" : path}/${key}`;
        const link = f.get_link(child);
        const target = f.get(child) as InstanceType<typeof h5wasm.Group> | InstanceType<typeof h5wasm.Dataset>;
        const typeName = target?.attrs["neurodata_type"]?.value as string | undefined;
        const childType = typeName && (BASE[typeName] ?? typeName);
        if (link) entries.set(childType ? `link->${childType}` : `link ${key}`, "soft");
        else if (childType) entries.set(`child ${childType}`, "typed");
        else if (target instanceof h5wasm.Dataset) {
          entries.set(key, typeOf(target.metadata as never));
          for (const [name, a] of Object.entries(target.attrs)) entries.set(`${key}@${name}`, typeOf(a.metadata as never));
        } else entries.set(key, "group");
        if (!link && !path.startsWith("/specifications")) visit(child);
      }
    }
    if (type) {
      // Several objects of one type: the union of what they hold (optional fields vary).
      const known = out.get(type) ?? new Map<string, Set<string>>();
      for (const [k, v] of entries) known.set(k, (known.get(k) ?? new Set()).add(v));
      out.set(type, known);
    }
  };
  visit("/");
  return out;
}

describe("layout against the reference file written by pynwb", () => {
  it("gives every neurodata type the reference's attributes, datasets, types, dataspaces and links", async () => {
    const path = tempPath("example.nwb");
    await writeExampleSession(path, { seconds: 1.2, planarSize: 32, planeSize: 16, volumeSize: 8, depths: 4, overwrite: false });
    const ours = layoutByType(await openRead(path));
    const reference = layoutByType(await openRead(new URL("../fixtures/reference.nwb", import.meta.url).pathname));

    const shared = [...reference.keys()].filter((t) => ours.has(t));
    // The reference holds one of each type the microscopy layout needs; rigd writes them all.
    expect(shared.sort()).toEqual([...reference.keys()].sort());
    // Names of typed children are the writer's to choose; their types must match.
    const differences = shared.flatMap((type) =>
      [...reference.get(type)!].flatMap(([key, sigs]) =>
        [...sigs].filter((sig) => !ours.get(type)!.get(key)?.has(sig)).map((sig) => `${type} ${key}: reference ${sig}, rigd ${[...(ours.get(type)!.get(key) ?? [])]}`),
      ),
    );
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
    const ref = await openRead(new URL("../fixtures/reference.nwb", import.meta.url).pathname);
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
