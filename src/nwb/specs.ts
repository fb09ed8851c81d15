// The five namespaces every rigd file caches in /specifications, read from the project's spec/ folder
// exactly as pynwb stores them (see spec/README.md for their upstream versions).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { projectFile } from "../project-files.js";

export interface CachedNamespace {
  name: string;
  version: string;
  /** Source name (file name without .json) → the JSON text pynwb caches. */
  sources: Map<string, string>;
}

export const NAMESPACE_VERSIONS = {
  core: "2.7.0",
  "hdmf-common": "1.8.0",
  "hdmf-experimental": "0.5.0",
  "ndx-ophys-devices": "0.2.0",
  "ndx-microscopy": "0.3.0",
} as const;

let cache: CachedNamespace[] | undefined;

export function cachedNamespaces(): CachedNamespace[] {
  if (cache) return cache;
  const root = projectFile(import.meta.url, "spec/as-cached-by-pynwb");
  cache = Object.entries(NAMESPACE_VERSIONS).map(([name, version]) => {
    const dir = join(root, name, version);
    const sources = new Map<string, string>();
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".json")).sort()) {
      const textOf = readFileSync(join(dir, file), "utf8");
      JSON.parse(textOf); // a corrupt spec must fail here, not in a reader years later
      sources.set(file.slice(0, -".json".length), textOf);
    }
    return { name, version, sources };
  });
  return cache;
}
