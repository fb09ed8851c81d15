// The Python that tests of the Python examples and of h5py's reading use: the first python3 on PATH that imports
// what a test needs (a pyenv shim may come before Debian's, which has the packages .ci/run installs). Without one,
// those tests are reported skipped with the reason in their names, never passed.
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";

export interface Python {
  /** The interpreter to run, or undefined: the tests that need it skip. */
  path: string | undefined;
  /** Appended to the names of the tests that need it: empty, or why they are skipped. */
  skipNote: string;
}

export function findPython(modules: readonly string[]): Python {
  const candidates = (process.env.PATH ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, "python3"));
  const found = candidates.filter((p) => {
    try {
      accessSync(p, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
  const path = found.find((p) => spawnSync(p, ["-c", `import ${modules.join(", ")}`], { stdio: "ignore" }).status === 0);
  if (path) return { path, skipNote: "" };
  // Debian's package for each module, where its name is not python3-<module>.
  const packages = modules.map((m) => ({ ensurepip: "python3-venv" })[m] ?? `python3-${m}`);
  const why = found.length === 0 ? "no python3 on PATH" : `no python3 on PATH (${found.join(", ")}) imports ${modules.join(", ")}`;
  return { path: undefined, skipNote: skipped(`${why}; apt-get install ${packages.join(" ")} (.ci/run does)`) };
}

/**
 * A test's skip note: " [skipped: why]". Where RIGD_TESTS_REQUIRE_ALL is set (.ci/run sets it), a missing
 * requirement is an error instead, so a CI machine that lost a package fails rather than skipping quietly.
 */
export function skipped(why: string): string {
  if (process.env["RIGD_TESTS_REQUIRE_ALL"]) throw new Error(`RIGD_TESTS_REQUIRE_ALL is set, and a test needs what is missing: ${why}`);
  return ` [skipped: ${why}]`;
}
