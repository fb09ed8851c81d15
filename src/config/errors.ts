// Errors a user can act on: where (file:line:col), which value (its path in the file), what was
// expected and what was found.

/** A path into a config file as zod and the YAML document both spell it: mapping keys and list indices. */
export type ConfigPath = readonly (string | number)[];

export interface ConfigError {
  /** The file the value came from, or "command line". */
  source: string;
  /** 1-based; absent when the error concerns the file as a whole or a value that came from no file. */
  line?: number;
  col?: number;
  /** e.g. `rig.excitation_sources[0].wavelength_range_in_nm`; empty for the document as a whole. */
  path: string;
  message: string;
}

/** Problems found in a parsed document, before they are given a position. */
export interface Problem {
  path: ConfigPath;
  message: string;
  /** Point at the key rather than at its value (unknown keys). */
  at?: "key";
}

export type Checked<T> = { ok: true; value: T } | { ok: false; errors: ConfigError[] };

export function formatConfigError(e: ConfigError): string {
  const where = e.line === undefined ? e.source : `${e.source}:${e.line}:${e.col}`;
  return e.path ? `${where}: ${e.path}: ${e.message}` : `${where}: ${e.message}`;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function formatPath(path: ConfigPath): string {
  return path
    .map((segment, i) => {
      if (typeof segment === "number") return `[${segment}]`;
      if (IDENTIFIER.test(segment)) return i === 0 ? segment : `.${segment}`;
      return `[${JSON.stringify(segment)}]`;
    })
    .join("");
}

const MAX_SHOWN_TEXT = 40;
const MAX_INLINE_LIST = 60;

/** A value as the user wrote it, short enough for one line of an error message. */
export function describeFound(value: unknown): string {
  if (value === undefined) return "nothing (the key is missing)";
  if (value === null) return "an empty value";
  if (Array.isArray(value)) {
    if (value.every(isScalar)) {
      const inline = `[${value.map(inlineScalar).join(", ")}]`;
      if (inline.length <= MAX_INLINE_LIST) return inline;
    }
    return value.length === 1 ? "a list of 1 item" : `a list of ${value.length} items`;
  }
  if (isScalar(value)) return inlineScalar(value);
  return Object.keys(value).length === 0 ? "{}" : "a mapping";
}

type Scalar = string | number | boolean | null;

function isScalar(value: unknown): value is Scalar {
  return value === null || ["string", "number", "boolean"].includes(typeof value);
}

/** YAML spellings, so that what the message shows is what the user can type. */
function inlineScalar(value: Scalar): string {
  if (typeof value === "string") {
    return JSON.stringify(value.length > MAX_SHOWN_TEXT ? `${value.slice(0, MAX_SHOWN_TEXT)}…` : value);
  }
  if (typeof value === "number" && !Number.isFinite(value)) return Number.isNaN(value) ? ".nan" : value > 0 ? ".inf" : "-.inf";
  return String(value);
}

/** The candidate a typo most likely meant, if one is close enough to suggest. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  const typo = word.toLowerCase();
  // A third of the word may be wrong, at least two letters: "wavelenght" → "wavelength", "nme" → "name".
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1;
  let best: string | undefined;
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    if (Math.abs(c.length - typo.length) >= bestDistance) continue;
    const distance = editDistance(typo, c);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** Levenshtein distance, counting a swap of two neighbouring letters as one edit. */
function editDistance(a: string, b: string): number {
  let before = Array.from({ length: b.length + 1 }, (_, j) => j);
  let previous = before;
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let d = Math.min(previous[j]! + 1, row[j - 1]! + 1, previous[j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1);
      row.push(d);
    }
    [before, previous] = [previous, row];
  }
  return previous[b.length]!;
}

/** `"a", "b" or "c"` — for the names a reference may take. */
export function listOfNames(names: readonly string[], max = 8): string {
  const quoted = names.slice(0, max).map((n) => JSON.stringify(n));
  if (names.length > max) return `${quoted.join(", ")}, …`;
  return quoted.length <= 1 ? quoted.join("") : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}
