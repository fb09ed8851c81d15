// Files that are not profiles at all — huge, binary, deeply nested, alias bombs — end in a clear error,
// quickly, and never in an exception or a hang.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatConfigError, loadRigProfile, MAX_CONFIG_BYTES, parseRigProfile } from "../../src/config/index.js";

/** The errors of an in-memory profile, and how long finding them took. */
function check(input: string | Uint8Array): { errors: string[]; ms: number } {
  const started = performance.now();
  const result = parseRigProfile(input, "x.yaml");
  return { errors: result.ok ? [] : result.errors.map(formatConfigError), ms: performance.now() - started };
}

const BUDGET_MS = 1000;

describe("malformed files", () => {
  const directory = mkdtempSync(join(tmpdir(), "rigd-config-"));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it("refuses a 50 MB file without reading it", async () => {
    const file = join(directory, "huge.yaml");
    const fd = openSync(file, "w");
    ftruncateSync(fd, 50 * 1024 * 1024); // sparse: the test writes nothing
    closeSync(fd);
    const result = await loadRigProfile(file);
    expect(result.ok ? [] : result.errors.map(formatConfigError)).toEqual([`${file}: expected a file of at most 128 KiB, found 52428800 bytes`]);
  });

  it("refuses a profile just over the limit given in memory", () => {
    expect(check(new Uint8Array(MAX_CONFIG_BYTES + 1).fill(0x20)).errors).toEqual([
      `x.yaml: expected a file of at most 128 KiB, found ${MAX_CONFIG_BYTES + 1} bytes`,
    ]);
  });

  it("stops a billion-laughs alias bomb before it expands", () => {
    const levels = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"];
    for (let i = 1; i < 9; i++) {
      const [name, previous] = [String.fromCharCode(97 + i), String.fromCharCode(96 + i)];
      levels.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(", ")}]`);
    }
    const { errors, ms } = check(levels.join("\n"));
    expect(errors).toEqual(["x.yaml:2:8: b[0]: expected aliases that expand at most 100 times, found more (an alias bomb?)"]);
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  it("rejects a self-referring alias", () => {
    expect(check("rig: &r\n  microscope: *r\n").errors).toEqual([
      "x.yaml:2:15: rig.microscope: expected an alias outside the node it refers to, found *r inside &r",
    ]);
  });

  it("says that binary data is not text", () => {
    // A PNG header: not UTF-8 from its second byte.
    expect(check(Uint8Array.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0])).errors).toEqual([
      "x.yaml:1:1: expected UTF-8 text, found bytes that are not UTF-8 (is this a binary file?)",
    ]);
    expect(check("rig:\n  description: a\u0000b\n").errors).toEqual([
      "x.yaml:2:17: expected text, found the control character U+0000 (is this a binary file?)",
    ]);
  });

  for (const [what, text, position] of [
    ["flow lists", `rig: ${"[".repeat(100_000)}`, "1:70"],
    ["flow mappings", `rig: ${"{".repeat(100_000)}`, "1:70"],
    ["lists on one line", `${"- ".repeat(60_000)}x`, "1:129"],
  ] as const) {
    it(`refuses ${what} nested tens of thousands deep, quickly`, () => {
      const { errors, ms } = check(text);
      expect(errors).toEqual([`x.yaml:${position}: expected at most 64 levels of nesting, found more`]);
      expect(ms).toBeLessThan(BUDGET_MS);
    });
  }

  it("copes with a 120 kB line", () => {
    const { errors, ms } = check(`rig:\n  description: ${"a".repeat(120_000)}\n`);
    expect(errors).toContain("x.yaml:1:1: channels: expected a list, found nothing (the key is missing)");
    expect(ms).toBeLessThan(BUDGET_MS);
  });

  it("says what a profile is when the file is empty or a lone scalar", () => {
    const expected = (found: string) => [
      `x.yaml:1:1: expected a rig profile: a mapping with rig, channels, imaging_spaces, recording, bindings and writer, found ${found}`,
    ];
    expect(check("").errors).toEqual(expected("an empty value"));
    expect(check("just some words").errors).toEqual(expected('"just some words"'));
    expect(check("42").errors).toEqual(expected("42"));
  });

  it("refuses a directory", async () => {
    const result = await loadRigProfile(directory);
    expect(result.ok ? [] : result.errors.map(formatConfigError)).toEqual([`${directory}: expected a YAML file, found a directory or a device`]);
  });

  it("caps the errors of one file at 50", () => {
    const channels = Array.from({ length: 80 }, (_, i) => `  - colour${i}: green`).join("\n");
    const { errors } = check(`channels:\n${channels}\n`);
    expect(errors).toHaveLength(51);
    expect(errors.at(-1)).toMatch(/^x\.yaml: \d+ more errors not shown$/);
  });

  // yaml itself reports a quote or bracket left open where it gives up: the end of the file, or the next
  // line that is indented less. Each case edits one line in the middle of the shipped sim-2p profile.
  describe("a quote or bracket left open is reported where it opens", () => {
    const shipped = readFileSync("profiles/sim-2p.yaml", "utf8");
    const closing = (quote: string) => `invalid YAML: expected a closing ${quote} for the string that starts here, found none`;
    for (const [what, from, to, expected] of [
      ["a double quote", "  description: Resonant-galvo", '  description: "Resonant-galvo', [`x.yaml:9:16: rig.description: ${closing('"')}`]],
      ["a single quote", "      description: Water-immersion objective", "      description: 'Water-immersion objective", [`x.yaml:57:20: rig.models[6].description: ${closing("'")}`]],
      // The lexer pairs it with the next quote in the file, 9 lines on, unless a less indented line comes first.
      ["a double quote with quoted strings after it", "      manufacturer: Semrock\n      model_number: FF562-Di03-25x36", '      manufacturer: "Semrock\n      model_number: "FF562-Di03-25x36"', [`x.yaml:30:21: rig.models[2].manufacturer: ${closing('"')}`]],
      ["a quote inside a list", "      wavelength_range_in_nm: [690, 1040]", '      wavelength_range_in_nm: [690, "1040]', [`x.yaml:26:37: rig.models[1].wavelength_range_in_nm[1]: ${closing('"')}`]],
      ["a list", "    dimensions_in_pixels: [512, 512]", "    dimensions_in_pixels: [512, 512", ["x.yaml:131:27: imaging_spaces[0].dimensions_in_pixels: invalid YAML: expected a ] to close the list that starts here, found none"]],
      ["a mapping", "    pixel_size_in_um: [1.0, 1.0]", "    pixel_size_in_um: {x: 1.0, y: 1.0", ["x.yaml:130:23: imaging_spaces[0].pixel_size_in_um: invalid YAML: expected a } to close the mapping that starts here, found none"]],
      ["a list closed by the wrong bracket", "      injection_coordinates_in_mm: [-3.8, 2.5, -0.3]", "      injection_coordinates_in_mm: {a: [-3.8, 2.5, -0.3}", ["x.yaml:95:40: rig.indicators[0].injection_coordinates_in_mm.a: invalid YAML: expected a ] to close the list that starts here, found }"]],
    ] as const) {
      it(`${what}: at its line and column`, () => {
        expect(shipped.split(from)).toHaveLength(2); // the line to break is in the file, once
        expect(check(shipped.replace(from, to)).errors).toEqual(expected);
      });
    }
  });
});
