// The corpus of broken profiles: each file says, in its "# expect:" lines, every error rigd must report
// for it — position, path and message, exactly and in order.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { formatConfigError, loadRigProfile } from "../../src/config/index.js";

const directory = "test/config/broken";
const files = readdirSync(directory).filter((f) => f.endsWith(".yaml")).sort();

describe("broken profiles", () => {
  it("are at least 30", () => {
    expect(files.length).toBeGreaterThanOrEqual(30);
  });

  for (const name of files) {
    it(name, async () => {
      const file = join(directory, name);
      const expected = readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.startsWith("# expect: "))
        .map((line) => `${file}:${line.slice("# expect: ".length)}`);
      expect(expected.length).toBeGreaterThan(0);
      const result = await loadRigProfile(file);
      expect(result.ok ? [] : result.errors.map(formatConfigError)).toEqual(expected);
    });
  }
});
