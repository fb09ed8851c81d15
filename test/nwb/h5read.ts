// Reading files back with h5wasm, independently of the writer's code.
import h5wasm from "h5wasm/node";
import type { Dataset, Group } from "h5wasm/node";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";

export type { Dataset, Group };

export async function openRead(path: string): Promise<InstanceType<typeof h5wasm.File>> {
  await h5wasm.ready;
  if (!existsSync(path)) throw new Error(`no file at ${path}`); // h5wasm would only say "name not defined" later
  return new h5wasm.File(path, "r");
}

// Recordings are hundreds of MB: each test file removes its own when it is done.
const made: string[] = [];
afterAll(() => {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A new empty directory, removed after the test file. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "rigd-"));
  made.push(dir);
  return dir;
}

/** A path for a file `name` in a new directory, removed after the test file. */
export const tempPath = (name: string) => join(tempDir(), name);

export function dataset(f: Group, path: string): Dataset {
  const ds = f.get(path);
  if (!ds || !(ds instanceof h5wasm.Dataset)) throw new Error(`no dataset at ${path}`);
  return ds;
}

export function attr(f: Group, path: string, name: string): unknown {
  const obj = f.get(path) as Group | Dataset | null;
  if (!obj) throw new Error(`nothing at ${path}`);
  return obj.attrs[name]?.value;
}
