// Runs a zod schema over parsed YAML and turns its issues into problems a user can act on: each says what
// was expected and what was found, and an unknown key comes with the key that was probably meant.
import { z } from "zod";
import { closest, describeFound, type ConfigPath, type Problem } from "./errors.js";

export type Validated<T> = { ok: true; value: T } | { ok: false; problems: Problem[] };

export function validate<S extends z.ZodType>(schema: S, data: unknown): Validated<z.output<S>> {
  const result = schema.safeParse(data, { error: expectation });
  if (result.success) return { ok: true, value: result.data };
  const problems = result.error.issues.flatMap((issue): Problem[] => {
    const path = issue.path as (string | number)[];
    if (issue.code === "unrecognized_keys") {
      const known = knownKeys(schema, path, data);
      return issue.keys.map((key) => ({ path: [...path, key], at: "key", message: unknownKey(key, known) }));
    }
    return [{ path, message: `${issue.message}, found ${describeFound(valueAt(data, path))}` }];
  });
  return { ok: false, problems };
}

/** Keys a planar and a volumetric series' `analysis:` take in turn: found in the other, they say so rather than guess a typo. */
const OTHER_KIND: Record<string, { of: string; here: string[]; instead: string }> = {
  voxel_mask: { of: "a volumetric series' ROI", here: ["pixel_mask", "image_mask"], instead: "a planar series' ROI takes pixel_mask or image_mask" },
  volume_mask: { of: "a volumetric series' ROI", here: ["pixel_mask", "image_mask"], instead: "a planar series' ROI takes pixel_mask or image_mask" },
  pixel_mask: { of: "a planar series' ROI", here: ["voxel_mask", "volume_mask"], instead: "a volumetric series' ROI takes voxel_mask [x, y, z, weight] or volume_mask" },
  image_mask: { of: "a planar series' ROI", here: ["voxel_mask", "volume_mask"], instead: "a volumetric series' ROI takes voxel_mask [x, y, z, weight] or volume_mask" },
  reference_image: { of: "a planar series' motion", here: ["reference_s"], instead: "each depth plane of a volume builds its own reference from its first reference_s seconds" },
};

function unknownKey(key: string, known: string[]): string {
  const other = OTHER_KIND[key];
  if (other && other.here.every((k) => known.includes(k))) return `unknown key ${JSON.stringify(key)} here: that is for ${other.of}; ${other.instead}`;
  const meant = closest(key, known);
  if (meant !== undefined) return `unknown key ${JSON.stringify(key)}, did you mean ${JSON.stringify(meant)}?`;
  return known.length ? `unknown key ${JSON.stringify(key)}; expected one of ${known.join(", ")}` : `unknown key ${JSON.stringify(key)}`;
}

const TYPE_NAMES: Record<string, string> = {
  string: "text",
  number: "a number",
  int: "a whole number",
  boolean: "true or false",
  object: "a mapping",
  array: "a list",
  tuple: "a list",
};

/** The "expected …" half of a message, for issues whose schema does not say it itself. */
function expectation(issue: z.core.$ZodRawIssue): string {
  switch (issue.code) {
    case "invalid_type":
      return `expected ${TYPE_NAMES[issue.expected] ?? issue.expected}`;
    case "invalid_value":
      return `expected ${issue.values.length === 1 ? "" : "one of "}${issue.values.map((v) => JSON.stringify(v)).join(", ")}`;
    case "invalid_union": {
      const { options } = issue as { options?: unknown[] };
      return options ? `expected one of ${options.map((v) => JSON.stringify(v)).join(", ")}` : "expected one of the allowed forms";
    }
    case "too_small":
      return issue.origin === "array" ? `expected at least ${issue.minimum} items` : `expected at least ${issue.minimum}`;
    case "too_big":
      return issue.origin === "array" ? `expected at most ${issue.maximum} items` : `expected at most ${issue.maximum}`;
    default:
      return `expected a valid value (${issue.code})`;
  }
}

export function valueAt(data: unknown, path: ConfigPath): unknown {
  let value = data;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return undefined;
    value = (value as Record<string | number, unknown>)[segment];
  }
  return value;
}

/** The keys the schema allows for the mapping at `path`, following discriminated unions by the data. */
function knownKeys(schema: z.ZodType, path: ConfigPath, data: unknown): string[] {
  let current: z.ZodType | undefined = schema;
  for (let i = 0; i <= path.length && current; i++) {
    current = unwrap(current, valueAt(data, path.slice(0, i)));
    if (i === path.length) break;
    const segment = path[i]!;
    if (current instanceof z.ZodObject) current = current.shape[segment] as z.ZodType | undefined;
    else if (current instanceof z.ZodArray) current = current.element as z.ZodType;
    else if (current instanceof z.ZodTuple && typeof segment === "number") current = current.def.items[segment] as z.ZodType | undefined;
    else current = undefined;
  }
  return current instanceof z.ZodObject ? Object.keys(current.shape) : [];
}

function unwrap(schema: z.ZodType, value: unknown): z.ZodType | undefined {
  let current: z.ZodType | undefined = schema;
  for (;;) {
    if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodDiscriminatedUnion) {
      const discriminator: string = current.def.discriminator;
      const tag = valueAt(value, [discriminator]);
      current = (current.options as z.ZodType[]).find(
        (option) => option instanceof z.ZodObject && (option.shape[discriminator] as z.ZodLiteral).values.has(tag as z.core.util.Literal),
      );
    } else {
      return current;
    }
  }
}
