// Files that ship beside the code (spec/, web/), found from src/ (run with tsx) and dist/src/ (built) alike.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * `relative` (e.g. "web/index.html") in the nearest folder above the module whose import.meta.url is `base`
 * that holds it, as an absolute path. Throws, naming it, when no folder above holds it (a broken install).
 */
export function projectFile(base: string, relative: string): string {
  let dir = dirname(fileURLToPath(base));
  while (!existsSync(join(dir, relative))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`rigd: ${relative} not found above ${fileURLToPath(base)}`);
    dir = up;
  }
  return join(dir, relative);
}
