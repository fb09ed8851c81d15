// The HDF5 layout of each neurodata type in a file — attributes, untyped datasets and links with their
// types and dataspaces — to compare with what pynwb wrote in the reference file.
import h5wasm from "h5wasm/node";

type File = InstanceType<typeof h5wasm.File>;

/** HDF5 type and dataspace of an attribute or dataset, without padding, chunking or maxshape. */
export function typeOf(meta: { type: number; size: number; vlen: boolean; cset?: number; signed: boolean; shape: number[] | null }): string {
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
export function layoutByType(f: File): Map<string, Map<string, Set<string>>> {
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

export type Layout = ReturnType<typeof layoutByType>;

/** Where a file's types differ from the reference's: per type, every member the reference has must be there with its type. */
export function missingFromReference(ours: Layout, reference: Layout): string[] {
  return [...reference.keys()].filter((t) => ours.has(t)).flatMap((type) =>
    [...reference.get(type)!].flatMap(([key, sigs]) =>
      [...sigs].filter((sig) => !ours.get(type)!.get(key)?.has(sig)).map((sig) => `${type} ${key}: reference ${sig}, rigd ${[...(ours.get(type)!.get(key) ?? [])]}`),
    ),
  );
}

/** Members a file writes with another HDF5 type or dataspace than the reference gives them (optional members aside). */
export function typedDifferently(ours: Layout, reference: Layout): string[] {
  return [...ours.keys()].filter((t) => reference.has(t)).flatMap((type) =>
    [...ours.get(type)!].flatMap(([key, sigs]) => {
      const ref = reference.get(type)!.get(key);
      return ref ? [...sigs].filter((sig) => !ref.has(sig)).map((sig) => `${type} ${key}: reference ${[...ref]}, rigd ${sig}`) : [];
    }),
  );
}

export const referenceFile = () => new URL("../fixtures/reference.nwb", import.meta.url).pathname;
