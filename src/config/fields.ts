// Building blocks of the profile and session schemas. Every message here says what a valid value looks
// like ("expected …"); the loader adds ", found <the value as written>". Bounds are physical plausibility:
// a value outside them is a typo or a wrong unit (92 nm, a 2 mm pixel), so it is an error.
import { z } from "zod";

export const text = z.string({ error: "expected text" }).min(1, { error: "expected non-empty text" });

export const flag = z.boolean({ error: "expected true or false" });

const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_]*$/;
/** Names of things in a profile: NWB object names and the references to them. */
export const name = z
  .string({ error: "expected a name: letters, digits and underscores, starting with a letter" })
  .regex(NAME_PATTERN, { error: "expected a name: letters, digits and underscores, starting with a letter" });

/** Device models are named as their makers write them ("Mai Tai DeepSee", "H10770PA-40"), as NWB's DeviceModel asks. */
export const modelName = z
  .string({ error: "expected a model name such as \"Mai Tai DeepSee\"" })
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9 ._+()-]*[A-Za-z0-9)])?$/, {
    error: "expected a model name such as \"Mai Tai DeepSee\": letters, digits, spaces and . _ + - ( )",
  });

/** A number from min to max, in the unit the field's name states. */
export function within(min: number, max: number, what: string) {
  const error = `expected ${what} from ${min} to ${max}`;
  return z.number({ error }).min(min, { error }).max(max, { error });
}

/** A whole number from min to max. */
export function wholeWithin(min: number, max: number, what: string) {
  const error = `expected ${what}: a whole number from ${min} to ${max}`;
  return z.number({ error }).int({ error }).min(min, { error }).max(max, { error });
}

/** A non-negative number with no useful upper bound (peak powers, intensities). */
export function nonNegative(what: string) {
  const error = `expected ${what}, 0 or more`;
  return z.number({ error }).min(0, { error });
}

/** Ultraviolet to mid-infrared: everything from a deep-UV PMT's range to a three-photon laser. */
export const wavelength = within(150, 3000, "a wavelength in nm");

export const wavelengthRange = z
  .tuple([wavelength, wavelength], { error: "expected [min, max] in nm" })
  .refine(([min, max]) => min < max, { error: "expected [min, max] in nm with min < max" });

/** [x, y] or [x, y, z] of equal kind, e.g. a pixel size. */
export function vector<T extends z.ZodType>(axes: 2 | 3, element: T, what: string) {
  const error = `expected ${axes === 2 ? "[x, y]" : "[x, y, z]"} ${what}`;
  const items = Array.from({ length: axes }, () => element) as [T, T] | [T, T, T];
  return z.tuple(items, { error });
}

export const pixelSize = within(0.01, 100, "a size in µm");
export const pixelCount = wholeWithin(1, 65536, "a number of pixels");
