// Thousands of mutated profiles and session files — keys deleted, retyped, duplicated or misspelt, lines
// moved, files cut short, random bytes — each must end in a valid result or in structured errors, never
// in an exception or a hang. Seeded, so a failure names an iteration that reproduces it.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseRigProfile, parseSessionFile, type Checked } from "../../src/config/index.js";

/** Far above the few ms a mutated profile takes: only a hang (or a pathological slowdown) reaches it. */
const BUDGET_PER_FILE_MS = 500;

/** mulberry32: small, fast and good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const VALUES = [
  "[]", "{}", '""', "-1", "0", "1e309", "-.inf", ".nan", "~", "true", "yes", '"text"', "[1, 2, 3]", "{a: 1}",
  "*anchor", "&anchor value", "!!binary AAAA", "!custom x", "'unterminated", "[", "{", "|", ">-", "0x10",
  "99999999999999999999", "x".repeat(5000), "tcp://:0", "- a", "? k", "@", "`", "%YAML 1.2",
];
const SPECIALS = [":", "-", "[", "]", "{", "}", "#", "&", "*", "!", "|", ">", "'", '"', "%", "@", "`", "\t", "\n", " ", ",", "?"];

type Mutation = (text: string, random: () => number) => string | Uint8Array;

const pick = <T>(items: readonly T[], random: () => number): T => items[Math.floor(random() * items.length)]!;
const lineIndex = (lines: string[], random: () => number) => Math.floor(random() * lines.length);
const onLines = (change: (lines: string[], i: number, random: () => number) => void): Mutation => (text, random) => {
  const lines = text.split("\n");
  change(lines, lineIndex(lines, random), random);
  return lines.join("\n");
};

const MUTATIONS: Record<string, Mutation> = {
  deleteLine: onLines((lines, i) => lines.splice(i, 1)),
  duplicateLine: onLines((lines, i) => lines.splice(i, 0, lines[i]!)),
  retypeValue: onLines((lines, i, random) => {
    lines[i] = lines[i]!.replace(/:( .*)?$/, `: ${pick(VALUES, random)}`);
  }),
  misspellKey: onLines((lines, i, random) => {
    lines[i] = lines[i]!.replace(/[a-z_]+(?=:)/, (key) => {
      const at = Math.floor(random() * key.length);
      return key.slice(0, at) + pick(["", "x", "_", key[at + 1] ?? "", "A"], random) + key.slice(at + 1);
    });
  }),
  reindent: onLines((lines, i, random) => {
    lines[i] = pick(["", " ", "  ", "\t", "      "], random) + lines[i]!.trimStart();
  }),
  swapLines: onLines((lines, i, random) => {
    const j = lineIndex(lines, random);
    [lines[i], lines[j]] = [lines[j]!, lines[i]!];
  }),
  special: (text, random) => {
    const at = Math.floor(random() * text.length);
    return text.slice(0, at) + pick(SPECIALS, random) + text.slice(at + 1);
  },
  truncate: (text, random) => text.slice(0, Math.floor(random() * text.length)),
  randomBytes: (text, random) => {
    const bytes = new TextEncoder().encode(text);
    const at = Math.floor(random() * bytes.length);
    const noise = Uint8Array.from({ length: 1 + Math.floor(random() * 16) }, () => Math.floor(random() * 256));
    return Uint8Array.from([...bytes.subarray(0, at), ...noise, ...bytes.subarray(at)]);
  },
};

/** What must hold of any result: valid, or errors that each say where and what. */
function structuralProblem(result: Checked<unknown>, lineCount: number): string | undefined {
  if (result.ok) return result.value === undefined ? "valid but without a value" : undefined;
  if (result.errors.length === 0) return "invalid without errors";
  for (const e of result.errors) {
    if (e.source !== "fuzz.yaml" || typeof e.path !== "string" || typeof e.message !== "string" || e.message.length === 0) {
      return `malformed error ${JSON.stringify(e)}`;
    }
    if (e.line !== undefined && !(Number.isInteger(e.line) && e.line >= 1 && e.line <= lineCount && Number.isInteger(e.col) && e.col! >= 1)) {
      return `error outside the file: ${JSON.stringify(e)}`;
    }
  }
  return undefined;
}

// Most iterations on the smallest profile, which has every section: parsing YAML is what takes the time.
const targets = [
  { file: "test/config/fixtures/minimal.yaml", iterations: 2000, parse: parseRigProfile },
  { file: "profiles/sim-2p.yaml", iterations: 500, parse: parseRigProfile },
  { file: "profiles/sim-multiplane.yaml", iterations: 300, parse: parseRigProfile },
  { file: "profiles/sim-lightsheet.yaml", iterations: 500, parse: parseRigProfile },
  { file: "profiles/rig-2p-hardware.yaml", iterations: 300, parse: parseRigProfile },
  { file: "test/config/fixtures/session.yaml", iterations: 1000, parse: parseSessionFile },
];

describe("fuzzed config files", () => {
  targets.forEach(({ file, iterations, parse }, fileIndex) => {
    it(`${file}: ${iterations} mutations end in a result or structured errors`, () => {
      const original = readFileSync(file, "utf8");
      const random = prng(0x5eed + fileIndex);
      const names = Object.keys(MUTATIONS);
      const failures: string[] = [];
      const outcomes = { valid: 0, invalid: 0 };
      let slowest = 0;
      for (let iteration = 0; iteration < iterations && failures.length < 5; iteration++) {
        let input: string | Uint8Array = original;
        const applied: string[] = [];
        for (let n = 1 + Math.floor(random() * 3); n > 0; n--) {
          const name = pick(names, random);
          applied.push(name);
          const text = typeof input === "string" ? input : new TextDecoder().decode(input);
          input = MUTATIONS[name]!(text, random);
        }
        const lineCount = (typeof input === "string" ? input : new TextDecoder().decode(input)).split("\n").length;
        const started = performance.now();
        try {
          const result = parse(input, "fuzz.yaml");
          const problem = structuralProblem(result, lineCount);
          if (problem) failures.push(`iteration ${iteration} (${applied.join(", ")}): ${problem}`);
          outcomes[result.ok ? "valid" : "invalid"]++;
        } catch (error) {
          failures.push(`iteration ${iteration} (${applied.join(", ")}): threw ${(error as Error).stack}`);
        }
        slowest = Math.max(slowest, performance.now() - started);
      }
      expect(failures).toEqual([]);
      expect(slowest).toBeLessThan(BUDGET_PER_FILE_MS);
      // Both outcomes occur: the mutations neither always break the file nor never do.
      expect(outcomes.valid).toBeGreaterThan(0);
      expect(outcomes.invalid).toBeGreaterThan(iterations / 2);
    });
  });
});
